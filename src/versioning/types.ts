/** A version scheme compares two version strings of one packaging ecosystem. */
export interface VersionScheme {
  readonly name: string;
  /** -1 when a < b, 0 when equal, 1 when a > b. Never throws: invalid input compares by a documented fallback. */
  compare(a: string, b: string): -1 | 0 | 1;
  /** true when the string is a well-formed version of this scheme */
  valid(v: string): boolean;
}
