import type { Environment } from '@marcbachmann/cel-js';
import { parseSeverity, type Severity } from '../../model/severity.js';
import { isObject } from '../k8s.js';
import { groupVersion, kindsForRule, resourceMatches, resourceOf } from '../resources.js';
import type { CheckContext, Effect, K8sObject, ObjectCheck, ObjectSource, Violation } from '../types.js';
import { type AstNodeLike, visitAst } from './ast.js';
import { CelCompileError, type CelProgram, compileCel, createCelEnvironment } from './environment.js';
import { Authorizer } from './lib-authz.js';
import { type LabelSelector, matchesSelector, selectorProblem } from './selectors.js';
import { toCel } from './values.js';

/**
 * Kubernetes ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1,
 * https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/) as moat checks.
 * Every expression is compiled once at load; a policy that does not compile is reported (name, field,
 * compiler message) and left out. Each binding -> policy pair becomes one ObjectCheck whose evaluate()
 * follows the API server's order: match constraints, binding match resources, params, match conditions,
 * then validations (with lazily evaluated variables) and audit annotations, errors handled by
 * failurePolicy.
 */

export const VAP_KIND = 'ValidatingAdmissionPolicy';
export const VAP_BINDING_KIND = 'ValidatingAdmissionPolicyBinding';
export const VAP_GROUP = 'admissionregistration.k8s.io';

/** Policy annotations moat reads (Kubernetes ignores them). */
export const ANNOTATIONS = {
  severity: 'moat.dev/severity',
  title: 'moat.dev/title',
  description: 'moat.dev/description',
  remediation: 'moat.dev/remediation',
  category: 'moat.dev/category',
  /** comma-separated kinds, for custom resources whose kind the plural does not tell */
  kinds: 'moat.dev/kinds',
} as const;

export type ValidationAction = 'Deny' | 'Warn' | 'Audit';

/** A policy or binding that could not be loaded: reported at load, never at request time. */
export interface PolicyLoadError {
  /** `error`: the policy or binding is left out; `warning`: loaded but inert (a policy no binding names) */
  level: 'error' | 'warning';
  kind: typeof VAP_KIND | typeof VAP_BINDING_KIND;
  /** the policy's name (for a binding: the policy it names, when known) */
  policy: string;
  binding?: string;
  /** path of the offending field, e.g. `spec.validations[1].expression` */
  path: string;
  /** one line: the compiler's message or the problem */
  message: string;
  /** the compiler's message with the expression excerpt and a caret under the error */
  detail?: string;
  source?: ObjectSource;
}

/** Everything one evaluation produced, for callers that want more than violations (the admission door). */
export interface VapEvaluation {
  /** false when match constraints, binding match resources or a match condition excluded the object */
  matched: boolean;
  violations: Violation[];
  /** `<policy>/<key>` -> value, from spec.auditAnnotations (published for every matched request) */
  auditAnnotations: Record<string, string>;
}

export interface VapCheck extends ObjectCheck {
  readonly policyName: string;
  readonly bindingName: string;
  readonly validationActions: readonly ValidationAction[];
  evaluateDetailed(object: K8sObject, ctx: CheckContext): VapEvaluation;
}

export interface CompileOptions {
  /** where each object came from, to locate load errors */
  sourceOf?: (object: K8sObject) => ObjectSource | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Environments: match conditions see no `variables`; validations, messages and annotations do.

const BASE_VARIABLES = {
  object: 'dyn',
  oldObject: 'dyn',
  request: 'dyn',
  params: 'dyn',
  namespaceObject: 'dyn',
  authorizer: 'kubernetes.authorization.Authorizer',
} as const;

let envs: { match: Environment; full: Environment } | undefined;

function environments(): { match: Environment; full: Environment } {
  envs ??= {
    match: createCelEnvironment({ variables: BASE_VARIABLES }),
    full: createCelEnvironment({ variables: { ...BASE_VARIABLES, variables: 'dyn' } }),
  };
  return envs;
}

const AUTHORIZER = new Authorizer();

// ---------------------------------------------------------------------------------------------------
// Compiled shapes

interface Rule {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: string[];
  scope: string;
  resourceNames: string[];
}

interface MatchResources {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules: Rule[];
  excludeResourceRules: Rule[];
  equivalent: boolean;
}

interface Compiled {
  program: CelProgram;
  source: string;
}

interface CompiledValidation {
  expr: Compiled;
  message?: string;
  messageExpr?: Compiled;
  reason?: string;
  path?: string;
}

interface CompiledPolicy {
  name: string;
  object: K8sObject;
  failOpen: boolean;
  paramKind?: { apiVersion: string; kind: string };
  match: MatchResources;
  matchConditions: Array<{ name: string; expr: Compiled }>;
  variables: Array<{ name: string; expr: Compiled }>;
  /** the class of this policy's `variables` value */
  Scope: ScopeClass;
  /** whether any expression reads `request` / `namespaceObject` (built per evaluation only then) */
  usesRequest: boolean;
  usesNamespaceObject: boolean;
  validations: CompiledValidation[];
  auditAnnotations: Array<{ key: string; expr: Compiled }>;
  severity: Severity;
  /** param objects given with the policies, by kind */
  params: K8sObject[];
}

interface ParamRef {
  name?: string;
  namespace?: string;
  selector?: LabelSelector;
  denyWhenMissing: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Loading

class Loader {
  readonly errors: PolicyLoadError[] = [];

