// Shared modules for scripts: `import { dim } from './lib/lights'` (or `require('./lib/lights')`)
// bundles the modules a script uses into it at compile time, with esbuild (in the compile worker).
// Each script gets its own copy (its own instance); the bundle is still a plain script, so its
// top-level declarations (entityAction, init, ...) stay global. Only relative paths inside the
// scripts dir resolve, and e154's `require(name)` of a stored script by its name (lib/NAME or NAME):
// a package name, a path outside it or through a symlink out of it is a located
// error, as are a missing module and an import cycle. Modules may be TS, JS or CoffeeScript.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { build, type Message, type Plugin } from 'esbuild';
import CoffeeScript from 'coffeescript';
import { ScriptError } from './errors.js';
import type { CompiledCode, Language } from './compiled.js';

export { usesModules } from './compiled.js';

const EXTENSIONS = ['.ts', '.js', '.coffee'];
/** A name as e154 gives a stored script to require(): no path, no leading dot. */
const STORED_NAME = /^[A-Za-z0-9_][\w.-]*$/;

const within = (dir: string, file: string) => {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

function guard(scriptsDir: string): Plugin {
  const root = existsSync(scriptsDir) ? realpathSync(scriptsDir) : scriptsDir;
  return {
    name: 'scripts-dir-only',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        if (args.kind === 'require-call' && STORED_NAME.test(args.path)) return storedScript(args.path);
        if (!args.path.startsWith('./') && !args.path.startsWith('../'))
          return {
            errors: [
              {
                text: `cannot import "${args.path}": scripts import modules of the scripts dir by a relative path, like "./lib/lights" (there are no packages here)`,
              },
            ],
          };
        const base = path.resolve(args.resolveDir, args.path);
        const candidates = [
          base,
          ...EXTENSIONS.map((e) => base + e),
          ...EXTENSIONS.map((e) => path.join(base, `index${e}`)),
        ];
        const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
        if (!found)
          return {
            errors: [
              {
                text: `cannot find module "${args.path}" (looked for ${path.relative(scriptsDir, base) || '.'} with .ts, .js or .coffee in ${scriptsDir})`,
              },
            ],
          };
        return inside(args.path, found);
      });
      /** e154's `require(name)`: a stored script by its name, in lib/ (first) or the scripts dir itself. */
      const storedScript = (name: string) => {
        const found = [path.join(scriptsDir, 'lib', name), path.join(scriptsDir, name)]
          .flatMap((base) => [base, ...EXTENSIONS.map((e) => base + e)])
          .find((c) => existsSync(c) && statSync(c).isFile());
        if (!found)
          return {
            errors: [
              {
                text: `cannot find script "${name}": require(name) loads a script of the scripts dir by its name (lib/${name} or ${name}, with .ts, .js or .coffee, in ${scriptsDir}); there are no packages here`,
              },
            ],
          };
        return inside(name, found);
      };
      const inside = (asked: string, found: string) => {
        const real = realpathSync(found);
        if (!within(root, real))
          return {
            errors: [
              {
                text: `cannot import "${asked}": it is outside the scripts dir (${scriptsDir}); modules live in it, e.g. in lib/`,
              },
            ],
          };
        return { path: real };
      };
      b.onLoad({ filter: /\.coffee$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        try {
          const js = CoffeeScript.compile(source, { bare: true, inlineMap: true, filename: args.path, header: false });
          return { contents: js as unknown as string, loader: 'js' };
        } catch (err) {
          const loc = (err as { location?: { first_line: number; first_column: number } }).location;
          return {
            errors: [
              {
                text: (err as Error).message,
                location: {
                  file: args.path,
                  line: (loc?.first_line ?? 0) + 1,
                  column: loc?.first_column ?? 0,
                  lineText: source.split('\n')[loc?.first_line ?? 0] ?? '',
                },
              },
            ],
          };
        }
      });
    },
  };
}

/** The first cycle among the modules (each file's imports from esbuild's metafile), or undefined. */
function findCycle(graph: Map<string, string[]>, from: string): string[] | undefined {
  const stack: string[] = [];
  const done = new Set<string>();
  const visit = (n: string): string[] | undefined => {
    const at = stack.indexOf(n);
    if (at >= 0) return [...stack.slice(at), n];
    if (done.has(n)) return undefined;
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    done.add(n);
    return undefined;
  };
  return visit(from);
}

