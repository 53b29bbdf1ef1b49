import type { ASTNode } from '@marcbachmann/cel-js';

/** A parsed node as far as the walkers here need it: its operator and operands. */
export interface AstNodeLike {
  op: string;
  args: unknown;
}

/**
 * Visits every node of a parsed cel-js expression (depth first, each node once). Operands are nodes,
 * arrays of nodes or literals; macro expansions reuse the argument nodes, so walking the call covers them.
 */
export function visitAst(root: ASTNode, fn: (node: AstNodeLike) => void): void {
  const seen = new Set<unknown>();
  const visit = (n: unknown): void => {
    if (typeof n !== 'object' || n === null || seen.has(n)) return;
    seen.add(n);
    if (Array.isArray(n)) {
      for (const x of n) visit(x);
      return;
    }
    const node = n as Partial<AstNodeLike>;
    if (typeof node.op !== 'string') return;
    fn(node as AstNodeLike);
    visit(node.args);
  };
  visit(root);
}