  constructor(private readonly sourceOf: CompileOptions['sourceOf']) {}

  error(
    kind: PolicyLoadError['kind'],
    obj: K8sObject,
    e: Omit<PolicyLoadError, 'kind' | 'source' | 'level'>,
    level: PolicyLoadError['level'] = 'error',
  ): void {
    const source = this.sourceOf?.(obj);
    this.errors.push({ level, kind, ...e, ...(source ? { source } : {}) });
  }
}

/**
 * Compiles every ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding among `objects` (other
 * objects are candidate params). Returns one check per binding -> policy pair and the load errors; a
 * policy with an error in any expression yields no check.
 */
export function compileValidatingAdmissionPolicies(
  objects: readonly K8sObject[],
  options: CompileOptions = {},
): { checks: VapCheck[]; errors: PolicyLoadError[] } {
  const loader = new Loader(options.sourceOf);
  const isVap = (o: K8sObject, kind: string) =>
    o.kind === kind && groupVersion(o.apiVersion).group === VAP_GROUP;
  const policies = new Map<string, CompiledPolicy>();
  const failed = new Set<string>();
  for (const o of objects) {
    if (!isVap(o, VAP_KIND)) continue;
    const name = o.metadata?.name ?? '';
    if (policies.has(name) || failed.has(name)) {
      loader.error(VAP_KIND, o, {
        policy: name,
        path: 'metadata.name',
        message: `duplicate policy name ${JSON.stringify(name)}`,
      });
      continue;
    }
    const p = compilePolicy(o, loader);
    if (p) policies.set(name, p);
    else failed.add(name);
  }
  const others = objects.filter((o) => !isVap(o, VAP_KIND) && !isVap(o, VAP_BINDING_KIND));
  for (const p of policies.values()) {
    const pk = p.paramKind;
    if (pk) p.params = others.filter((o) => o.kind === pk.kind && (o.apiVersion ?? '') === pk.apiVersion);
  }

  const bindings: Array<{ object: K8sObject; policy: CompiledPolicy }> = [];
  const bound = new Set<string>();
  for (const o of objects) {
    if (!isVap(o, VAP_BINDING_KIND)) continue;
    const policyName = isObject(o.spec) && typeof o.spec.policyName === 'string' ? o.spec.policyName : '';
    const bindingName = o.metadata?.name ?? '';
    bound.add(policyName);
    if (failed.has(policyName)) continue;
    const policy = policies.get(policyName);
    if (!policy) {
      loader.error(VAP_BINDING_KIND, o, {
        policy: policyName,
        binding: bindingName,
        path: 'spec.policyName',
        message: policyName
          ? `no ValidatingAdmissionPolicy named ${JSON.stringify(policyName)}`
          : 'spec.policyName is required',
      });
      continue;
    }
    bindings.push({ object: o, policy });
  }
  for (const p of policies.values()) {
    if (!bound.has(p.name)) {
      loader.error(
        VAP_KIND,
        p.object,
        {
          policy: p.name,
          path: 'metadata.name',
          message: 'no ValidatingAdmissionPolicyBinding names this policy, so it is not evaluated',
        },
        'warning',
      );
    }
  }

  const perPolicy = new Map<string, number>();
  for (const b of bindings) perPolicy.set(b.policy.name, (perPolicy.get(b.policy.name) ?? 0) + 1);
  const checks: VapCheck[] = [];
  const ids = new Set<string>();
  for (const b of bindings) {
    const check = compileBinding(b.object, b.policy, (perPolicy.get(b.policy.name) ?? 0) > 1, loader);
    if (!check) continue;
    if (ids.has(check.id)) {
      loader.error(VAP_BINDING_KIND, b.object, {
        policy: b.policy.name,
        binding: check.bindingName,
        path: 'metadata.name',
        message: `duplicate binding: check id ${check.id} is taken`,
      });
      continue;
    }
    ids.add(check.id);
    checks.push(check);
  }
  return { checks, errors: loader.errors };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function compilePolicy(o: K8sObject, loader: Loader): CompiledPolicy | undefined {
  const name = o.metadata?.name ?? '';
  let ok = true;
  const fail = (field: string, message: string, detail?: string) => {
    ok = false;
    loader.error(VAP_KIND, o, { policy: name, path: field, message, ...(detail ? { detail } : {}) });
  };
  if (!name) fail('metadata.name', 'a policy needs a name');
  const spec = isObject(o.spec) ? o.spec : {};
  if (!isObject(o.spec)) fail('spec', 'spec is required');

  const failurePolicy = str(spec.failurePolicy) ?? 'Fail';
  if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore')
    fail('spec.failurePolicy', `must be Fail or Ignore, not ${JSON.stringify(failurePolicy)}`);

  let paramKind: CompiledPolicy['paramKind'];
  if (spec.paramKind !== undefined) {
    const pk = isObject(spec.paramKind) ? spec.paramKind : {};
    const apiVersion = str(pk.apiVersion);
    const kind = str(pk.kind);
    if (!apiVersion || !kind) fail('spec.paramKind', 'paramKind needs apiVersion and kind');
    else paramKind = { apiVersion, kind };
  }

  const match = parseMatchResources(spec.matchConstraints, 'spec.matchConstraints', true, fail);

  const compile = (
    env: Environment,
    source: unknown,
    field: string,
    want?: readonly string[],
  ): Compiled | undefined => {
    if (typeof source !== 'string' || source.trim() === '') {
      fail(field, 'expression is required');
      return undefined;
    }
    try {
      const program = compileCel(env, source);
      if (want && !want.includes(program.type) && program.type !== 'dyn') {
        fail(field, `expression must evaluate to ${want.join(' or ')}, not ${program.type}`);
        return undefined;
      }
      return { program, source };
    } catch (e) {
      if (e instanceof CelCompileError) fail(field, e.message, e.detail);
      else fail(field, (e as Error).message);
      return undefined;
    }
  };
  const { match: matchEnv, full } = environments();
  const list = (key: string): unknown[] => {
    const v = spec[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      fail(`spec.${key}`, 'must be a list');
      return [];
    }
    return v;
  };

  const matchConditions: CompiledPolicy['matchConditions'] = [];
  const mcNames = new Set<string>();
  list('matchConditions').forEach((m, i) => {
    const mc = isObject(m) ? m : {};
    const n = str(mc.name) ?? '';
    if (!n) fail(`spec.matchConditions[${i}].name`, 'a match condition needs a name');
    else if (mcNames.has(n))
      fail(`spec.matchConditions[${i}].name`, `duplicate match condition name ${JSON.stringify(n)}`);
    mcNames.add(n);
    const expr = compile(matchEnv, mc.expression, `spec.matchConditions[${i}].expression`, ['bool']);
    if (expr) matchConditions.push({ name: n, expr });
  });

  const variables: CompiledPolicy['variables'] = [];
  const declared = new Set<string>();
  const varNodes: Array<{ field: string; program: CelProgram }> = [];
  list('variables').forEach((v, i) => {
    const vv = isObject(v) ? v : {};
    const n = str(vv.name) ?? '';
    // `constructor` would shadow how cel-js recognises the variables object
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) || n === 'constructor')
      fail(
        `spec.variables[${i}].name`,
        `variable name ${JSON.stringify(n)} must be a CEL identifier other than constructor`,
      );
    else if (declared.has(n))
      fail(`spec.variables[${i}].name`, `duplicate variable name ${JSON.stringify(n)}`);
    const field = `spec.variables[${i}].expression`;
    const expr = compile(full, vv.expression, field);
    // Kubernetes lets a variable use only the variables declared before it
    for (const u of expr ? unknownVariables(expr.program, declared) : []) {
      fail(field, `variables.${u} is not declared before this variable`);
    }
    declared.add(n);
    if (expr) variables.push({ name: n, expr });
  });

