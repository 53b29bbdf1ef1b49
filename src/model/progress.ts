/** Progress events that long-running engines emit; renderers (progress bars) live in the CLI. */
export interface ProgressEvent {
  /** what is progressing */
  phase: 'download' | 'layer' | 'import' | 'match';
  /** which item (layer digest, ecosystem, file) */
  id: string;
  /** units done so far */
  done: number;
  /** total units, when known */
  total?: number;
  unit: 'bytes' | 'records' | 'items';
  /** set on the last event for this id */
  finished?: boolean;
}

export type ProgressFn = (e: ProgressEvent) => void;
