/** Plain-text table with column widths fitted to the content and an optional total width. */
export interface Column {
  header: string;
  /** this column shrinks (with an ellipsis) when the table is wider than `maxWidth` */
  flexible?: boolean;
  align?: 'left' | 'right';
}

export function textTable(columns: readonly Column[], rawRows: readonly string[][], maxWidth = 0): string {
  const rows = rawRows.map((r) => r.map(clean));
  // a loop, not Math.max(...rows): a spread of 100,000 widths is slow and can overflow the stack
  const widths = columns.map((c) => c.header.length);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) {
      const w = width(r[i] ?? '');
      if (w > (widths[i] ?? 0)) widths[i] = w;
    }
  }
  const gap = 2;
  const total = widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1);
  if (maxWidth > 0 && total > maxWidth) {
    const flex = columns.findIndex((c) => c.flexible);
    if (flex >= 0) widths[flex] = Math.max(10, (widths[flex] ?? 0) - (total - maxWidth));
  }
  const sep = ' '.repeat(gap);
  const line = (cells: readonly string[]) => {
    let s = '';
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i] ?? '';
      const w = widths[i] ?? 0;
      let text = cell;
      let tw = width(cell);
      if (tw > w) {
        text = `${cell.slice(0, Math.max(0, w - 1))}…`;
        tw = width(text);
      }
      if (i > 0) s += sep;
      const right = columns[i]?.align === 'right';
      if (i === cells.length - 1 && !right) s += text;
      else {
        const pad = tw < w ? ' '.repeat(w - tw) : '';
        s += right ? pad + text : text + pad;
      }
    }
    return s.trimEnd();
  };
  const out = [line(columns.map((c) => c.header)), line(widths.map((w) => '─'.repeat(w)))];
  for (const r of rows) out.push(line(r));
  return `${out.join('\n')}\n`;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]+/g;

/**
 * Advisory text is third-party data: control characters (newlines, tabs, terminal escape sequences) would
 * break rows or drive the terminal, so each becomes a space.
 */
function clean(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, ' ') : s;
}

const SURROGATE = /[\ud800-\udfff]/;

/** Width in code points (a surrogate pair is one); without surrogates that is the length. */
function width(s: string): number {
  return SURROGATE.test(s) ? [...s].length : s.length;
}
