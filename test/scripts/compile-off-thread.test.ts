// User source is compiled and type-checked in a worker thread with a time and a heap limit
// (issue 14, breaks 4 and 6): a TypeScript type bomb and CoffeeScript's quadratic member chains
// end as located errors while the hub keeps answering; the checker reads no file but the script's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHub, removeDir, tempDir, type TestHub } from '../helpers.js';
import { ApiClient } from '../api/client.js';

let h: TestHub;
let api: ApiClient;
before(async () => {
  h = await startHub({
    http: { enabled: true, port: 0 },
    scripts: { compile_timeout_ms: 2000, compile_memory_mb: 256 },
  });
  api = ApiClient.of(h);
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

/** Starts a check and, while it runs, asks /healthz: the health answer must come first. */
async function checkWhileHealthy(name: string, source: string): Promise<{ diagnostics: any[]; order: string[] }> {
  const order: string[] = [];
  const check = api.post('/api/scripts/check', { name, source }).then((r) => {
    order.push('check');
    return r;
  });
  // a moment for the check to be under way (the request is sent; its handler awaits the worker)
  await new Promise((r) => setImmediate(r));
  const health = await api.get('/healthz');
  order.push('healthz');
  assert.equal(health.status, 200);
  const r = await check;
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { diagnostics: r.body.data, order };
}

test('a 121-byte TypeScript type bomb is a located error after compile_timeout_ms; /healthz answers meanwhile', async () => {
  const bomb =
    "type D='0'|'1'|'2'|'3'|'4'|'5'|'6'|'7'|'8'|'9';type T=`${D}${D}${D}`;type Z=keyof {[K in T as `${K}${T}`]:1};const z:Z=1;";
  const { diagnostics, order } = await checkWhileHealthy('bomb.ts', bomb);
  assert.deepEqual(order, ['healthz', 'check']);
  assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
  assert.match(
    diagnostics[0].message,
    /type-checking (took longer than scripts\.compile_timeout_ms|needed more memory than scripts\.compile_memory_mb)/,
  );
  assert.deepEqual([diagnostics[0].line, diagnostics[0].col], [1, 1]);
  // the next check gets a fresh worker and works
  const next = await api.post('/api/scripts/check', { name: 'ok.ts', source: 'const n: number = "x";\n' });
  assert.match(next.body.data[0].message, /not assignable to type 'number'/);
  assert.equal(next.body.data[0].line, 1);
});

test("CoffeeScript's quadratic member chain (32 KB) is stopped at the time limit; /healthz answers meanwhile", async () => {
  const source = `x = a${'.a'.repeat(16000)}\n`;
  const { diagnostics, order } = await checkWhileHealthy('chain.coffee', source);
  assert.deepEqual(order, ['healthz', 'check']);
  assert.match(diagnostics[0].message, /compiling took longer than scripts\.compile_timeout_ms \(2000 ms\)/);
  // a script saved with such source is stored, not run, with the same diagnostic
  const saved = await api.put('/api/scripts/chain.coffee', { source });
  assert.equal(saved.body.data.active, false);
  assert.match(saved.body.data.diagnostics[0].message, /compile_timeout_ms/);
});

test('the type checker does not read files the script imports or references', async () => {
  const dir = tempDir('smart-home-secret-');
  const secret = path.join(dir, 'secret.ts');
  writeFileSync(secret, "export const apiKey = 'hunter2-value-from-a-host-file';\n");
  const source = `/// <reference path="${secret}" />\nimport { apiKey } from '${secret.replace(/\.ts$/, '')}';\nconst n: number = apiKey;\n`;
  const r = await api.post('/api/scripts/check', { name: 'peek.ts', source });
  const text = JSON.stringify(r.body.data);
  assert.doesNotMatch(text, /hunter2/);
  assert.match(text, /Cannot find module|TS2307|TS2792|cannot import .*relative path/, text);
  removeDir(dir);
});
