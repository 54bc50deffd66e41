// `smart-home test [FILES]`: runs the tests next to the scripts (`*.test.js|ts|coffee`), each test
// in a simulated home of its own (src/simulate/home.ts) with the real sandbox and the real
// automation runner, and prints node:test's way: a line per test, the failing assertion at its
// file:line:col with the code around it, and a summary; the exit code says whether all passed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { isTestFile } from '../scripts/engine.js';
import { ScriptError } from '../scripts/errors.js';
import { typeCheckOffThread } from '../scripts/compiler/pool.js';
import { SimulatedHome } from './home.js';
import { testApi } from './test-api.js';

export interface TestRunOptions {
  config: Config;
  /** Test files; none: every test under the scripts dir. */
  files: string[];
  log: Logger;
  out: (line: string) => void;
  /** Where the virtual clock of each test starts (default: now). */
  start?: number;
}

export interface TestOutcome {
  file: string;
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

/** Every test file under `dir`, sorted (node_modules left out). */
export function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (isTestFile(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

const indent = (s: string, by = '    ') =>
  s
    .split('\n')
    .map((l) => by + l)
    .join('\n');

export async function runTests(o: TestRunOptions): Promise<{ outcomes: TestOutcome[]; failed: number }> {
  const scriptsDir = path.join(o.config.data_dir, 'scripts');
  const files = o.files.length > 0 ? o.files.map((f) => path.resolve(f)) : findTests(scriptsDir);
  for (const f of files) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new Error(`smart-home test: ${f} does not exist`);
    if (!isTestFile(path.basename(f)))
      throw new Error(`smart-home test: ${f} is not a test file (name it NAME.test.js, .test.ts or .test.coffee)`);
  }
  const outcomes: TestOutcome[] = [];
  const began = performance.now();
  const homeOptions = {
    config: o.config,
    scriptsDir,
    automationsFile: path.join(o.config.data_dir, 'automations.yaml'),
    log: o.log,
    ...(o.start !== undefined ? { start: o.start } : {}),
  };
  if (files.length === 0) o.out(`no tests: put NAME.test.js, .test.ts or .test.coffee files in ${scriptsDir}`);
  for (const file of files) {
    const shown = path.relative(process.cwd(), file) || file;
    o.out(`▶ ${shown}`);
    const source = readFileSync(file, 'utf8');
    if (file.endsWith('.ts')) {
      // a TypeScript test is checked against the script API and the test API (types/smart-home-test.d.ts) first
      const errors = await typeCheckOffThread(shown, source);
      if (errors.length > 0) {
        outcomes.push({ file: shown, name: shown, ok: false, ms: 0, error: errors.map((e) => e.report).join('\n') });
        o.out(`  ✖ ${shown}: ${errors.length} type error${errors.length > 1 ? 's' : ''}`);
        o.out(indent(errors.map((e) => e.report).join('\n')));
        continue;
      }
    }
    // each test in a home of its own: nothing one test did is seen by the next
    let names: string[] | undefined;
    for (let i = 0; names === undefined || i < names.length; i++) {
      const t0 = performance.now();
      let home: SimulatedHome | undefined;
      let name = names?.[i] ?? shown;
      let error: string | undefined;
      try {
        home = await SimulatedHome.start(homeOptions);
        const engine = home.hub.scripts;
        const script = await engine.load(shown, { name: `test:${shown}`, extra: testApi(home) }, source);
        const failedAtLoad = script.logs.find((l) => l.level === 'error');
        if (failedAtLoad) throw new Error(failedAtLoad.message);
        if (names === undefined) {
          const listed = await script.sandbox.invoke('__smartHomeTests', []);
          names = Array.isArray(listed.value) ? listed.value.map(String) : [];
          if (names.length === 0) {
            o.out(`  ﹣ no test() in ${shown}`);
            break;
          }
          name = names[0]!;
        }
        home.clear();
        const r = await script.sandbox.invoke('__smartHomeRunTest', [i]);
        if (r.error) error = home.shown(engine.describeGuestError(script.compiled, r.error).text);
      } catch (err) {
        error = err instanceof ScriptError ? err.report : (err as Error).message;
        if (home) error = home.shown(error);
        names ??= [];
      } finally {
        await home?.stop().catch(() => {});
      }
      const ms = performance.now() - t0;
      outcomes.push({ file: shown, name, ok: !error, ms, ...(error ? { error } : {}) });
      o.out(`  ${error ? '✖' : '✔'} ${name} (${ms.toFixed(0)}ms)`);
      if (error) o.out(indent(error));
      if (names.length === 0) break;
    }
  }
  const failed = outcomes.filter((t) => !t.ok).length;
  o.out(`ℹ tests ${outcomes.length}`);
  o.out(`ℹ pass ${outcomes.length - failed}`);
  o.out(`ℹ fail ${failed}`);
  o.out(`ℹ duration_ms ${(performance.now() - began).toFixed(0)}`);
  return { outcomes, failed };
}
