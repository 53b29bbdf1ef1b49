export * from './finding.js';
export * from './package.js';
export * from './progress.js';
export * from './result.js';
export * from './severity.js';
