// Shared modules: scripts import modules of the scripts dir (lib/), in TS, JS or CoffeeScript,
// bundled per script at compile time (each script its own instance); an error in a module is
// located in the module; a missing module, a package name, a path out of the scripts dir (also
// through a symlink) and an import cycle are located errors; a change to a module reloads the
// scripts that use it; a TypeScript script that imports a module type-checks against it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { capturingLogger, removeDir, runCli, startHub, tempDir, waitFor, type TestHub } from '../helpers.js';

let h: TestHub;
let dir: string;
let scripts: string;
const logged = capturingLogger('info');

const files: Record<string, string> = {
  'lib/lights.ts':
    'export function dim(level: number): string {\n  return `dim to ${level} %`;\n}\nexport const counter = { n: 0 };\n',
  'lib/util.coffee': "export twice = (x) -> x * 2\nexport boom = -> throw new Error('the module failed')\n",
  'lib/a.js': "import { b } from './b';\nexport const a = 1 + b;\n",
  'lib/b.js': "import { a } from './a';\nexport const b = 2;\nexport const later = () => a;\n",
  'hall.ts':
    "import { dim, counter } from './lib/lights';\nimport { twice } from './lib/util';\ncounter.n++;\nconsole.log(dim(twice(20)), 'instance', counter.n);\n",
  'stairs.js':
    "const { counter, dim } = require('./lib/lights');\ncounter.n++;\nconsole.log(dim(10), 'instance', counter.n);\n",
  'porch.coffee':
    "import { dim } from './lib/lights'\nimport { boom } from './lib/util'\nconsole.log dim(5)\nsetTimeout (-> boom()), 1\n",
  'package.js': "\nimport _ from 'lodash';\n",
  'missing.js': "// one that is not there\nimport { y } from './lib/nothing';\n",
  'outside.js': "import { s } from '../secret';\n",
  'linked.js': "import { s } from './lib/link';\n",
  'cycle.js': "import { a } from './lib/a';\nconsole.log(a);\n",
  'plain.js': "const module = 'its own';\nconsole.log('no modules', module);\n",
  // e154's require(name): another stored script by its name, CommonJS as e154's scripts write it
  'lib/greet.js': "function greet(who) {\n  return 'hello ' + who;\n}\nmodule.exports = { greet: greet };\n",
  'utils.js': 'module.exports = { double: function (x) { return x * 2; } };\n',
  'e154.js':
    "var utils = require('utils');\nvar g = require('greet');\nconsole.log(g.greet('hall'), utils.double(21));\n",
  'nosuch.js': "// e154 style\nvar x = require('gone');\n",
  'selfish.js': "var me = require('selfish');\n",
};

const logOf = (name: string) => (h.hub.scripts.get(name)?.logs ?? []).map((l) => l.message);
const errorOf = (name: string) =>
  logged.lines.find((l) => l.script === name && l.level === 50)?.msg as string | undefined;

