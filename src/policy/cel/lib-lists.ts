import type { ASTNode, Environment } from '@marcbachmann/cel-js';
import { type CelValue, celCompare, celEquals, celError, fn, isPlainMap, typeName } from './values.js';

/**
 * Kubernetes' list library (isSorted, sum, min, max, indexOf, lastIndexOf; k8s.io/apiserver/pkg/cel/library
 * lists.go), the cheap parts of cel-go's lists extension (slice, flatten, distinct, reverse, sort,
 * lists.range), cel-go's sets extension (sets.contains, sets.equivalent, sets.intersects) and cel-go's
 * two-variable comprehensions (all, exists, existsOne, transformList, transformMap, transformMapEntry).
 */
export class ListsNamespace {}
export class SetsNamespace {}

export function registerLists(env: Environment): void {
  fn(env, 'list.isSorted(): bool', (l: CelValue[]) => {
    for (let i = 1; i < l.length; i++) if (celCompare(l[i - 1], l[i]) > 0) return false;
    return true;
  });
  fn(env, 'list.sum(): dyn', sum);
  fn(env, 'list.min(): dyn', (l: CelValue[]) => extreme(l, 'min', -1));
  fn(env, 'list.max(): dyn', (l: CelValue[]) => extreme(l, 'max', 1));
  fn(env, 'list.indexOf(dyn): int', (l: CelValue[], x: CelValue) => {
    for (let i = 0; i < l.length; i++) if (celEquals(l[i], x)) return BigInt(i);
    return -1n;
  });
  fn(env, 'list.lastIndexOf(dyn): int', (l: CelValue[], x: CelValue) => {
    for (let i = l.length - 1; i >= 0; i--) if (celEquals(l[i], x)) return BigInt(i);
    return -1n;
  });
  fn(env, 'list.includes(dyn): bool', (l: CelValue[], x: CelValue) => l.some((y) => celEquals(y, x)));

  fn(env, 'list.slice(int, int): list', (l: CelValue[], a: bigint, b: bigint) => {
    if (a < 0n || b < 0n) throw celError('index_out_of_range', `slice: negative index ${a < 0n ? a : b}`);
    if (a > b) throw celError('index_out_of_range', `slice: start index ${a} is greater than end index ${b}`);
    if (b > BigInt(l.length)) throw celError('index_out_of_range', `slice: end index ${b} out of range`);
    return l.slice(Number(a), Number(b));
  });
  fn(env, 'list.flatten(): list', (l: CelValue[]) => flatten(l, 1));
  fn(env, 'list.flatten(int): list', (l: CelValue[], d: bigint) => {
    if (d < 0n) throw celError('invalid_argument', 'flatten: depth must be non-negative');
    return flatten(l, Number(d));
  });
  fn(env, 'list.distinct(): list', (l: CelValue[]) => {
    const out: CelValue[] = [];
    for (const x of l) if (!out.some((y) => celEquals(x, y))) out.push(x);
    return out;
  });
  fn(env, 'list.reverse(): list', (l: CelValue[]) => [...l].reverse());
  fn(env, 'list.sort(): list', (l: CelValue[]) => [...l].sort(celCompare));
  env.registerType('ListsNamespace', ListsNamespace);
  env.registerConstant('lists', 'ListsNamespace', new ListsNamespace());
  fn(env, 'ListsNamespace.range(int): list<int>', (_ns: unknown, n: bigint) => {
    if (n > 1_000_000n) throw celError('invalid_argument', `lists.range: ${n} is too large`);
    const out: bigint[] = [];
    for (let i = 0n; i < n; i++) out.push(i);
    return out;
  });

  env.registerType('SetsNamespace', SetsNamespace);
  env.registerConstant('sets', 'SetsNamespace', new SetsNamespace());
  const has = (l: CelValue[], x: CelValue) => l.some((y) => celEquals(x, y));
  fn(env, 'SetsNamespace.contains(list, list): bool', (_ns: unknown, a: CelValue[], b: CelValue[]) =>
    b.every((x) => has(a, x)),
  );
  fn(
    env,
    'SetsNamespace.equivalent(list, list): bool',
    (_ns: unknown, a: CelValue[], b: CelValue[]) => b.every((x) => has(a, x)) && a.every((x) => has(b, x)),
  );
  fn(env, 'SetsNamespace.intersects(list, list): bool', (_ns: unknown, a: CelValue[], b: CelValue[]) =>
    b.some((x) => has(a, x)),
  );

  registerTwoVarComprehensions(env);
}