/** Where a file imports `target` (its line and column), for a located cycle error. */
function importSite(file: string, target: string): { line: number; col: number } {
  const lines = readFileSync(file, 'utf8').split('\n');
  const stem = path.basename(target).replace(/\.(ts|js|coffee)$/, '');
  const i = lines.findIndex((l) => /\b(import|require)\b/.test(l) && l.includes(stem));
  return i < 0 ? { line: 1, col: 1 } : { line: i + 1, col: lines[i]!.search(/\S/) + 1 };
}

/**
 * Bundles a script with the modules it imports. `code` is the script's own JavaScript (for
 * CoffeeScript: its compiled output with an inline map), `loader` how esbuild reads it.
 */
export async function bundleScript(
  file: string,
  code: string,
  language: Language,
  scriptsDir: string,
  source: string,
): Promise<CompiledCode & { modules: string[] }> {
  const outfile = path.join(path.dirname(file), '__bundle__.js');
  let result;
  try {
    result = await build({
      stdin: {
        contents: code,
        sourcefile: path.basename(file),
        resolveDir: path.dirname(path.resolve(file)),
        loader: language === 'ts' ? 'ts' : 'js',
      },
      // paths in messages, the metafile and the map are relative to the script's dir
      absWorkingDir: path.dirname(path.resolve(file)),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      write: false,
      outfile,
      sourcemap: 'external',
      sourcesContent: true,
      target: 'es2023',
      logLevel: 'silent',
      metafile: true,
      mainFields: [],
      supported: { 'top-level-await': false },
      plugins: [guard(scriptsDir)],
    });
  } catch (err) {
    const first = (err as { errors?: Message[] }).errors?.[0];
    if (!first) throw new ScriptError(String((err as Error).message), { file, line: 1, col: 1 }, source);
    const at = first.location;
    const dir = path.dirname(path.resolve(file));
    const inModule = !!at?.file && at.file !== '<stdin>' && path.resolve(dir, at.file) !== path.resolve(file);
    const where = inModule ? path.resolve(dir, at!.file) : file;
    const frame = inModule ? readFileSync(where, 'utf8') : source;
    throw new ScriptError(
      first.text,
      { file: where, line: at?.line ?? 1, col: (at?.column ?? 0) + 1 },
      frame,
      /^cannot (import|find (module|script))/.test(first.text) ? 'ImportError' : at ? 'SyntaxError' : 'Error',
    );
  }
  const out = result.outputFiles.find((f) => f.path.endsWith('.js'))!;
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'))?.text;
  // the modules (absolute paths) and who imports whom
  const inputs = result.metafile!.inputs;
  const abs = (p: string) => (p === '<stdin>' ? path.resolve(file) : path.resolve(path.dirname(path.resolve(file)), p));
  const graph = new Map<string, string[]>();
  for (const [p, info] of Object.entries(inputs))
    graph.set(
      abs(p),
      info.imports.map((i) => abs(i.path)),
    );
  const cycle = findCycle(graph, path.resolve(file));
  if (cycle) {
    const [a, b] = [cycle[0]!, cycle[1]!];
    const site = importSite(a === path.resolve(file) ? file : a, b);
    const rel = (p: string) => path.relative(scriptsDir, p) || path.basename(p);
    throw new ScriptError(
      `import cycle: ${cycle.map(rel).join(' → ')}; move what both need into a module of its own`,
      { file: a, line: site.line, col: site.col },
      a === path.resolve(file) ? source : readFileSync(a, 'utf8'),
      'ImportError',
    );
  }
  if (/^\s*export\s/m.test(out.text))
    throw new ScriptError(
      'a script does not export anything (modules in lib/ do)',
      { file, line: 1, col: 1 },
      source,
      'SyntaxError',
    );
  const modules = [...graph.keys()].filter((p) => p !== path.resolve(file));
  return { language, code: out.text, ...(map ? { map } : {}), modules };
}
