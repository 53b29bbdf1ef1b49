import { log } from '../log.js';
import type { PolicyEngine } from '../policy/engine.js';
import { isObject } from '../policy/k8s.js';
import type { AdmissionFacts, Check, K8sObject, PolicyResult } from '../policy/types.js';
import { unchangedPodSpecUpdate } from '../policy/update.js';
import type { AdmissionMetrics } from './metrics.js';

/**
 * One AdmissionReview in, one out: the webhook's decision, independent of HTTP. The order is the one
 * STYLE.md asks for: validate the review, then an explicit, logged bypass step (excluded namespaces,
 * moat's own service account, configured users and groups), then the operations and kinds moat
 * evaluates, then the policy engine; effects map to the response as Pod Security admission's modes do
 * (deny → rejected, warn → `warnings`, audit → `auditAnnotations` and the audit record).
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#response
 */

/** The AdmissionReview versions accepted; the response echoes the request's. install registers v1 only. */
export const REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
type Operation = (typeof OPERATIONS)[number];

export interface AdmissionRequest {
  uid: string;
  kind: { group?: string; version?: string; kind: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: K8sObject | null;
  oldObject?: K8sObject | null;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** A request body that is not an AdmissionReview moat can answer: HTTP 400 with this reason. */
export class BadReviewError extends Error {
  override readonly name = 'BadReviewError';
}

export type BypassReason = 'namespace' | 'service-account' | 'user' | 'group';
export type SkipReason = 'operation' | 'subresource' | 'kind' | 'unchanged-pod-spec';

export interface BypassSettings {
  /** the namespace moat runs in: always bypassed, so a broken moat can always be fixed */
  namespace: string;
  /** moat's own service account name (bypassed as system:serviceaccount:<namespace>:<name>) */
  serviceAccount: string;
  /** further namespaces whose requests are allowed unexamined (default: kube-system) */
  excludedNamespaces?: readonly string[];
  users?: readonly string[];
  groups?: readonly string[];
}

/** One line of the audit sink: a persisted (not dry-run) request in which checks found violations. */
export interface AuditRecord {
  time: string;
  uid: string;
  allowed: boolean;
  operation: Operation;
  resource: { apiVersion: string; kind: string; namespace?: string; name: string };
  user?: string;
  violations: Array<{
    check: string;
    effect: PolicyResult['effect'];
    severity: PolicyResult['severity'];
    message: string;
    container?: string;
    path?: string;
  }>;
  exempted?: Array<{ check: string; message: string; reason: string }>;
}

export interface ReviewerOptions {
  bypass: BypassSettings;
  /** receives an AuditRecord for every persisted request with violations (JSON lines, see server.ts) */
  audit?: (record: AuditRecord) => void;
  metrics?: AdmissionMetrics;
}

export interface ReviewOutcome {
  review: AdmissionReview;
  outcome: 'allowed' | 'denied' | 'bypassed' | 'skipped';
  reason?: BypassReason | SkipReason;
}

// The API server keeps at most 4096 characters of warnings per request (from every source) and may cut
// each one at 256: stay within both, leaving room for other webhooks.
const WARNING_MAX = 256;
const WARNINGS_BUDGET = 3072;
const MESSAGE_MAX = 16_384;
const ANNOTATION_VALUE_MAX = 4096;

const annotationKeys = new Map<string, string>();

/**
 * The audit-annotation key for a check. The API server prefixes it with the webhook's name and a slash
 * and rejects the pair unless it is a qualified name, so the part after the slash must be at most 63
 * characters of [A-Za-z0-9._-], starting and ending alphanumeric.
 */
export function auditAnnotationKey(checkId: string): string {
  const cached = annotationKeys.get(checkId);
  if (cached !== undefined) return cached;
  let k = checkId.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63);
  k = k.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '') || 'violation';
  // check ids are few and fixed: remember each one's key
  if (annotationKeys.size < 10_000) annotationKeys.set(checkId, k);
  return k;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export class AdmissionReviewer {
  private readonly checks = new Map<string, Check>();
  private readonly kinds: Set<string>;
  private readonly excluded: Set<string>;
  private readonly users: Set<string>;
  private readonly groups: Set<string>;
  private readonly ownServiceAccount: string;

  constructor(
    private readonly engine: PolicyEngine,
    private readonly opts: ReviewerOptions,
  ) {
    for (const a of engine.active) this.checks.set(a.check.id, a.check);
    // cluster-scope checks need an inventory and do not run at admission
    this.kinds = new Set(
      engine.active.filter((a) => a.check.scope === 'object').flatMap((a) => a.check.kinds),
    );
    const b = opts.bypass;
    this.excluded = new Set([b.namespace, ...(b.excludedNamespaces ?? ['kube-system'])]);
    this.users = new Set(b.users ?? []);
    this.groups = new Set(b.groups ?? []);
    this.ownServiceAccount = `system:serviceaccount:${b.namespace}:${b.serviceAccount}`;
  }

  /** Kinds some object-scope check evaluates: what install registers the webhook for. */
  evaluatedKinds(): Set<string> {
    return new Set(this.kinds);
  }

  /** Parses and answers one AdmissionReview body; throws BadReviewError for a body moat cannot answer. */
  review(body: unknown): ReviewOutcome {
    const { apiVersion, request } = parseReview(body);
    const out = this.decide(request);
    const dryRun = request.dryRun === true;
    this.opts.metrics?.reviews.inc({ outcome: out.outcome, dry_run: dryRun ? 'true' : 'false' });
    return {
      review: { apiVersion, kind: 'AdmissionReview', response: out.response },
      outcome: out.outcome,
      ...(out.reason ? { reason: out.reason } : {}),
    };
  }

  private decide(req: AdmissionRequest): {
    response: AdmissionResponse;
    outcome: ReviewOutcome['outcome'];
    reason?: BypassReason | SkipReason;
  } {
    const allow: AdmissionResponse = { uid: req.uid, allowed: true };
    const bypass = this.bypassReason(req);
    if (bypass) {
      log.debug(
        { uid: req.uid, reason: bypass, namespace: req.namespace, user: req.userInfo?.username },
        'admission bypassed',
      );
      this.opts.metrics?.bypassed.inc({ reason: bypass });
      return { response: allow, outcome: 'bypassed', reason: bypass };
    }
    const skip = (reason: SkipReason) => {
      this.opts.metrics?.skipped.inc({ reason });
      return { response: allow, outcome: 'skipped' as const, reason };
    };
    if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return skip('operation');
    // ephemeral containers are added through a subresource and carry the whole Pod: evaluate them
    if (req.subResource && req.subResource !== 'ephemeralcontainers') return skip('subresource');
    const object = req.object;
    if (!isObject(object)) {
      throw new BadReviewError(`request.object: expected an object for ${req.operation}`);
    }
    const kind = typeof object.kind === 'string' ? object.kind : req.kind.kind;
    if (!this.kinds.has(kind)) return skip('kind');
    if (object.kind === undefined) object.kind = kind;
    // objects of a namespaced create may come without metadata.namespace: take the request's
    if (req.namespace) {
      if (!isObject(object.metadata)) object.metadata = {};
      if (!object.metadata.namespace) object.metadata.namespace = req.namespace;
    }
    const old = isObject(req.oldObject) ? req.oldObject : undefined;
    // as Pod Security admission: an UPDATE that leaves the pod spec as it was is not evaluated again
    if (req.operation === 'UPDATE' && unchangedPodSpecUpdate(object, old)) return skip('unchanged-pod-spec');

    const facts: AdmissionFacts = { operation: req.operation };
    if (old) facts.oldObject = old;
    if (req.userInfo) facts.userInfo = req.userInfo;
    const assessment = this.engine.review(object, facts);
    for (const e of assessment.errors) {
      log.warn({ uid: req.uid, check: e.checkId, reason: e.message }, 'check failed on an admission request');
      this.opts.metrics?.checkErrors.inc({ check: e.checkId });
    }
    const response = this.respond(req, object, assessment.results);
    const dryRun = req.dryRun === true;
    // a dry run changes nothing: same verdict, nothing recorded as if it had been persisted
    if (!dryRun && (assessment.results.length > 0 || assessment.exempted.length > 0)) {
      for (const r of assessment.results)
        this.opts.metrics?.violations.inc({ check: r.checkId, effect: r.effect });
      this.opts.audit?.(auditRecord(req, object, response.allowed, assessment.results, assessment.exempted));
    }
    return { response, outcome: response.allowed ? 'allowed' : 'denied' };
  }

  private bypassReason(req: AdmissionRequest): BypassReason | undefined {
    // a Namespace object's own namespace is empty; its name is what the exclusion list means
    const ns = req.namespace || (req.kind.kind === 'Namespace' ? req.name : undefined);
    if (ns && this.excluded.has(ns)) return 'namespace';
    const user = req.userInfo?.username;
    if (user === this.ownServiceAccount) return 'service-account';
    if (user !== undefined && this.users.has(user)) return 'user';
    if (this.groups.size > 0 && req.userInfo?.groups?.some((g) => this.groups.has(g))) return 'group';
    return undefined;
  }

  private respond(req: AdmissionRequest, object: K8sObject, results: PolicyResult[]): AdmissionResponse {
    const response: AdmissionResponse = { uid: req.uid, allowed: true };
    if (results.length === 0) return response;
    const denied: PolicyResult[] = [];
    const warnings: string[] = [];
    let annotations: Record<string, string> | undefined;
    let budget = WARNINGS_BUDGET;
    let dropped = 0;
    for (const r of results) {
      if (r.effect === 'deny') denied.push(r);
      else if (r.effect === 'warn') {
        const w = truncate(`[${r.checkId}] ${r.message}`, WARNING_MAX);
        if (w.length <= budget - 80) {
          warnings.push(w);
          budget -= w.length;
        } else dropped++;
      } else if (r.effect === 'audit') {
        annotations ??= {};
        const key = auditAnnotationKey(r.checkId);
        const prev = annotations[key];
        annotations[key] = truncate(
          prev === undefined ? r.message : `${prev}; ${r.message}`,
          ANNOTATION_VALUE_MAX,
        );
      }
    }
    if (dropped > 0) warnings.push(`${dropped} more moat warnings not shown (see the webhook's audit log)`);
    if (warnings.length > 0) response.warnings = warnings;
    if (annotations) response.auditAnnotations = annotations;
    if (denied.length > 0) {
      response.allowed = false;
      response.status = { code: 403, reason: 'Forbidden', message: this.denyMessage(req, object, denied) };
    }
    return response;
  }

  /** Every denied violation, grouped by check, each check with its remediation (Gatekeeper's `[id] message` lines). */
  private denyMessage(req: AdmissionRequest, object: K8sObject, denied: PolicyResult[]): string {
    const byCheck = new Map<string, PolicyResult[]>();
    for (const r of denied) {
      const list = byCheck.get(r.checkId);
      if (list) list.push(r);
      else byCheck.set(r.checkId, [r]);
    }
    const name = object.metadata?.name || object.metadata?.generateName || req.name || '';
    const ns = object.metadata?.namespace;
    const lines = [
      `${object.kind} ${ns ? `${ns}/` : ''}${name} violates ${denied.length === 1 ? 'a moat policy' : `${denied.length} moat policies`}:`,
    ];
    let length = lines[0]?.length ?? 0;
    let shown = 0;
    for (const [id, list] of byCheck) {
      const check = this.checks.get(id);
      const block = list.map((r) => `[${id}] ${r.message}`);
      if (check?.remediation) block.push(`  remediation: ${check.remediation}`);
      const text = block.join('\n');
      if (length + text.length > MESSAGE_MAX && shown > 0) {
        lines.push(`… and ${denied.length - shown} more violations (see the webhook's audit log)`);
        break;
      }
      lines.push(text);
      length += text.length + 1;
      shown += list.length;
    }
    return lines.join('\n');
  }
}

function auditRecord(
  req: AdmissionRequest,
  object: K8sObject,
  allowed: boolean,
  results: PolicyResult[],
  exempted: PolicyResult[],
): AuditRecord {
  const rec: AuditRecord = {
    time: new Date().toISOString(),
    uid: req.uid,
    allowed,
    operation: req.operation,
    resource: {
      apiVersion: object.apiVersion ?? '',
      kind: object.kind ?? req.kind.kind,
      name: object.metadata?.name || object.metadata?.generateName || req.name || '',
    },
    violations: results.map((r) => ({
      check: r.checkId,
      effect: r.effect,
      severity: r.severity,
      message: r.message,
      ...(r.resource.container ? { container: r.resource.container } : {}),
      ...(r.path ? { path: r.path } : {}),
    })),
  };
  if (object.metadata?.namespace) rec.resource.namespace = object.metadata.namespace;
  if (req.userInfo?.username) rec.user = req.userInfo.username;
  if (exempted.length > 0) {
    rec.exempted = exempted.map((r) => ({
      check: r.checkId,
      message: r.message,
      reason: r.exemption?.reason ?? '',
    }));
  }
  return rec;
}

function optionalString(o: Record<string, unknown>, key: string, where: string): void {
  const v = o[key];
  if (v !== undefined && v !== null && typeof v !== 'string') {
    throw new BadReviewError(`${where}.${key}: expected a string`);
  }
}

/** Checks the shape of what moat reads from an AdmissionReview; anything else in it is ignored. */
export function parseReview(body: unknown): { apiVersion: string; request: AdmissionRequest } {
  if (!isObject(body)) throw new BadReviewError('body: expected a JSON object (an AdmissionReview)');
  const apiVersion = body.apiVersion;
  if (!(REVIEW_VERSIONS as readonly unknown[]).includes(apiVersion)) {
    throw new BadReviewError(
      `apiVersion: expected ${REVIEW_VERSIONS.join(' or ')}, got ${JSON.stringify(apiVersion) ?? 'nothing'}`,
    );
  }
  if (body.kind !== 'AdmissionReview') {
    throw new BadReviewError(`kind: expected AdmissionReview, got ${JSON.stringify(body.kind) ?? 'nothing'}`);
  }
  const req = body.request;
  if (!isObject(req)) throw new BadReviewError('request: expected an object');
  if (typeof req.uid !== 'string' || req.uid === '') {
    throw new BadReviewError('request.uid: expected a non-empty string');
  }
  if (!(OPERATIONS as readonly unknown[]).includes(req.operation)) {
    throw new BadReviewError(`request.operation: expected one of ${OPERATIONS.join(', ')}`);
  }
  if (!isObject(req.kind) || typeof req.kind.kind !== 'string') {
    throw new BadReviewError('request.kind: expected {group, version, kind}');
  }
  for (const k of ['name', 'namespace', 'subResource']) optionalString(req, k, 'request');
  if (req.dryRun !== undefined && req.dryRun !== null && typeof req.dryRun !== 'boolean') {
    throw new BadReviewError('request.dryRun: expected a boolean');
  }
  for (const k of ['object', 'oldObject']) {
    const v = req[k];
    if (v !== undefined && v !== null && !isObject(v))
      throw new BadReviewError(`request.${k}: expected an object`);
  }
  const ui = req.userInfo;
  if (ui !== undefined && ui !== null) {
    if (!isObject(ui)) throw new BadReviewError('request.userInfo: expected an object');
    optionalString(ui, 'username', 'request.userInfo');
    const g = ui.groups;
    if (g !== undefined && g !== null && !(Array.isArray(g) && g.every((x) => typeof x === 'string'))) {
      throw new BadReviewError('request.userInfo.groups: expected a list of strings');
    }
  }
  return { apiVersion: apiVersion as string, request: req as unknown as AdmissionRequest };
}
