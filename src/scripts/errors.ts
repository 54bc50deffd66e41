// Errors located in the user's own source: `file:line:col: Name: message` plus a code frame.
export interface Location { file: string; line: number; col: number; unmapped?: boolean }

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

/** Two lines around `loc`, a `>` on its line and a caret under its column. */
export function codeFrame(source: string, loc: Location, context = 2): string {
  const lines = source.split(/\r?\n/);
  const from = Math.max(1, loc.line - context);
  const to = Math.min(lines.length, loc.line + context);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) {
    const mark = n === loc.line ? '>' : ' ';
    out.push(`${mark} ${String(n).padStart(width)} | ${lines[n - 1]}`);
    if (n === loc.line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, loc.col - 1))}^`);
  }
  return out.join('\n');
}
