import type { Check } from '../types.js';

// placeholder until the family lands
export const CIS_CHECKS: readonly Check[] = [];
