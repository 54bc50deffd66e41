// What a compiled script is, on the hub's main thread: its language, its code and the map back to
// the user's lines. The compilers themselves (esbuild, CoffeeScript: compile.ts) are loaded only
// in the compile worker, so the hub does not hold them in memory (about 25 MiB).
import path from 'node:path';
import { SourceMapConsumer, type RawSourceMap } from 'source-map-js';
import { ScriptError, type Location } from './errors.js';

export type Language = 'js' | 'ts' | 'coffee';

export interface CompiledScript {
  file: string;
  /** The name the sandbox knows the code by (no spaces or parentheses, so stack frames parse). */
  evalName: string;
  language: Language;
  source: string;
  code: string;
  /** Maps a 1-based line/column of `code` to the user's source (a module's file, for code of a module). */
  locate(line: number, col: number): Location;
  /** The modules bundled into it (absolute paths): a change to one reloads it. */
  modules: string[];
  /** The text of a bundled module, for the code frame of an error in it. */
  sourceOf(file: string): string | undefined;
}

export function languageOf(file: string): Language {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.ts') return 'ts';
  if (ext === '.coffee' || ext === '.litcoffee') return 'coffee';
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return 'js';
  throw new ScriptError(`${file}: unknown script language "${ext || '(no extension)'}": use .js, .ts or .coffee`, {
    file,
    line: 1,
    col: 1,
  });
}

/** Does the source import or require another file? (Cheap: most scripts do not, and skip the bundler.) */
export function usesModules(source: string): boolean {
  return /(^|[\n;])\s*import\s+(?:[\w*{}\s,$]+\s+from\s+)?['"]|\brequire\s*\(\s*['"]/.test(source);
}

/** Compiled code and its source map as plain data (what the compile worker sends back). */
export interface CompiledCode {
  language: Language;
  code: string;
  map?: string;
  /** The modules bundled in (absolute paths), when it imports any. */
  modules?: string[];
}

/** The script the sandbox runs, from compiled code: errors map back to `source` through `map`. */
export function fromCompiled(
  file: string,
  source: string,
  language: Language,
  code: string,
  map?: string,
  modules: string[] = [],
): CompiledScript {
  const raw = map ? (JSON.parse(map) as RawSourceMap) : undefined;
  const bundled = modules.length > 0;
  return {
    file,
    evalName: evalNameOf(file),
    language,
    source,
    code,
    modules,
    locate: raw ? mapper(file, raw, bundled) : (line, col) => ({ file, line, col }),
    sourceOf: (f) => {
      if (!raw?.sourcesContent) return undefined;
      const i = raw.sources.findIndex((s) => sourcePath(file, s) === path.resolve(f));
      return i >= 0 ? (raw.sourcesContent[i] ?? undefined) : undefined;
    },
  };
}

/** A bundle's source (relative to the script's dir, as esbuild writes it) as an absolute path. */
const sourcePath = (file: string, source: string) => path.resolve(path.dirname(path.resolve(file)), source);

function mapper(file: string, raw: RawSourceMap, bundled = false): CompiledScript['locate'] {
  let consumer: SourceMapConsumer | undefined;
  return (line, col) => {
    // the numbers come from a stack the script may have written itself: never trust them
    if (!Number.isSafeInteger(line) || !Number.isSafeInteger(col) || line < 1 || col < 1)
      return { file, line: 1, col: 1, unmapped: true };
    try {
      consumer ??= new SourceMapConsumer(raw);
      // The generated column may sit in the middle of a mapped segment; search left for one.
      const pos = consumer.originalPositionFor({ line, column: col - 1, bias: SourceMapConsumer.GREATEST_LOWER_BOUND });
      if (pos.line == null) return { file, line, col, unmapped: true };
      // in a bundle, code of a module is located in the module's own file
      const at = bundled && pos.source ? sourcePath(file, pos.source) : file;
      return { file: at === path.resolve(file) ? file : at, line: pos.line, col: (pos.column ?? 0) + 1 };
    } catch {
      return { file, line, col, unmapped: true };
    }
  };
}

function evalNameOf(file: string): string {
  return file.replace(/[()\s]/g, '_');
}
