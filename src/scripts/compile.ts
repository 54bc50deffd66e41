// JavaScript, TypeScript and CoffeeScript -> JavaScript for the sandbox, with a source map back
// to the user's file so every error is reported at the user's own line and column.
// Runs in the compile worker only (compiler/worker.ts); the hub's side is compiled.ts.
import { transformSync, type Message } from 'esbuild';
import CoffeeScript from 'coffeescript';
import { ScriptError } from './errors.js';
import { languageOf, type CompiledCode, type Language } from './compiled.js';
import { bundleScript, usesModules } from './modules.js';
import path from 'node:path';

export { fromCompiled, languageOf, type CompiledCode, type CompiledScript, type Language } from './compiled.js';

/**
 * Compiles on the calling thread: only the compile worker calls this (compiler/pool.ts); the hub
 * uses compileOffThread, so user source never blocks its event loop.
 */
export async function compileToCode(
  file: string,
  source: string,
  language: Language = languageOf(file),
): Promise<CompiledCode> {
  // a script that imports modules (./lib/...) is bundled with them; the rest is compiled alone
  if (usesModules(source)) {
    const own = language === 'coffee' ? compileCoffee(file, source, true).code : source;
    return bundleScript(file, own, language, path.dirname(path.resolve(file)), source);
  }
  if (language === 'coffee') return compileCoffee(file, source);
  return compileWithEsbuild(file, source, language);
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

function compileCoffee(file: string, source: string, inlineMap = false): CompiledCode {
  let out: { js: string; v3SourceMap: string };
  try {
    const r = CoffeeScript.compile(source, {
      bare: true,
      sourceMap: !inlineMap,
      filename: file,
      inlineMap,
      header: false,
    }) as unknown as typeof out | string;
    // with inlineMap the map is a comment at the end of the code (the bundler reads it)
    out = typeof r === 'string' ? { js: r, v3SourceMap: '' } : r;
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
  return { language: 'coffee', code: out.js, ...(out.v3SourceMap ? { map: out.v3SourceMap } : {}) };
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
