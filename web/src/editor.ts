// The script editor: CodeMirror 6 with JS/TS/CoffeeScript highlighting, diagnostics from the
// hub's own compiler and type checker as you type (POST /api/scripts/check), and completion of
// the script API generated from types/smart-home.d.ts.
import { EditorView, basicSetup } from 'codemirror';
import { Compartment, EditorState } from '@codemirror/state';
import { javascript } from '@codemirror/lang-javascript';
import { StreamLanguage } from '@codemirror/language';
import { coffeeScript } from '@codemirror/legacy-modes/mode/coffeescript';
import { linter, lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from '@codemirror/lint';
import { autocompletion, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import completions from './generated/completions.json';
import { api } from './api.js';

export interface Diagnostic {
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
  source: string;
}

const languageOf = (name: string) =>
  name.endsWith('.ts')
    ? javascript({ typescript: true })
    : name.endsWith('.coffee')
      ? StreamLanguage.define(coffeeScript)
      : javascript();

function complete(ctx: CompletionContext): CompletionResult | null {
  const member = ctx.matchBefore(/([A-Za-z_$][\w$]*)\.([\w$]*)$/);
  if (member) {
    const [obj] = member.text.split('.');
    const list = (
      completions.members as Record<string, { label: string; type: string; detail: string; info: string }[]>
    )[obj!];
    if (list)
      return {
        from: member.from + obj!.length + 1,
        options: list.map((m) => ({ label: m.label, type: m.type, detail: m.detail.split('\n')[0], info: m.info })),
      };
  }
  const word = ctx.matchBefore(/[A-Za-z_$][\w$]*$/);
  if (!word && !ctx.explicit) return null;
  return {
    from: word?.from ?? ctx.pos,
    options: completions.globals.map((g) => ({ label: g.label, type: g.type, detail: g.detail, info: g.info })),
  };
}

export function toCm(doc: EditorState['doc'], d: Diagnostic): CmDiagnostic {
  const line = doc.line(Math.min(Math.max(1, d.line), doc.lines));
  const from = Math.min(line.from + Math.max(0, d.col - 1), line.to);
  return {
    from,
    to: Math.max(from, Math.min(line.to, from + 1)),
    severity: d.severity,
    message: d.message,
    source: d.source,
  };
}

export class ScriptEditor {
  readonly view: EditorView;
  private readonly lang = new Compartment();
  /** Errors from the last run (not from the compiler), shown until the text changes. */
  runtime: Diagnostic[] = [];
  onDiagnostics?: (d: Diagnostic[]) => void;

  constructor(
    parent: HTMLElement,
    private name: string,
    text: string,
    onChange: () => void,
  ) {
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: text,
        extensions: [
          basicSetup,
          this.lang.of(languageOf(name)),
          lintGutter(),
          linter(async (view) => this.check(view.state.doc.toString(), view.state.doc), { delay: 400 }),
          autocompletion({ override: [complete] }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) {
              this.runtime = [];
              onChange();
            }
          }),
        ],
      }),
    });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  reset(name: string, text: string): void {
    this.name = name;
    this.runtime = [];
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: text },
      effects: this.lang.reconfigure(languageOf(name)),
    });
  }

  /** Shows diagnostics now (e.g. the runtime error a saved script reported). */
  show(diagnostics: Diagnostic[]): void {
    this.runtime = diagnostics.filter((d) => d.source === 'runtime');
    this.view.dispatch(
      setDiagnostics(
        this.view.state,
        diagnostics.map((d) => toCm(this.view.state.doc, d)),
      ),
    );
    this.onDiagnostics?.(diagnostics);
  }

  private async check(text: string, doc: EditorState['doc']): Promise<CmDiagnostic[]> {
    let found: Diagnostic[] = [];
    try {
      found = await api<Diagnostic[]>('POST', '/api/scripts/check', { name: this.name, source: text });
    } catch {
      /* offline or logged out: keep the last marks */
    }
    if (this.view.state.doc.toString() !== text) return [];
    const all = [...found, ...this.runtime];
    this.onDiagnostics?.(all);
    return all.map((d) => toCm(doc, d));
  }
}
