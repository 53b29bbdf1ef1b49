import type { ASTNode, Environment } from '@marcbachmann/cel-js';
import { boundedMemo } from '../../util/memo.js';
import { visitAst } from './ast.js';
import { celError, fn } from './values.js';

/**
 * Regular expressions with RE2 syntax (what Kubernetes' CEL uses) on JavaScript's engine: `find` and
 * `findAll` from Kubernetes' regex library, and the standard `matches`, rerouted at compile time to the
 * same translation so that RE2-only syntax works in both (leading `(?i)`/`(?s)`/`(?m)`, `(?P<name>`, `\A`,
 * `\z`, `\Q...\E`, POSIX classes like `[[:alpha:]]`). JavaScript features RE2 lacks (backreferences,
 * lookaround) are accepted rather than rejected.
 */

/** The function `matches` calls are renamed to (see rewriteMatches). */
export const MATCHES_FN = 'k8sMatches';

/** A compiled, cached JS RegExp (global flag set, for find/findAll) for an RE2 pattern. */
export const re2 = boundedMemo(compileRe2, 512);

function compileRe2(pattern: string): RegExp {
  try {
    const { source, flags } = translateRe2(pattern);
    return new RegExp(source, `${flags}g`);
  } catch (e) {
    throw celError(
      'invalid_regex',
      `invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`,
    );
  }
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** RE2 pattern -> JavaScript source and flags. Throws on RE2 syntax JavaScript cannot express. */
export function translateRe2(pattern: string): { source: string; flags: string } {
  let flags = '';
  let p = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(p);
  if (lead) {
    if (lead[1]?.includes('U')) throw new Error('the ungreedy flag (?U) is not supported');
    flags = [...new Set(lead[1])].join('');
    p = p.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) throw new Error('trailing backslash');
      if (n === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        const lit = p.slice(i + 2, end < 0 ? p.length : end);
        out += lit.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? p.length : end + 1;
        continue;
      }
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'z') out += '(?![\\s\\S])';
      else if (n === 'C' || n === 'p' || n === 'P') throw new Error(`\\${n} is not supported`);
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && p[i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(i));
        const set = m ? POSIX[m[2] as string] : undefined;
        if (m && set !== undefined) {
          if (m[1]) throw new Error(`negated POSIX class [:^${m[2]}:] is not supported`);
          out += set;
          i += m[0].length - 1;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // a ']' right after '[' or '[^' is a literal in RE2
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(' && p[i + 1] === '?') {
      if (p[i + 2] === 'P' && p[i + 3] === '<') {
        out += '(?<';
        i += 3;
        continue;
      }
      if (/^\(\?[imsU-]+[:)]/.test(p.slice(i)))
        throw new Error('inline flags are only supported at the start');
    }
    out += c;
  }
  return { source: out, flags };
}

export function registerRegex(env: Environment): void {
  fn(env, 'string.find(string): string', (s: string, pattern: string) => {
    const re = re2(pattern);
    re.lastIndex = 0;
    const m = re.exec(s);
    return m ? m[0] : '';
  });
  fn(env, 'string.findAll(string): list<string>', (s: string, pattern: string) => findAll(s, pattern, -1));
  fn(env, 'string.findAll(string, int): list<string>', (s: string, pattern: string, n: bigint) =>
    findAll(s, pattern, Number(n)),
  );
  fn(env, `string.${MATCHES_FN}(string): bool`, matches);
  fn(env, `${MATCHES_FN}(string, string): bool`, matches);
}

function matches(s: string, pattern: string): boolean {
  const re = re2(pattern);
  re.lastIndex = 0;
  return re.test(s);
}

/** Go's Regexp.FindAllString: successive non-overlapping matches; an empty match right after a match is skipped. */
export function findAll(s: string, pattern: string, n: number): string[] {
  const re = re2(pattern);
  const out: string[] = [];
  if (n === 0) return out;
  let pos = 0;
  let prevEnd = -1;
  while (pos <= s.length && (n < 0 || out.length < n)) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    let accept = true;
    if (end === start) {
      if (start === prevEnd) accept = false;
      pos = end + 1;
    } else pos = end;
    prevEnd = end;
    if (accept) out.push(m[0]);
  }
  return out;
}

/**
 * Reroutes `x.matches(re)` and `matches(x, re)` in a parsed expression to the RE2-translating function.
 * cel-js' own `matches` hands the pattern to RegExp unchanged and cannot be overridden; the parser leaves
 * the call's name in the AST, and the type checker resolves names afterwards, so renaming before the
 * check is enough. Macro expansions share the argument nodes, so they are covered too.
 */
export function rewriteMatches(root: ASTNode): void {
  visitAst(root, (n) => {
    const args = n.args;
    if ((n.op !== 'rcall' && n.op !== 'call') || !Array.isArray(args) || args[0] !== 'matches') return;
    const argCount = ((n.op === 'rcall' ? args[2] : args[1]) as unknown[]).length;
    if ((n.op === 'rcall' && argCount === 1) || (n.op === 'call' && argCount === 2)) args[0] = MATCHES_FN;
  });
}
