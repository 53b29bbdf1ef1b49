/** A problem with an rpm database file or header: reported as a warning on that file, never a failed scan. */
export class RpmDbError extends Error {
  override name = 'RpmDbError';
}
