/** Plain-text table with column widths fitted to the content and an optional total width. */
export interface Column {
  header: string;
  /** this column shrinks (with an ellipsis) when the table is wider than `maxWidth` */
  flexible?: boolean;
  align?: 'left' | 'right';
}

export function textTable(columns: readonly Column[], rawRows: readonly string[][], maxWidth = 0): string {
  const rows = rawRows.map((r) => r.map(clean));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => width(r[i] ?? ''))));
  const gap = 2;
  const total = widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1);
  if (maxWidth > 0 && total > maxWidth) {
    const flex = columns.findIndex((c) => c.flexible);
    if (flex >= 0) widths[flex] = Math.max(10, (widths[flex] ?? 0) - (total - maxWidth));
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const w = widths[i] ?? 0;
        const text = width(cell) > w ? `${cell.slice(0, Math.max(0, w - 1))}…` : cell;
        const pad = ' '.repeat(Math.max(0, w - width(text)));
        if (i === cells.length - 1 && columns[i]?.align !== 'right') return text;
        return columns[i]?.align === 'right' ? pad + text : text + pad;
      })
      .join(' '.repeat(gap))
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), line(widths.map((w) => '─'.repeat(w)))];
  for (const r of rows) out.push(line(r));
  return `${out.join('\n')}\n`;
}

/**
 * Advisory text is third-party data: control characters (newlines, tabs, terminal escape sequences) would
 * break rows or drive the terminal, so each becomes a space.
 */
function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}

function width(s: string): number {
  return [...s].length;
}
