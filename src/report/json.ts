/** JSON report: the result model itself, versioned by `schemaVersion` (docs/json-schema.md). */
export function renderJson(result: unknown): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}