  const validations: CompiledValidation[] = [];
  list('validations').forEach((v, i) => {
    const vv = isObject(v) ? v : {};
    const at = `spec.validations[${i}]`;
    const expr = compile(full, vv.expression, `${at}.expression`, ['bool']);
    const messageExpr =
      vv.messageExpression === undefined
        ? undefined
        : compile(full, vv.messageExpression, `${at}.messageExpression`, ['string']);
    const reason = str(vv.reason);
    if (
      reason !== undefined &&
      !['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge'].includes(reason)
    ) {
      fail(
        `${at}.reason`,
        `must be Unauthorized, Forbidden, Invalid or RequestEntityTooLarge, not ${JSON.stringify(reason)}`,
      );
    }
    const message = str(vv.message);
    if (message?.includes('\n')) fail(`${at}.message`, 'message must not contain line breaks');
    const path = str(vv.fieldPath)?.replace(/^\./, '');
    if (expr) {
      for (const [f, c] of [
        [`${at}.expression`, expr],
        [`${at}.messageExpression`, messageExpr],
      ] as const) {
        if (c) varNodes.push({ field: f, program: c.program });
      }
      validations.push({
        expr,
        ...(message ? { message } : {}),
        ...(messageExpr ? { messageExpr } : {}),
        ...(reason ? { reason } : {}),
        ...(path ? { path } : {}),
      });
    }
  });

