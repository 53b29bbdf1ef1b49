/**
 * `fn` remembered per string argument, in a map cleared when it holds `max` entries: for pure parsers
 * that hot loops call with few distinct values (a package version against many range events, a resource
 * quantity in thousands of workloads). Clearing all at once is cheaper than tracking recency and, since
 * the common values come back first, costs little. Undefined results are remembered too.
 */
export function boundedMemo<T>(fn: (key: string) => T, max = 4096): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as T;
    const value = fn(key);
    if (cache.size >= max) cache.clear();
    cache.set(key, value);
    return value;
  };
}
