import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, MoatError } from '../errors.js';
import { log } from '../log.js';
import { defaultConfigDir } from '../util/dirs.js';
import { type ConfigValues, envName, OPTIONS } from './options.js';

export interface LoadedConfig {
  file?: string;
  values: ConfigValues;
}

/**
 * Finds and reads the config file: --config / MOAT_CONFIG (must exist), else ./moat.yaml (or .yml) in
 * the working directory, else moat.yaml in the user's config dir. Keys are option names (kebab-case).
 */
export async function loadConfig(explicit: string | undefined, cwd = process.cwd()): Promise<LoadedConfig> {
  const given = explicit ?? process.env[envName('config')];
  let file: string | undefined;
  if (given) {
    if (!existsSync(given)) throw new MoatError('CONFIG', `config file ${given}: not found`);
    file = given;
  } else {
    const candidates = [
      join(cwd, 'moat.yaml'),
      join(cwd, 'moat.yml'),
      join(defaultConfigDir(), 'moat.yaml'),
      join(defaultConfigDir(), 'moat.yml'),
    ];
    file = candidates.find((c) => existsSync(c));
  }
  if (!file) return { values: {} };
  // the YAML parser is loaded only when there is a file to read (start-up time matters for rescans)
  // yaml is CommonJS: its exports object is the default export, both in Node and in the esbuild bundle
  // (where the named exports of a lazily imported CommonJS chunk do not exist)
  const { parse } = (await import('yaml')).default;
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'), { maxAliasCount: 100 });
  } catch (e) {
    throw new MoatError('CONFIG', `config file ${file}: ${errorMessage(e).split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { file, values: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new MoatError('CONFIG', `config file ${file}: expected a mapping of option names to values`);
  }
  const values = doc as ConfigValues;
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(OPTIONS, key) || key === 'config')
      log.warn({ file, key }, 'unknown config key ignored');
  }
  return { file, values };
}