  const auditAnnotations: CompiledPolicy['auditAnnotations'] = [];
  const keys = new Set<string>();
  list('auditAnnotations').forEach((a, i) => {
    const aa = isObject(a) ? a : {};
    const key = str(aa.key) ?? '';
    if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key) || `${name}/${key}`.length > 63 + 254) {
      fail(`spec.auditAnnotations[${i}].key`, `invalid audit annotation key ${JSON.stringify(key)}`);
    } else if (keys.has(key))
      fail(`spec.auditAnnotations[${i}].key`, `duplicate audit annotation key ${JSON.stringify(key)}`);
    keys.add(key);
    const field = `spec.auditAnnotations[${i}].valueExpression`;
    const expr = compile(full, aa.valueExpression, field, ['string', 'null']);
    if (expr) {
      varNodes.push({ field, program: expr.program });
      auditAnnotations.push({ key, expr });
    }
  });
  for (const { field, program } of varNodes) {
    for (const u of unknownVariables(program, declared)) fail(field, `undeclared variable variables.${u}`);
  }
  if (validations.length === 0 && auditAnnotations.length === 0 && ok) {
    fail('spec.validations', 'a policy needs at least one validation or audit annotation');
  }

  const annotations = o.metadata?.annotations ?? {};
  let severity: Severity = 'MEDIUM';
  const sev = annotations[ANNOTATIONS.severity];
  if (sev !== undefined) {
    const parsed = parseSeverity(sev);
    if (parsed && parsed !== 'UNKNOWN') severity = parsed;
    else
      fail(
        `metadata.annotations["${ANNOTATIONS.severity}"]`,
        `severity must be LOW, MEDIUM, HIGH or CRITICAL, not ${JSON.stringify(sev)}`,
      );
  }
  if (!ok || !match) return undefined;
  const programs = [
    ...matchConditions.map((m) => m.expr),
    ...variables.map((v) => v.expr),
    ...validations.flatMap((v) => (v.messageExpr ? [v.expr, v.messageExpr] : [v.expr])),
    ...auditAnnotations.map((a) => a.expr),
  ];
  return {
    name,
    object: o,
    failOpen: failurePolicy === 'Ignore',
    ...(paramKind ? { paramKind } : {}),
    match,
    matchConditions,
    variables,
    Scope: variableScope(
      full,
      variables.map((v) => v.name),
    ),
    usesRequest: programs.some((c) => readsIdentifier(c.program, 'request')),
    usesNamespaceObject: programs.some((c) => readsIdentifier(c.program, 'namespaceObject')),
    validations,
    auditAnnotations,
    severity,
    params: [],
  };
}

function readsIdentifier(program: CelProgram, name: string): boolean {
  let found = false;
  visitAst(program.ast, (n) => {
    if (n.op === 'id' && n.args === name) found = true;
  });
  return found;
}

/** Names used as `variables.<name>` in a program that are not in `declared`. */
function unknownVariables(program: CelProgram, declared: ReadonlySet<string>): string[] {
  const out: string[] = [];
  visitAst(program.ast, (n: AstNodeLike) => {
    if (n.op !== '.' && n.op !== '.?') return;
    const [target, field] = n.args as [AstNodeLike, string];
    if (target?.op === 'id' && target.args === 'variables' && !declared.has(field)) out.push(field);
  });
  return out;
}

