export interface ProjectFile {
  /** path relative to the project root, as a scan sees it */
  path: string;
  abs: string;
}
export function packageName(i: number): string;
export function packageLock(bytes: number): { text: string; count: number };
export function manifest(i: number): string;
export function writeNodeProject(
  root: string,
  opts?: { packages?: number; lockBytes?: number },
): { manifests: ProjectFile[]; lock: ProjectFile; lockBytes: number; lockEntries: number };
