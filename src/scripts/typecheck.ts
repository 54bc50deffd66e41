// Type-checks a TypeScript script against the shipped script API (types/smart-home.d.ts).
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { realpathSync } from 'node:fs';
import type ts from 'typescript';
import { ScriptError } from './errors.js';
import { usesModules } from './compiled.js';

export const API_TYPES = fileURLToPath(new URL('../../../types/smart-home.d.ts', import.meta.url));
/** The test API of smart-home test, for test files (NAME.test.ts) only. */
export const TEST_TYPES = fileURLToPath(new URL('../../../types/smart-home-test.d.ts', import.meta.url));

/** TypeScript is big (~60 MiB in memory): it is loaded the first time a script is type-checked. */
let compiler: Promise<typeof ts> | undefined;

export async function typeCheck(file: string, source: string): Promise<ScriptError[]> {
  const ts = await (compiler ??= import('typescript').then((m) => m.default));
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    types: [],
    skipLibCheck: true,
    noUnusedLocals: false,
    allowJs: false,
    // A script's imports are followed only into TypeScript modules of its own dir (the scripts
    // dir, e.g. lib/): `import {key} from '/home/pi/secret'` once put the file's values into the
    // error text. Only the script, its .ts modules, the script API and TypeScript's lib files are read.
    // (a script without imports resolves nothing: it checks as fast as before modules existed)
    ...(usesModules(source)
      ? { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, noResolve: false }
      : { noResolve: true }),
  };
  const abs = path.resolve(file);
  const types = /\.test\.ts$/.test(abs) ? [API_TYPES, TEST_TYPES] : [API_TYPES];
  const dir = (() => {
    try {
      return realpathSync(path.dirname(abs));
    } catch {
      return path.dirname(abs);
    }
  })();
  const inScriptsDir = (f: string) => {
    if (!/\.(d\.)?ts$/.test(f)) return false;
    let real: string;
    try {
      real = realpathSync(f);
    } catch {
      real = path.resolve(f);
    }
    const rel = path.relative(dir, real);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  const host = ts.createCompilerHost(options, true);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  const libDir = path.resolve(host.getDefaultLibLocation!());
  const allowed = (f: string) => {
    const p = path.resolve(f);
    return (
      p === abs ||
      types.includes(p) ||
      (path.dirname(p) === libDir && /^lib\.[\w.]+\.d\.ts$/.test(path.basename(p))) ||
      inScriptsDir(p)
    );
  };
  host.readFile = (f) => (path.resolve(f) === abs ? source : allowed(f) ? read(f) : undefined);
  host.fileExists = (f) => path.resolve(f) === abs || (allowed(f) && exists(f));
  const program = ts.createProgram([abs, ...types], options, host);
  const diags = [
    ...program.getSyntacticDiagnostics(program.getSourceFile(abs)),
    ...program.getSemanticDiagnostics(program.getSourceFile(abs)),
  ];
  return (
    diags
      .filter((d) => d.file && path.resolve(d.file.fileName) === abs)
      // a JavaScript or CoffeeScript module has no types (it is `any` here); the bundler reports a missing one
      .filter(
        (d) =>
          !(d.code === 2307 || d.code === 7016) ||
          !/['"]\.\.?\//.test(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      )
      .map((d) => {
        const { line, character } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return new ScriptError(
          `${ts.flattenDiagnosticMessageText(d.messageText, '\n')} (TS${d.code})`,
          { file, line: line + 1, col: character + 1 },
          source,
          'TypeError',
        );
      })
  );
}
