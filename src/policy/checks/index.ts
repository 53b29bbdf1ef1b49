import type { Check } from '../types.js';
import { CIS_CHECKS } from './cis.js';
import { DEFENDER_CHECKS } from './defender.js';
import { PSS_CHECKS } from './pss.js';

/** Every built-in check. Adding a family means one import and one spread here. */
export const BUILTIN_CHECKS: readonly Check[] = [...PSS_CHECKS, ...DEFENDER_CHECKS, ...CIS_CHECKS];
