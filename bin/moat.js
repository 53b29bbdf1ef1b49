#!/usr/bin/env node
// The moat CLI: runs the compiled code in dist/ (npm run build).
import { run } from '../dist/cli/main.js';

process.exitCode = await run(process.argv);
