// Errors located in the user's own source: `file:line:col: Name: message` plus a code frame.
export interface Location {
  file: string;
  line: number;
  col: number;
  unmapped?: boolean;
}

export class ScriptError extends Error {
  override name = 'ScriptError';
  constructor(
    readonly detail: string,
    readonly location: Location,
    readonly source?: string,
    readonly kind = 'Error',
  ) {
    super(formatLocated(location, `${kind}: ${detail}`));
  }

  /** The one-line message and, when the source is known, a code frame under it. */
  get report(): string {
    return this.source ? `${this.message}\n${codeFrame(this.source, this.location)}` : this.message;
  }
}

export function formatLocated(loc: Location, message: string): string {
  return `${loc.file}:${loc.line}:${loc.col}: ${message}`;
}

const FRAME_WIDTH = 160;

/** Two lines around `loc`, a `>` on its line and a caret under its column. */
export function codeFrame(source: string, loc: Location, context = 2): string {
  const lines = source.split(/\r?\n/);
  const from = Math.max(1, loc.line - context);
  const to = Math.min(lines.length, loc.line + context);
  const width = String(to).length;
  const out: string[] = [];
  // a long line (minified code, a 100 KB literal) shows a window around the column
  const start = loc.col > FRAME_WIDTH ? loc.col - Math.floor(FRAME_WIDTH / 2) : 1;
  const cut = (text: string) => {
    const part = text.slice(start - 1, start - 1 + FRAME_WIDTH);
    return `${start > 1 ? '…' : ''}${part}${text.length > start - 1 + FRAME_WIDTH ? '…' : ''}`;
  };
  for (let n = from; n <= to; n++) {
    const mark = n === loc.line ? '>' : ' ';
    out.push(`${mark} ${String(n).padStart(width)} | ${cut(lines[n - 1] ?? '')}`.trimEnd());
    if (n === loc.line)
      out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, loc.col - start + (start > 1 ? 1 : 0)))}^`);
  }
  return out.join('\n');
}
