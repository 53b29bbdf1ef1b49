import type { Check } from '../types.js';

// placeholder until the family lands
export const DEFENDER_CHECKS: readonly Check[] = [];
