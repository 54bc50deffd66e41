// The scripts directory as the API and UI see it: list, read, save, delete and check scripts.
// A script saved with errors is stored (nothing the user typed is lost) but not activated; its
// diagnostics say why, at the user's line and column.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { languageOf } from './compiled.js';
import { ScriptError } from './errors.js';
import { compileOffThread, typeCheckOffThread } from './compiler/pool.js';
import type { ScriptEngine, ScriptInfo } from './engine.js';

export interface Diagnostic {
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
  source: 'compile' | 'types' | 'runtime';
}

export interface ScriptFile {
  name: string;
  language: string;
  size: number;
  modified: number;
  /** running now (action scripts run per call and are never "active") */
  active: boolean;
  kind: 'script' | 'action';
  diagnostics: Diagnostic[];
  info?: ScriptInfo;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.(js|ts|coffee)$/;

export class ScriptNameError extends Error {
  override name = 'ScriptNameError';
}

/** Compile errors, then (TypeScript) type errors, each at the user's line and column. */
export async function diagnose(file: string, source: string): Promise<Diagnostic[]> {
  const at = (e: ScriptError, src: Diagnostic['source']): Diagnostic => ({
    line: e.location.line,
    col: e.location.col,
    message: `${e.kind}: ${e.detail}`,
    severity: 'error',
    source: src,
  });
  let compiled;
  try {
    compiled = await compileOffThread(file, source);
  } catch (err) {
    if (err instanceof ScriptError) return [at(err, 'compile')];
    throw err;
  }
  return compiled.language === 'ts' ? (await typeCheckOffThread(file, source)).map((e) => at(e, 'types')) : [];
}

export class ScriptLibrary {
  private readonly problems = new Map<string, Diagnostic[]>();

  constructor(
    private readonly dir: string,
    private readonly engine: ScriptEngine,
    private readonly isActionScript: (file: string) => boolean,
  ) {}

  static checkName(name: string): void {
    if (!NAME.test(name) || name.includes('..')) {
      throw new ScriptNameError(
        `script name "${name}" is not allowed: use letters, digits, "_", "-" or "." ending in .js, .ts or .coffee (no "/")`,
      );
    }
  }

  list(): ScriptFile[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => NAME.test(f))
      .sort()
      .map((f) => this.describe(f));
  }

  read(name: string): (ScriptFile & { source: string }) | undefined {
    ScriptLibrary.checkName(name);
    const file = path.join(this.dir, name);
    if (!existsSync(file)) return undefined;
    return { ...this.describe(name), source: readFileSync(file, 'utf8') };
  }

  /** Stores the source, then (re)starts the script if it compiles; returns what it looks like now. */
  async save(name: string, source: string): Promise<ScriptFile> {
    ScriptLibrary.checkName(name);
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, name);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, source);
    renameSync(tmp, file);
    return this.activate(name, source);
  }

  /** Runs the stored script again from its top level (a restart). */
  async run(name: string): Promise<ScriptFile | undefined> {
    const s = this.read(name);
    return s && this.activate(name, s.source);
  }

  remove(name: string): boolean {
    ScriptLibrary.checkName(name);
    const file = path.join(this.dir, name);
    if (!existsSync(file)) return false;
    this.engine.unload(name);
    this.problems.delete(name);
    rmSync(file);
    return true;
  }

  private async activate(name: string, source: string): Promise<ScriptFile> {
    const file = path.join(this.dir, name);
    this.engine.enable(name); // saved or run again by someone: a script disabled after a crash may start
    const found = await diagnose(file, source);
    this.problems.set(name, found);
    if (found.length > 0 || this.isActionScript(file)) {
      this.engine.unload(name);
      return this.describe(name);
    }
    try {
      await this.engine.load(file, {}, source);
    } catch (err) {
      if (!(err instanceof ScriptError)) throw err;
      this.problems.set(name, [
        {
          line: err.location.line,
          col: err.location.col,
          message: `${err.kind}: ${err.detail}`,
          severity: 'error',
          source: 'compile',
        },
      ]);
    }
    return this.describe(name);
  }

  private describe(name: string): ScriptFile {
    const file = path.join(this.dir, name);
    const st = statSync(file);
    const script = this.engine.get(name);
    const runtime: Diagnostic[] = script?.lastError
      ? [{ ...script.lastError, severity: 'error', source: 'runtime' }]
      : [];
    const disabled = this.engine.disabledReason(name);
    if (disabled)
      runtime.push({
        line: 1,
        col: 1,
        message: `disabled: ${disabled}; save or run it to enable it again`,
        severity: 'error',
        source: 'runtime',
      });
    return {
      name,
      language: languageOf(file),
      size: st.size,
      modified: st.mtimeMs,
      active: script !== undefined,
      kind: this.isActionScript(file) ? 'action' : 'script',
      diagnostics: [...(this.problems.get(name) ?? []), ...runtime],
      info: script ? this.engine.list().find((s) => s.name === name) : undefined,
    };
  }
}
