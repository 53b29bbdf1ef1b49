import { type ASTNode, Environment, type ParseResult } from '@marcbachmann/cel-js';
import { visitAst } from './ast.js';
import { registerAuthz } from './lib-authz.js';
import { registerFormat } from './lib-format.js';
import { registerIP } from './lib-ip.js';
import { registerLists } from './lib-lists.js';
import { registerQuantity } from './lib-quantity.js';
import { registerRegex, rewriteMatches } from './lib-regex.js';
import { registerSemver } from './lib-semver.js';
import { registerStrings } from './lib-strings.js';
import { registerUrls } from './lib-url.js';

/**
 * The CEL environment Kubernetes uses (https://kubernetes.io/docs/reference/using-api/cel/), on cel-js:
 * standard CEL with optional types, cel.bind, mixed-type list literals, cross-type numeric comparisons,
 * and the Kubernetes libraries (strings, lists, sets, regex, URL, quantity, IP/CIDR, format, semver,
 * authorizer declarations) plus two-variable comprehensions. Independent of any one use: admission
 * policies and audit-log detection rules each add their own variables.
 */

export interface CelEnvironmentOptions {
  /** variable name -> CEL type (`dyn`, `map`, `string`, `list<string>`, a library type such as `net.IP`) */
  variables?: Readonly<Record<string, string>>;
}

/** Structural limits checked at compile time (cel-js limits; Kubernetes relies on its cost estimator instead). */
export const CEL_LIMITS = {
  maxAstNodes: 20_000,
  maxDepth: 120,
  maxListElements: 1000,
  maxMapEntries: 1000,
  maxCallArguments: 32,
} as const;

/** Longest expression source accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 20_000;

let base: Environment | undefined;

function baseEnvironment(): Environment {
  if (base) return base;
  const env = new Environment({
    unlistedVariablesAreDyn: false,
    // cel-go (and so Kubernetes) types ['a', 1] as list(dyn) rather than rejecting it
    homogeneousAggregateLiterals: false,
    enableOptionalTypes: true,
    limits: CEL_LIMITS,
  });
  registerStrings(env);
  registerLists(env);
  registerRegex(env);
  registerUrls(env);
  registerQuantity(env);
  registerIP(env);
  registerFormat(env);
  registerSemver(env);
  registerAuthz(env);
  base = env;
  return env;
}

/**
 * A fresh environment with the Kubernetes libraries and the given variables. Building the libraries is done
 * once per process; each call clones that (cheap) and declares the variables.
 */
export function createCelEnvironment(options: CelEnvironmentOptions = {}): Environment {
  const env = baseEnvironment().clone();
  for (const [name, type] of Object.entries(options.variables ?? {})) env.registerVariable(name, type);
  return env;
}

/** A compiled (parsed and type-checked) expression, evaluated many times. */
export interface CelProgram {
  readonly source: string;
  /** the checked result type: `bool`, `string`, `dyn`, ... */
  readonly type: string;
  /** the parsed expression, for static checks */
  readonly ast: ASTNode;
  /** Evaluates with the given variables (already CEL values, see toCel). Throws on evaluation errors. */
  evaluate(variables: Readonly<Record<string, unknown>>): unknown;
}

/** A compile (parse or type) error: `message` is one line, `detail` adds the source excerpt with a caret. */
export class CelCompileError extends Error {
  constructor(
    message: string,
    readonly detail: string,
    /** 0-based character offset in the source, when known */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'CelCompileError';
  }
}

/** Counts compilations, so tests can prove that evaluating never compiles again. */
export const celStats = { compiled: 0 };

/** Parses and type-checks `source` once. Throws CelCompileError. */
export function compileCel(env: Environment, source: string): CelProgram {
  celStats.compiled++;
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new CelCompileError(
      `expression is ${source.length} characters long, over the ${MAX_EXPRESSION_LENGTH} limit`,
      '',
    );
  }
  let parsed: ParseResult;
  try {
    parsed = env.parse(source);
  } catch (e) {
    throw compileError(e);
  }
  rewriteMatches(parsed.ast);
  relaxNullBranches(parsed.ast);
  const checked = parsed.check();
  if (!checked.valid) throw compileError(checked.error);
  return {
    source,
    type: checked.type ?? 'dyn',
    ast: parsed.ast,
    evaluate(variables) {
      const v = parsed(variables);
      if (v instanceof Promise) throw new Error('CEL expression evaluated asynchronously');
      return v;
    },
  };
}

function compileError(e: unknown): CelCompileError {
  if (!(e instanceof Error)) return new CelCompileError(String(e), String(e));
  const summary = (e as { summary?: string }).summary ?? e.message.split('\n')[0] ?? e.message;
  const range = (e as { range?: { start: number } }).range;
  const at = range ? ` (at character ${range.start + 1})` : '';
  return new CelCompileError(`${summary}${at}`, e.message, range?.start);
}

interface MetaNode {
  op: string;
  args: unknown;
  setMeta(key: string, value: unknown): unknown;
}

/**
 * cel-go accepts `cond ? 'text' : null` (Kubernetes' own auditAnnotations example); cel-js rejects
 * ternary branches of different types. A null literal in a branch is type-checked as dyn instead, which
 * makes the ternary dyn; evaluation is unchanged.
 */
function relaxNullBranches(root: ASTNode): void {
  visitAst(root, (n) => {
    if (n.op !== '?:' || !Array.isArray(n.args)) return;
    for (const branch of n.args.slice(1) as MetaNode[]) {
      if (branch?.op === 'value' && branch.args === null && typeof branch.setMeta === 'function') {
        branch.setMeta('check', (chk: { dynType: unknown }) => chk.dynType);
      }
    }
  });
}