before(async () => {
  dir = tempDir();
  scripts = path.join(dir, 'scripts');
  mkdirSync(path.join(scripts, 'lib'), { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(scripts, f), text);
  writeFileSync(path.join(dir, 'secret.js'), "export const s = 'hunter2';\n");
  symlinkSync(path.join(dir, 'secret.js'), path.join(scripts, 'lib', 'link.js'));
  h = await startHub({}, dir, logged.log);
});
after(async () => {
  await h.stop();
  removeDir(dir);
});

test('a TS, a JS (require) and a CoffeeScript script use TS and CoffeeScript modules, each with its own instance', async () => {
  await waitFor(() => logOf('porch.coffee').length >= 2, 10000, 'porch.coffee ran');
  assert.deepEqual(logOf('hall.ts'), ['dim to 40 % instance 1']);
  assert.deepEqual(logOf('stairs.js'), ['dim to 10 % instance 1']);
  assert.equal(logOf('porch.coffee')[0], 'dim to 5 %');
});

test("e154's require(name) loads a stored script by its name, from lib/ or the scripts dir; one that only exports runs on its own doing nothing", async () => {
  await waitFor(() => logOf('e154.js').length >= 1, 10000, 'e154.js ran');
  assert.deepEqual(logOf('e154.js'), ['hello hall 42']);
  const utils = h.hub.scripts.get('utils.js');
  assert.ok(utils, 'utils.js runs on its own as well');
  assert.deepEqual(utils.logs, [], 'and setting module.exports there is no error');
  assert.equal(errorOf('utils.js'), undefined);
  await waitFor(() => logOf('plain.js').length >= 1, 10000, 'plain.js ran');
  assert.deepEqual(logOf('plain.js'), ['no modules its own'], "a script's own `const module` still declares");
});

test('an error thrown in a module is located in the module, with its code frame', () => {
  const err = logOf('porch.coffee')[1]!;
  assert.match(
    err,
    new RegExp(
      `^${path.join(scripts, 'lib', 'util.coffee').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:\\d+: Error: the module failed`,
    ),
  );
  assert.match(err, /> 2 \| export boom = -> throw new Error\('the module failed'\)/);
});

test('a package name, a missing module, a path out of the scripts dir (also by a symlink) and a cycle are errors at the import', () => {
  const cases: [string, RegExp][] = [
    [
      'package.js',
      /package\.js:2:15: ImportError: cannot import "lodash": scripts import modules of the scripts dir by a relative path/,
    ],
    [
      'missing.js',
      /missing\.js:2:19: ImportError: cannot find module "\.\/lib\/nothing" \(looked for lib\/nothing with \.ts, \.js or \.coffee/,
    ],
    ['outside.js', /outside\.js:1:19: ImportError: cannot import "\.\.\/secret": it is outside the scripts dir/],
    ['linked.js', /linked\.js:1:19: ImportError: cannot import "\.\/lib\/link": it is outside the scripts dir/],
    [
      'cycle.js',
      /lib\/a\.js:1:1: ImportError: import cycle: lib\/a\.js → lib\/b\.js → lib\/a\.js; move what both need into a module of its own/,
    ],
    [
      'nosuch.js',
      /nosuch\.js:2:17: ImportError: cannot find script "gone": require\(name\) loads a script of the scripts dir by its name \(lib\/gone or gone/,
    ],
    ['selfish.js', /selfish\.js:1:1: ImportError: import cycle: selfish\.js → selfish\.js/],
  ];
  for (const [name, want] of cases) {
    assert.match(errorOf(name) ?? '(nothing logged)', want, name);
    assert.equal(h.hub.scripts.get(name), undefined, `${name} did not start`);
  }
  for (const l of logged.lines) assert.doesNotMatch(JSON.stringify(l), /hunter2/);
});

test('a change to a module reloads the scripts that use it, and only those', async () => {
  const plain = h.hub.scripts.get('plain.js');
  assert.ok(plain);
  writeFileSync(
    path.join(scripts, 'lib', 'lights.ts'),
    'export function dim(level: number): string {\n  return `dimmed to ${level} %`;\n}\nexport const counter = { n: 0 };\n',
  );
  await waitFor(() => logOf('stairs.js').includes('dimmed to 10 % instance 1'), 10000, 'stairs.js reloaded');
  await waitFor(() => logOf('hall.ts').includes('dimmed to 40 % instance 1'), 10000, 'hall.ts reloaded');
  assert.equal(h.hub.scripts.get('plain.js'), plain, 'a script without the module was not reloaded');
  // a script another one requires by its name is a module of that one too
  writeFileSync(path.join(scripts, 'utils.js'), 'module.exports = { double: function (x) { return x * 3; } };\n');
  await waitFor(() => logOf('e154.js').includes('hello hall 63'), 10000, 'e154.js reloaded');
  assert.ok(
    logged.lines.some((l) => l.script === 'hall.ts' && /a module it uses changed: reloaded/.test(String(l.msg))),
  );
});

test('smart-home check type-checks a TypeScript script against the TypeScript module it imports', async () => {
  writeFileSync(path.join(scripts, 'typed.ts'), "import { dim } from './lib/lights';\nconst n: number = dim(3);\n");
  const r = await runCli(['check', path.join(scripts, 'typed.ts')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /typed\.ts:2:7: TypeError: Type 'string' is not assignable to type 'number'/);
  writeFileSync(
    path.join(scripts, 'typed.ts'),
    "import { dim } from './lib/lights';\nimport { twice } from './lib/util';\nconst s: string = dim(twice(3));\n",
  );
  const ok = await runCli(['check', path.join(scripts, 'typed.ts')]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
});
