import { homedir } from 'node:os';
import { join } from 'node:path';

/** The user's cache dir for moat: $XDG_CACHE_HOME/moat, else ~/.cache/moat. */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.cache'), 'moat');
}

/** The user's config dir for moat: $XDG_CONFIG_HOME/moat, else ~/.config/moat. */
export function defaultConfigDir(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.config'), 'moat');
}

export function defaultDbPath(cacheDir: string): string {
  return join(cacheDir, 'vulndb.sqlite');
}

/** Where moat keeps durable state (the audit write-ahead log): $XDG_DATA_HOME/moat, else ~/.local/share/moat. */
export function defaultDataDir(): string {
  const xdg = process.env.XDG_DATA_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.local', 'share'), 'moat');
}