function sum(l: CelValue[]): CelValue {
  if (l.length === 0) return 0n;
  let acc = l[0];
  for (let i = 1; i < l.length; i++) {
    const x = l[i];
    if (typeof acc === 'bigint' && typeof x === 'bigint') acc = acc + x;
    else if (typeof acc === 'number' && typeof x === 'number') acc = acc + x;
    else if (isDuration(acc) && isDuration(x)) acc = acc.addDuration(x);
    else throw celError('no_such_overload', `sum: cannot add ${typeName(acc)} and ${typeName(x)}`);
  }
  if (typeof acc !== 'bigint' && typeof acc !== 'number' && !isDuration(acc)) {
    throw celError('no_such_overload', `sum: ${typeName(acc)} is not a number or duration`);
  }
  return acc;
}

interface DurationLike {
  addDuration(other: unknown): DurationLike;
}

function isDuration(v: unknown): v is DurationLike {
  return typeof v === 'object' && v !== null && typeof (v as DurationLike).addDuration === 'function';
}

function extreme(l: CelValue[], name: string, want: number): CelValue {
  if (l.length === 0) throw celError('invalid_argument', `${name} called on empty list`);
  let best = l[0];
  for (let i = 1; i < l.length; i++) if (celCompare(l[i], best) === want) best = l[i];
  return best;
}

function flatten(l: CelValue[], depth: number): CelValue[] {
  const out: CelValue[] = [];
  for (const x of l) {
    if (Array.isArray(x) && depth > 0) out.push(...flatten(x, depth - 1));
    else out.push(x);
  }
  return out;
}

// ---- two-variable comprehensions (cel-go ext.TwoVarComprehensions, Kubernetes 1.33+) ----

// The macro API of cel-js: a handler runs at parse time and returns hooks that the type checker and the
// evaluator call. These are the parts of cel-js' checker/evaluator/context objects the hooks use.
interface TypeDecl {
  kind: string;
  valueType?: TypeDecl;
  keyType?: TypeDecl;
}
interface CheckCtx {
  forkWithVariable(name: string, type: TypeDecl): IterCtx;
}
interface IterCtx extends CheckCtx {
  reuse(parent: unknown): IterCtx;
  setIterValue(v: unknown, ev: unknown): IterCtx;
}
interface Checker {
  check(node: ASTNode, ctx: unknown): TypeDecl;
  getType(name: string): TypeDecl;
  createError(code: string, message: string, node: ASTNode): Error;
}
interface Evaluator {
  run(node: ASTNode, ctx: unknown): unknown;
  tryEval(node: ASTNode, ctx: unknown): unknown;
}

type Kind = 'all' | 'exists' | 'existsOne' | 'transformList' | 'transformMap' | 'transformMapEntry';

interface TwoVarMacro {
  kind: Kind;
  receiver: ASTNode;
  first: string;
  second: string;
  filter: ASTNode | undefined;
  body: ASTNode;
  ctx1?: IterCtx;
  ctx2?: IterCtx;
  typeCheck(checker: Checker, m: TwoVarMacro, ctx: CheckCtx): TypeDecl;
  evaluate(ev: Evaluator, m: TwoVarMacro, ctx: unknown): unknown;
  async: false;
}

const RESULT_TYPE: Record<Kind, string> = {
  all: 'bool',
  exists: 'bool',
  existsOne: 'bool',
  transformList: 'list',
  transformMap: 'map',
  transformMapEntry: 'map',
};

function identifier(node: ASTNode | undefined, what: string): string {
  if (node?.op === 'id' && typeof node.args === 'string') return node.args;
  throw celError('invalid_macro_argument', `${what}: the first two arguments must be variable names`);
}

function twoVarMacro(kind: Kind, withFilter: boolean) {
  return ({ args, receiver }: { args: ASTNode[]; receiver: ASTNode }): TwoVarMacro => ({
    kind,
    receiver,
    first: identifier(args[0], kind),
    second: identifier(args[1], kind),
    filter: withFilter ? args[2] : undefined,
    body: (withFilter ? args[3] : args[2]) as ASTNode,
    typeCheck: checkTwoVar,
    evaluate: evaluateTwoVar,
    async: false,
  });
}

function checkTwoVar(checker: Checker, m: TwoVarMacro, ctx: CheckCtx): TypeDecl {
  const range = checker.check(m.receiver, ctx);
  const dyn = checker.getType('dyn');
  let k = dyn;
  let v = dyn;
  if (range.kind === 'list') {
    k = checker.getType('int');
    v = range.valueType ?? dyn;
  } else if (range.kind === 'map') {
    k = range.keyType ?? dyn;
    v = range.valueType ?? dyn;
  } else if (range.kind !== 'dyn') {
    throw checker.createError(
      'invalid_comprehension_range',
      `${m.kind}: range must be a list or a map`,
      m.receiver,
    );
  }
  m.ctx1 = ctx.forkWithVariable(m.first, k);
  m.ctx2 = m.ctx1.forkWithVariable(m.second, v);
  if (m.filter) expectBool(checker, checker.check(m.filter, m.ctx2), m, m.filter);
  const body = checker.check(m.body, m.ctx2);
  if (m.kind === 'all' || m.kind === 'exists' || m.kind === 'existsOne') expectBool(checker, body, m, m.body);
  if (m.kind === 'transformList') return checker.getType(`list<${typeString(body)}>`);
  return checker.getType(RESULT_TYPE[m.kind]);
}

