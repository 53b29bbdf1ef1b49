import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * A path shipped at the package root (data/rules, deploy/audit/audit-policy.yaml), found by walking up to
 * the directory holding package.json and that path: modules sit at different depths in src/, dist/ (tsc)
 * and dist/bin/ (the bundle). Undefined when the installation lacks it.
 */
export function packagePath(...segments: string[]): string | undefined {
  for (let dir = HERE; ; dir = dirname(dir)) {
    const candidate = join(dir, ...segments);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}
