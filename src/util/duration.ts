const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * "90s", "5m", "7d", "1h30m", or a bare number of seconds → milliseconds; undefined when `v` is not a
 * duration. One reader for the CLI's options and the detection rules' windows.
 */
export function parseDurationMs(v: string): number | undefined {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
    end = re.lastIndex;
  }
  return end === 0 || end !== s.length ? undefined : total;
}
