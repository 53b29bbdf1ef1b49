import type { Check } from '../types.js';
import { NAMESPACE_CHECKS } from './cis/namespaces.js';
import { RBAC_CHECKS } from './cis/rbac.js';
import { WORKLOAD_CHECKS } from './cis/workload.js';

export { CIS_BENCHMARK, CIS_CONTROLS, type CisControl } from './cis/controls.js';

/**
 * CIS Kubernetes Benchmark section 5 controls that API objects decide (docs/policy/cis.md lists the
 * others and why): RBAC and service accounts (5.1), the namespaces' Pod Security admission (5.2),
 * network policies (5.3.2), secrets in environment variables (5.4.1), seccomp, security contexts and
 * the default namespace (5.7). Ids are `cis.<control>`, metadata from the catalogue (cis/controls.ts).
 */
export const CIS_CHECKS: readonly Check[] = [...RBAC_CHECKS, ...NAMESPACE_CHECKS, ...WORKLOAD_CHECKS].sort(
  (a, b) => compareIds(a.id, b.id),
);

function compareIds(a: string, b: string): number {
  const pa = a.split('.').slice(1).map(Number);
  const pb = b.split('.').slice(1).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}