function typeString(t: TypeDecl): string {
  return (t as { name?: string }).name ?? 'dyn';
}

function expectBool(checker: Checker, t: TypeDecl, m: TwoVarMacro, node: ASTNode): void {
  const name = typeString(t);
  if (name !== 'bool' && t.kind !== 'dyn') {
    throw checker.createError(
      'invalid_macro_argument',
      `${m.kind}: predicate must return bool, got ${name}`,
      node,
    );
  }
}

function evaluateTwoVar(ev: Evaluator, m: TwoVarMacro, ctx: unknown): unknown {
  const range = ev.run(m.receiver, ctx);
  const pairs: Array<[CelValue, CelValue]> = [];
  if (Array.isArray(range)) for (let i = 0; i < range.length; i++) pairs.push([BigInt(i), range[i]]);
  else if (range instanceof Map) for (const [k, x] of range) pairs.push([k, x]);
  else if (typeof range === 'object' && range !== null && isPlainMap(range)) {
    for (const k of Object.keys(range)) pairs.push([k, range[k]]);
  } else throw celError('invalid_comprehension_range', `${m.kind}: range must be a list or a map`);

  const c1 = (m.ctx1 as IterCtx).reuse(ctx);
  const c2 = (m.ctx2 as IterCtx).reuse(c1);
  const bind = (k: CelValue, x: CelValue) => {
    c1.setIterValue(k, ev);
    c2.setIterValue(x, ev);
    return c2;
  };
  switch (m.kind) {
    case 'all':
    case 'exists': {
      // CEL's commutative logic: a decisive result wins over errors met on other elements
      const decisive = m.kind === 'exists';
      let error: unknown;
      for (const [k, x] of pairs) {
        const r = ev.tryEval(m.body, bind(k, x));
        if (r === decisive) return decisive;
        if (r !== !decisive)
          error ??= r instanceof Error ? r : celError('invalid_macro_argument', 'predicate must return bool');
      }
      if (error) throw error;
      return !decisive;
    }
    case 'existsOne': {
      let n = 0;
      for (const [k, x] of pairs) if (ev.run(m.body, bind(k, x)) === true) n++;
      return n === 1;
    }
    case 'transformList': {
      const out: CelValue[] = [];
      for (const [k, x] of pairs) {
        const c = bind(k, x);
        if (m.filter && ev.run(m.filter, c) !== true) continue;
        out.push(ev.run(m.body, c));
      }
      return out;
    }
    case 'transformMap':
    case 'transformMapEntry': {
      // a Map keeps int keys (list ranges) as ints
      const out = new Map<CelValue, CelValue>();
      for (const [k, x] of pairs) {
        const c = bind(k, x);
        if (m.filter && ev.run(m.filter, c) !== true) continue;
        const r = ev.run(m.body, c);
        if (m.kind === 'transformMap') {
          out.set(k, r);
          continue;
        }
        for (const [key, val] of mapEntries(r)) {
          if (out.has(key))
            throw celError('invalid_macro_argument', `transformMapEntry: duplicate key ${key}`);
          out.set(key, val);
        }
      }
      return out;
    }
  }
}

function mapEntries(r: unknown): Array<[CelValue, CelValue]> {
  if (r instanceof Map) return [...r];
  if (typeof r === 'object' && r !== null && isPlainMap(r)) return Object.keys(r).map((k) => [k, r[k]]);
  throw celError('invalid_macro_argument', 'transformMapEntry: the expression must return a map');
}

function registerTwoVarComprehensions(env: Environment): void {
  const reg = (sig: string, kind: Kind, withFilter: boolean) =>
    fn(env, sig, twoVarMacro(kind, withFilter) as never);
  reg('list.all(ast, ast, ast): bool', 'all', false);
  reg('list.exists(ast, ast, ast): bool', 'exists', false);
  reg('list.existsOne(ast, ast, ast): bool', 'existsOne', false);
  reg('list.exists_one(ast, ast, ast): bool', 'existsOne', false);
  reg('list.transformList(ast, ast, ast): list', 'transformList', false);
  reg('list.transformList(ast, ast, ast, ast): list', 'transformList', true);
  reg('list.transformMap(ast, ast, ast): map', 'transformMap', false);
  reg('list.transformMap(ast, ast, ast, ast): map', 'transformMap', true);
  reg('list.transformMapEntry(ast, ast, ast): map', 'transformMapEntry', false);
  reg('list.transformMapEntry(ast, ast, ast, ast): map', 'transformMapEntry', true);
}