function parseRules(v: unknown, field: string, fail: (field: string, message: string) => void): Rule[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    fail(field, 'must be a list');
    return [];
  }
  return v.map((r, i) => {
    const rr = isObject(r) ? r : {};
    const rule: Rule = {
      apiGroups: strList(rr.apiGroups),
      apiVersions: strList(rr.apiVersions),
      resources: strList(rr.resources),
      operations: strList(rr.operations),
      scope: str(rr.scope) ?? '*',
      resourceNames: strList(rr.resourceNames),
    };
    if (rule.resources.length === 0) fail(`${field}[${i}].resources`, 'a rule needs resources');
    if (!['*', 'Cluster', 'Namespaced'].includes(rule.scope))
      fail(`${field}[${i}].scope`, 'scope must be *, Cluster or Namespaced');
    for (const op of rule.operations) {
      if (!['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(op))
        fail(`${field}[${i}].operations`, `unknown operation ${JSON.stringify(op)}`);
    }
    return rule;
  });
}

function parseMatchResources(
  v: unknown,
  field: string,
  required: boolean,
  fail: (field: string, message: string) => void,
): MatchResources | undefined {
  if (v === undefined || v === null) {
    if (required) fail(field, `${field.split('.').pop()} is required`);
    return required ? undefined : { resourceRules: [], excludeResourceRules: [], equivalent: true };
  }
  const m = isObject(v) ? v : {};
  const out: MatchResources = {
    resourceRules: parseRules(m.resourceRules, `${field}.resourceRules`, fail),
    excludeResourceRules: parseRules(m.excludeResourceRules, `${field}.excludeResourceRules`, fail),
    equivalent: (str(m.matchPolicy) ?? 'Equivalent') !== 'Exact',
  };
  if (required && out.resourceRules.length === 0)
    fail(`${field}.resourceRules`, 'at least one resource rule is required');
  for (const key of ['namespaceSelector', 'objectSelector'] as const) {
    const problem = selectorProblem(m[key]);
    if (problem) fail(`${field}.${key}`, problem);
    else if (m[key] !== undefined && m[key] !== null) out[key] = m[key] as LabelSelector;
  }
  return out;
}

function compileBinding(
  o: K8sObject,
  policy: CompiledPolicy,
  several: boolean,
  loader: Loader,
): VapCheck | undefined {
  const bindingName = o.metadata?.name ?? '';
  let ok = true;
  const fail = (field: string, message: string) => {
    ok = false;
    loader.error(VAP_BINDING_KIND, o, { policy: policy.name, binding: bindingName, path: field, message });
  };
  if (!bindingName) fail('metadata.name', 'a binding needs a name');
  const spec = isObject(o.spec) ? o.spec : {};
  const actions = strList(spec.validationActions);
  if (actions.length === 0) fail('spec.validationActions', 'at least one of Deny, Warn, Audit is required');
  for (const a of actions)
    if (!['Deny', 'Warn', 'Audit'].includes(a))
      fail('spec.validationActions', `unknown action ${JSON.stringify(a)}`);
  if (actions.includes('Deny') && actions.includes('Warn'))
    fail('spec.validationActions', 'Deny and Warn may not be used together');
  const match = parseMatchResources(spec.matchResources, 'spec.matchResources', false, fail);

  let paramRef: ParamRef | undefined;
  if (spec.paramRef !== undefined && spec.paramRef !== null) {
    const pr = isObject(spec.paramRef) ? spec.paramRef : {};
    const name = str(pr.name);
    const selector = pr.selector;
    const problem = selectorProblem(selector);
    if (problem) fail('spec.paramRef.selector', problem);
    if ((name === undefined) === (selector === undefined || selector === null))
      fail('spec.paramRef', 'exactly one of name and selector is required');
    const action = str(pr.parameterNotFoundAction) ?? 'Deny';
    if (action !== 'Allow' && action !== 'Deny')
      fail('spec.paramRef.parameterNotFoundAction', 'must be Allow or Deny');
    const namespace = str(pr.namespace);
    paramRef = {
      ...(name !== undefined ? { name } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(isObject(selector) ? { selector: selector as LabelSelector } : {}),
      denyWhenMissing: action === 'Deny',
    };
    if (!policy.paramKind)
      fail('spec.paramRef', `policy ${policy.name} has no paramKind, so the binding cannot set paramRef`);
  } else if (policy.paramKind) {
    fail(
      'spec.paramRef',
      `policy ${policy.name} has paramKind ${policy.paramKind.kind}, so the binding needs paramRef`,
    );
  }
  if (!ok || !match) return undefined;

  const validationActions = actions as ValidationAction[];
  const effect: Effect = validationActions.includes('Deny')
    ? 'deny'
    : validationActions.includes('Warn')
      ? 'warn'
      : 'audit';
  const annotations = policy.object.metadata?.annotations ?? {};
  const declaredKinds = annotations[ANNOTATIONS.kinds]
    ?.split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const kinds = declaredKinds?.length
    ? declaredKinds
    : [...new Set(policy.match.resourceRules.flatMap((r) => kindsForRule(r.apiGroups, r.resources)))];
  const evaluator = new BindingEvaluator(policy, match, paramRef);
  return {
    id: several ? `custom.${policy.name}.${bindingName}` : `custom.${policy.name}`,
    family: 'custom',
    title: annotations[ANNOTATIONS.title] ?? `ValidatingAdmissionPolicy ${policy.name}`,
    description:
      annotations[ANNOTATIONS.description] ??
      `Custom policy ${policy.name} (binding ${bindingName}), evaluated with CEL.`,
    severity: policy.severity,
    remediation:
      annotations[ANNOTATIONS.remediation] ??
      `Change the resource so that it satisfies ValidatingAdmissionPolicy ${policy.name}, or exempt it.`,
    category: annotations[ANNOTATIONS.category] ?? 'Custom policies',
    kinds,
    parameters: [],
    defaultEffect: effect,
    references: { policy: policy.name, binding: bindingName },
    scope: 'object',
    policyName: policy.name,
    bindingName,
    validationActions,
    evaluate: (object, ctx) => evaluator.run(object, ctx).violations,
    evaluateDetailed: (object, ctx) => evaluator.run(object, ctx),
  };
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };

function run(c: Compiled, vars: Record<string, unknown>): Outcome {
  try {
    return { ok: true, value: c.program.evaluate(vars) };
  } catch (e) {
    const err = e as { summary?: string; message?: string };
    return { ok: false, error: err.summary ?? err.message?.split('\n')[0] ?? String(e) };
  }
}

class BindingEvaluator {
  constructor(
    private readonly policy: CompiledPolicy,
    private readonly bindingMatch: MatchResources,
    private readonly paramRef: ParamRef | undefined,
  ) {}

  run(object: K8sObject, ctx: CheckContext): VapEvaluation {
    const none: VapEvaluation = { matched: false, violations: [], auditAnnotations: {} };
    const operation = ctx.admission?.operation ?? 'CREATE';
    const oldObject = ctx.admission?.oldObject;
    const subject = operation === 'DELETE' ? (oldObject ?? object) : object;
    const res = resourceOf(subject.kind ?? '', subject.apiVersion);
    const namespace = res.namespaced ? (subject.metadata?.namespace ?? 'default') : '';
    const needsNamespace =
      this.policy.usesNamespaceObject ||
      !!this.policy.match.namespaceSelector ||
      !!this.bindingMatch.namespaceSelector;
    const nsObject = res.namespaced && needsNamespace ? namespaceObject(namespace, ctx) : null;
    const facts = {
      object: subject,
      oldObject,
      operation,
      resource: res.resource,
      namespaced: res.namespaced,
      nsObject,
    };
    if (!matches(this.policy.match, facts, true) || !matches(this.bindingMatch, facts, false)) return none;

    let params: Array<K8sObject | null> = [null];
    if (this.policy.paramKind && this.paramRef) {
      params = this.findParams(this.policy.paramKind, this.paramRef, namespace, ctx);
      if (params.length === 0) {
        if (!this.paramRef.denyWhenMissing) return none;
        return {
          matched: true,
          violations: [{ message: 'no params found for policy binding with `Deny` parameterNotFoundAction' }],
          auditAnnotations: {},
        };
      }
    }

    const request = this.policy.usesRequest ? requestOf(subject, res, namespace, operation, ctx) : null;
    const base = {
      object: operation === 'DELETE' ? null : toCel(object),
      oldObject: oldObject ? toCel(oldObject) : null,
      request,
      namespaceObject: nsObject ? toCel(nsObject) : null,
      authorizer: AUTHORIZER,
    };

    const out: VapEvaluation = { matched: false, violations: [], auditAnnotations: {} };
    for (const p of params) this.evaluateWith({ ...base, params: p ? toCel(p) : null }, out);
    if (out.violations.length > 0 && Object.keys(out.auditAnnotations).length > 0) {
      for (const v of out.violations) v.auditAnnotations = out.auditAnnotations;
    }
    return out;
  }

  private evaluateWith(vars: Record<string, unknown>, out: VapEvaluation): void {
    const p = this.policy;
    let conditionError: string | undefined;
    for (const mc of p.matchConditions) {
      const r = run(mc.expr, vars);
      if (r.ok && r.value === false) return;
      if (!r.ok) conditionError ??= `match condition ${mc.name}: ${r.error}`;
      else if (r.value !== true)
        conditionError ??= `match condition ${mc.name} returned ${typeof r.value}, not bool`;
    }
    out.matched = true;
    if (conditionError !== undefined) {
      this.failure(conditionError, out);
      return;
    }
    const full: Activation = { ...vars, variables: null };
    full.variables = new p.Scope(full, p.variables);
    for (const v of p.validations) {
      const r = run(v.expr, full);
      if (!r.ok) {
        this.failure(`expression '${v.expr.source}' resulted in error: ${r.error}`, out);
        continue;
      }
      if (r.value === true) continue;
      if (r.value !== false) {
        this.failure(`expression '${v.expr.source}' must return bool, got ${typeof r.value}`, out);
        continue;
      }
      const violation: Violation = { message: this.message(v, full) };
      if (v.reason) violation.reason = v.reason;
      if (v.path) violation.path = v.path;
      out.violations.push(violation);
    }
    for (const a of p.auditAnnotations) {
      const r = run(a.expr, full);
      if (!r.ok) {
        this.failure(`audit annotation ${a.key}: expression resulted in error: ${r.error}`, out);
        continue;
      }
      if (r.value === null) continue;
      if (typeof r.value !== 'string') {
        this.failure(`audit annotation ${a.key}: valueExpression must return string or null`, out);
        continue;
      }
      out.auditAnnotations[`${p.name}/${a.key}`] = r.value;
    }
  }

  /** Kubernetes: messageExpression wins when it yields a non-blank single line; else message; else the expression. */
  private message(v: CompiledValidation, vars: Record<string, unknown>): string {
    if (v.messageExpr) {
      const r = run(v.messageExpr, vars);
      if (r.ok && typeof r.value === 'string' && r.value.trim() !== '' && !r.value.includes('\n'))
        return r.value;
    }
    return v.message ?? `failed expression: ${v.expr.source}`;
  }

  /** failurePolicy: Fail turns an evaluation error into a violation, Ignore drops it. */
  private failure(message: string, out: VapEvaluation): void {
    if (this.policy.failOpen) return;
    out.violations.push({ message: `policy ${this.policy.name} could not be evaluated: ${message}` });
  }

  private findParams(
    kind: { apiVersion: string; kind: string },
    ref: ParamRef,
    namespace: string,
    ctx: CheckContext,
  ): K8sObject[] {
    const seen = new Set<string>();
    const out: K8sObject[] = [];
    const candidates = [
      ...this.policy.params,
      ...ctx.inventory.byKind(kind.kind).filter((o) => (o.apiVersion ?? '') === kind.apiVersion),
    ];
    for (const o of candidates) {
      const ns = o.metadata?.namespace;
      // unset paramRef.namespace: namespaced params come from the request's namespace
      const wantNs = ref.namespace ?? (ns === undefined ? undefined : namespace);
      if (wantNs !== undefined && ns !== wantNs) continue;
      if (ref.name !== undefined && o.metadata?.name !== ref.name) continue;
      if (ref.selector && !matchesSelector(ref.selector, o.metadata?.labels ?? {})) continue;
      const key = `${ns ?? ''}/${o.metadata?.name ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(o);
    }
    return out;
  }
}

type Activation = Record<string, unknown>;
type ScopeClass = new (activation: Activation, list: CompiledPolicy['variables']) => object;

/** one class per distinct list of variable names, so reloading policies does not grow the registry */
const scopeClasses = new Map<string, ScopeClass>();

/**
 * The class of `variables` for a list of variable names: one getter per variable on its prototype, each
 * evaluated on first use and cached for the evaluation; an error is cached too and raised wherever the
 * variable is used (so `||` can still absorb it, as in Kubernetes). A registered CEL type, so that cel-js
 * reads its fields through the getters: one allocation per evaluation instead of a property definition
 * per variable.
 */
function variableScope(env: Environment, names: readonly string[]): ScopeClass {
  const key = names.join(',');
  const known = scopeClasses.get(key);
  if (known) return known;
  const NEW = 0;
  const BUSY = 1;
  const DONE = 2;
  class Scope {
    readonly #activation: Activation;
    readonly #list: CompiledPolicy['variables'];
    readonly #state = new Uint8Array(names.length);
    readonly #values = new Array<unknown>(names.length);
    readonly #errors = new Array<unknown>(names.length);
    constructor(activation: Activation, list: CompiledPolicy['variables']) {
      this.#activation = activation;
      this.#list = list;
    }
    static resolve(scope: Scope, i: number): unknown {
      const state = scope.#state[i];
      if (state === BUSY) throw new Error(`variable ${names[i]} refers to itself`);
      if (state === NEW) {
        scope.#state[i] = BUSY;
        try {
          scope.#values[i] = scope.#list[i]?.expr.program.evaluate(scope.#activation);
        } catch (e) {
          scope.#errors[i] = e;
        }
        scope.#state[i] = DONE;
      }
      if (scope.#errors[i] !== undefined) throw scope.#errors[i];
      return scope.#values[i];
    }
  }
  names.forEach((name, i) => {
    Object.defineProperty(Scope.prototype, name, {
      get(this: Scope) {
        return Scope.resolve(this, i);
      },
    });
  });
  env.registerType(`moat.policy.Variables${scopeClasses.size + 1}`, Scope);
  scopeClasses.set(key, Scope);
  return Scope;
}

/** The `request` variable: the AdmissionRequest the API server would send (posture: a CREATE). */
function requestOf(
  subject: K8sObject,
  res: { group: string; resource: string },
  namespace: string,
  operation: string,
  ctx: CheckContext,
): unknown {
  const { group, version } = groupVersion(subject.apiVersion);
  const gvk = { group, version, kind: subject.kind ?? '' };
  const gvr = { group: res.group, version, resource: res.resource };
  const request = toCel({
    uid: '',
    kind: gvk,
    resource: gvr,
    subResource: '',
    requestKind: gvk,
    requestResource: gvr,
    requestSubResource: '',
    name: subject.metadata?.name ?? '',
    namespace,
    operation,
    userInfo: {
      username: ctx.admission?.userInfo?.username ?? '',
      uid: '',
      groups: ctx.admission?.userInfo?.groups ?? [],
      extra: {},
    },
    dryRun: false,
  }) as Record<string, unknown>;
  request.options = null;
  return request;
}

interface MatchFacts {
  object: K8sObject;
  oldObject: K8sObject | undefined;
  operation: string;
  resource: string;
  namespaced: boolean;
  nsObject: K8sObject | null;
}

function ruleMatches(r: Rule, f: MatchFacts, equivalent: boolean): boolean {
  const { group, version } = groupVersion(f.object.apiVersion);
  if (!r.apiGroups.includes('*') && !r.apiGroups.includes(group)) {
    // matchPolicy Equivalent: extensions/v1beta1 Deployments are apps Deployments
    if (
      !(
        equivalent &&
        group === 'extensions' &&
        r.apiGroups.some((g) => g === 'apps' || g === 'networking.k8s.io')
      )
    )
      return false;
  }
  if (!equivalent && !r.apiVersions.includes('*') && !r.apiVersions.includes(version)) return false;
  if (!r.resources.some((x) => resourceMatches(x, f.resource))) return false;
  if (r.operations.length > 0 && !r.operations.includes('*') && !r.operations.includes(f.operation))
    return false;
  if (r.scope === 'Cluster' && f.namespaced) return false;
  if (r.scope === 'Namespaced' && !f.namespaced) return false;
  if (r.resourceNames.length > 0 && !r.resourceNames.includes(f.object.metadata?.name ?? '')) return false;
  return true;
}

function matches(m: MatchResources, f: MatchFacts, rulesRequired: boolean): boolean {
  if (
    (rulesRequired || m.resourceRules.length > 0) &&
    !m.resourceRules.some((r) => ruleMatches(r, f, m.equivalent))
  )
    return false;
  if (m.excludeResourceRules.some((r) => ruleMatches(r, f, m.equivalent))) return false;
  if (m.namespaceSelector) {
    // cluster-scoped objects other than Namespaces are never excluded by a namespace selector
    const labels = f.namespaced
      ? f.nsObject?.metadata?.labels
      : f.object.kind === 'Namespace'
        ? f.object.metadata?.labels
        : undefined;
    if (
      (f.namespaced || f.object.kind === 'Namespace') &&
      !matchesSelector(m.namespaceSelector, labels ?? {})
    )
      return false;
  }
  if (m.objectSelector) {
    const labelsOf = (o: K8sObject | undefined) => o?.metadata?.labels ?? {};
    const hit = matchesSelector(m.objectSelector, labelsOf(f.object));
    const oldHit = f.oldObject !== undefined && matchesSelector(m.objectSelector, labelsOf(f.oldObject));
    if (!hit && !oldHit) return false;
  }
  return true;
}

const syntheticNamespaces = new Map<string, K8sObject>();
const namespacesByInventory = new WeakMap<object, Map<string, K8sObject>>();

/**
 * The request's Namespace: from the inventory (posture) or the admission door; when absent, a minimal one
 * carrying the `kubernetes.io/metadata.name` label the API server puts on every namespace.
 */
function namespaceObject(name: string, ctx: CheckContext): K8sObject {
  const list = ctx.inventory.byKind('Namespace');
  let index = namespacesByInventory.get(list);
  if (!index) {
    index = new Map(list.map((n) => [n.metadata?.name ?? '', n]));
    namespacesByInventory.set(list, index);
  }
  const found = index.get(name);
  if (found) return found;
  let ns = syntheticNamespaces.get(name);
  if (!ns) {
    ns = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    };
    if (syntheticNamespaces.size > 10_000) syntheticNamespaces.clear();
    syntheticNamespaces.set(name, ns);
  }
  return ns;
}
