import type { Severity } from '../model/severity.js';

/**
 * The policy engine's contract. A check is data (id, title, severity, parameters...) plus one pure
 * function; the engine (engine.ts) decides which checks run on which objects, merges parameters and
 * effects from configuration, applies exemptions and the PSS level/version, and turns violations into
 * results. Both doors (`moat posture` and `moat admission serve`) call the same engine.
 */

/** What happens when a check finds a violation at admission; posture reports every enabled check. */
export const EFFECTS = ['audit', 'warn', 'deny', 'disabled'] as const;
export type Effect = (typeof EFFECTS)[number];

/** Check families; the first segment of a check id. */
export type CheckFamily = 'pss' | 'defender' | 'cis' | 'custom';

/** A Kubernetes object as parsed from YAML/JSON or received from the API server. */
export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: K8sMetadata;
  [key: string]: unknown;
}

export interface K8sMetadata {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  ownerReferences?: Array<{ apiVersion?: string; kind?: string; name?: string; controller?: boolean }>;
  [key: string]: unknown;
}

/** Where an object came from: a manifest file (with 1-based line of its document) or a cluster. */
export interface ObjectSource {
  file?: string;
  /** 1-based line of the document (or List item) start in `file` */
  line?: number;
  /** 0-based index of the YAML document in the file */
  document?: number;
  cluster?: string;
}

/** An object plus where it came from; what the engine evaluates. */
export interface SourcedObject {
  object: K8sObject;
  source: ObjectSource;
}

/** Identifies an affected resource in results. */
export interface ResourceRef {
  cluster?: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** for pod-spec checks: the container (init and ephemeral containers included) */
  container?: string;
  source?: ObjectSource;
}

/** One thing a check found wrong with one object. */
export interface Violation {
  /** human sentence, specific to the object, e.g. `container "app" sets securityContext.privileged=true` */
  message: string;
  /** the container the violation is about, if any */
  container?: string;
  /** dotted/indexed path into the object, e.g. `spec.template.spec.containers[0].securityContext.privileged` */
  path?: string;
  /** for cluster-scope checks: the object the violation is about (defaults to the evaluated object) */
  resource?: K8sObject;
  /** custom policies: audit annotations the policy produced (`<policy>/<key>` -> value) */
  auditAnnotations?: Record<string, string>;
  /** custom policies: the validation's reason (Unauthorized, Forbidden, Invalid, RequestEntityTooLarge) */
  reason?: string;
}

export type ParamType = 'string' | 'boolean' | 'number' | 'string-list' | 'number-list' | 'object';

export interface ParamSpec {
  name: string;
  type: ParamType;
  description: string;
  default: unknown;
}

/** The objects a check can look at besides the one it evaluates (CIS: bindings, namespaces, policies). */
export interface Inventory {
  /** every object of the assessment, in input order */
  readonly objects: readonly K8sObject[];
  /** objects of one kind (exact `kind`), in input order; empty array when none */
  byKind(kind: string): readonly K8sObject[];
}

/** Admission-time facts; absent in posture. */
export interface AdmissionFacts {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  oldObject?: K8sObject;
  userInfo?: { username?: string; groups?: string[] };
}

export interface CheckContext {
  /** the check's parameters: its defaults merged with configuration */
  params: Readonly<Record<string, unknown>>;
  /** Pod Security Standards version as a minor number (v1.30 -> 30); the newest when not chosen */
  pssVersion: number;
  inventory: Inventory;
  admission?: AdmissionFacts;
}

interface CheckBase {
  /** stable dotted id: `pss.baseline.privileged`, `defender.<assessment-key>`, `cis.5.1.1`, `custom.<name>` */
  id: string;
  family: CheckFamily;
  title: string;
  description: string;
  severity: Severity;
  remediation: string;
  /** grouping for reports, e.g. "Pod Security Standards (baseline)", "RBAC and service accounts" */
  category: string;
  /** kinds evaluated (exact `kind` values); POD_KINDS for pod-spec checks */
  kinds: readonly string[];
  parameters: readonly ParamSpec[];
  defaultEffect: Effect;
  /**
   * true when the defaults flag everything until the user configures the check (Defender's trusted
   * registries pattern); such a check stays disabled until configured
   */
  configurationRequired?: boolean;
  /** links and cross-references: Defender assessment key, Azure policy id, CIS id, Gatekeeper kinds... */
  references?: Readonly<Record<string, string | readonly string[]>>;
}

/** Evaluates one object at a time (every pod-spec check, Service checks, RBAC role checks...). */
export interface ObjectCheck extends CheckBase {
  scope: 'object';
  /**
   * kinds it looks up in `ctx.inventory` (a workload's ServiceAccount, a binding's Role); a check that
   * reads the inventory must name them: posture's worker threads give each other whole objects of these
   * kinds only (src/posture/shard.ts)
   */
  reads?: readonly string[];
  evaluate(object: K8sObject, ctx: CheckContext): Violation[];
}

/**
 * Evaluates the whole inventory once (e.g. "namespaces without a NetworkPolicy"); each violation names
 * its `resource`. Skipped at admission, where there is no inventory.
 */
export interface ClusterCheck extends CheckBase {
  scope: 'cluster';
  /** other kinds it reads from the inventory (e.g. NetworkPolicy for "namespaces without one") */
  reads?: readonly string[];
  /**
   * true when it reads no more than apiVersion, kind and metadata of the objects in the inventory (the
   * namespaces in use, labels, names): posture's worker threads then send the main thread only those
   * fields of the objects they evaluate
   */
  metadataOnly?: boolean;
  evaluateCluster(ctx: CheckContext): Violation[];
}

export type Check = ObjectCheck | ClusterCheck;

/** Per-check configuration (from moat.yaml `policy.checks.<id>` or the CLI). */
export interface CheckConfig {
  effect?: Effect;
  params?: Record<string, unknown>;
}

/** One violation, resolved to its check and resource: what both doors report. */
export interface PolicyResult {
  checkId: string;
  severity: Severity;
  effect: Effect;
  message: string;
  resource: ResourceRef;
  path?: string;
  /** set when an exemption matched; exempted results are reported only on request */
  exemption?: { reason: string; expires?: string };
}
