import type { ObjectCheck } from '../types.js';

// placeholder until the family lands (contract: see /work/notes/issue4 helper prompt)
export const PSS_CHECKS: readonly ObjectCheck[] = [];
/** newest PSS policy version known, as a minor number (v1.37 -> 37) */
export const PSS_LATEST = 37;
export type PssLevel = 'baseline' | 'restricted';
/** ids of the checks the Pod Security Standards run at a level and version (restricted includes baseline) */
export function pssCheckIds(_level: PssLevel, _version: number): string[] {
  return [];
}
