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
  /** Maps a 1-based line/column of `code` to the user's source. */
  locate(line: number, col: number): Location;
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

/** Compiled code and its source map as plain data (what the compile worker sends back). */
export interface CompiledCode {
  language: Language;
  code: string;
  map?: string;
}

/** The script the sandbox runs, from compiled code: errors map back to `source` through `map`. */
export function fromCompiled(
  file: string,
  source: string,
  language: Language,
  code: string,
  map?: string,
): CompiledScript {
  return {
    file,
    evalName: evalNameOf(file),
    language,
    source,
    code,
    locate: map ? mapper(file, JSON.parse(map) as RawSourceMap) : (line, col) => ({ file, line, col }),
  };
}

function mapper(file: string, raw: RawSourceMap): CompiledScript['locate'] {
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
      return { file, line: pos.line, col: (pos.column ?? 0) + 1 };
    } catch {
      return { file, line, col, unmapped: true };
    }
  };
}

function evalNameOf(file: string): string {
  return file.replace(/[()\s]/g, '_');
}
