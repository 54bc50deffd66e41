// JavaScript, TypeScript and CoffeeScript -> JavaScript for the sandbox, with a source map back
// to the user's file so every error is reported at the user's own line and column.
import path from 'node:path';
import { transformSync, type Message } from 'esbuild';
import CoffeeScript from 'coffeescript';
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

/**
 * Compiles on the calling thread: only the compile worker calls this (compiler/pool.ts); the hub
 * uses compileOffThread, so user source never blocks its event loop.
 */
export function compileToCode(file: string, source: string, language: Language = languageOf(file)): CompiledCode {
  if (language === 'coffee') return compileCoffee(file, source);
  return compileWithEsbuild(file, source, language);
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

function compileWithEsbuild(file: string, source: string, language: 'js' | 'ts'): CompiledCode {
  let result;
  try {
    result = transformSync(source, {
      loader: language,
      sourcefile: file,
      sourcemap: language === 'ts' ? 'external' : false,
      target: 'es2023',
      logLevel: 'silent',
      // Scripts are not modules: top-level declarations such as `function entityAction` stay global.
      format: undefined,
      supported: { 'top-level-await': false },
    });
  } catch (err) {
    const first = (err as { errors?: Message[] }).errors?.[0];
    if (!first?.location)
      throw new ScriptError(`${file}: ${(err as Error).message}`, { file, line: 1, col: 1 }, source);
    const loc = { file, line: first.location.line, col: first.location.column + 1 };
    throw new ScriptError(first.text, loc, source, 'SyntaxError');
  }
  if (language === 'js') return { language, code: source };
  return { language, code: result.code, map: result.map };
}

interface CoffeeLocation {
  first_line: number;
  first_column: number;
}

function compileCoffee(file: string, source: string): CompiledCode {
  let out: { js: string; v3SourceMap: string };
  try {
    out = CoffeeScript.compile(source, {
      bare: true,
      sourceMap: true,
      filename: file,
      inlineMap: false,
      header: false,
    }) as unknown as typeof out;
  } catch (err) {
    const loc = (err as { location?: CoffeeLocation }).location;
    const line = loc ? loc.first_line + 1 : 1;
    const col = loc ? loc.first_column + 1 : 1;
    throw new ScriptError(
      explainCoffee((err as Error).message, source, line),
      { file, line, col },
      source,
      'SyntaxError',
    );
  }
  return { language: 'coffee', code: out.js, map: out.v3SourceMap };
}

/** CoffeeScript's messages are terse; add the likely fix for the common ones. */
function explainCoffee(message: string, source: string, line: number): string {
  const text = source.split('\n')[line - 1] ?? '';
  const opens = (text.match(/\(/g) ?? []).length;
  const closes = (text.match(/\)/g) ?? []).length;
  if (/unmatched \)/.test(message) && closes > opens)
    return `${message}: this line has ${closes} ")" but ${opens} "(" — a "(" is missing`;
  if (/missing \)/.test(message)) return `${message}: a ")" is missing`;
  return message;
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
