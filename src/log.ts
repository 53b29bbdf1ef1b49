/**
 * Structured logging to stderr. Messages are static strings; the details go in `fields`, so that log
 * lines group (STYLE.md). Engines log through this, never console.*; the CLI sets the level.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogFields = Record<string, unknown>;
export type LogSink = (level: LogLevel, msg: string, fields?: LogFields) => void;

let level: LogLevel = (process.env.MOAT_LOG_LEVEL as LogLevel | undefined) ?? 'warn';
let sink: LogSink = defaultSink;

function defaultSink(lvl: LogLevel, msg: string, fields?: LogFields): void {
  let line = `${lvl.toUpperCase()}\t${msg}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line += `\t${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    }
  }
  process.stderr.write(`${line}\n`);
}

export function setLogLevel(l: LogLevel): void {
  level = l;
}
export function getLogLevel(): LogLevel {
  return level;
}
export function setLogSink(s: LogSink | undefined): void {
  sink = s ?? defaultSink;
}

function emit(l: LogLevel, fieldsOrMsg: LogFields | string, msg?: string): void {
  if (ORDER[l] < ORDER[level]) return;
  if (typeof fieldsOrMsg === 'string') sink(l, fieldsOrMsg);
  else sink(l, msg ?? '', fieldsOrMsg);
}

export const log = {
  debug: (f: LogFields | string, m?: string) => emit('debug', f, m),
  info: (f: LogFields | string, m?: string) => emit('info', f, m),
  warn: (f: LogFields | string, m?: string) => emit('warn', f, m),
  error: (f: LogFields | string, m?: string) => emit('error', f, m),
};
