#!/usr/bin/env node
// The moat CLI: runs the bundled build in dist/bin/ (npm run build).
import { run } from '../dist/bin/main.js';

process.exitCode = await run(process.argv);
