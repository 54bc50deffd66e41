// Rules of the layout (DESIGN.md) that a reviewer should not have to check by eye.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
const rel = (f: string) => path.relative(SRC, f);

test('every SQL statement is in src/store (one repository per table family)', () => {
  const outside = files(SRC).filter((f) => !rel(f).startsWith('store/') && /\.prepare\(/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(outside.map(rel), []);
});

test('the API depends on the interfaces it declares, not on the broker, the bus or the engine classes', () => {
  const api = files(path.join(SRC, 'api'));
  const reaching = api.filter((f) =>
    /^import (?!type )[^;]*from '\.\.\/(?:\.\.\/)?(broker\/broker|scripts\/engine)\.js'/m.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(reaching.map(rel), []);
  assert.ok(
    !/from '\.\.\/broker\/broker\.js'/.test(readFileSync(path.join(SRC, 'api', 'hub.ts'), 'utf8')),
    'api/hub.ts declares its BrokerView',
  );
});
