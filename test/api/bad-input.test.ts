// Bad request bodies are a 400 naming the problem, never a 500 (issue 14): JSON nested 10 000
// deep (it overflowed the stack of JSON.stringify and of the YAML writer), a lone surrogate in a topic.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, type TestHub } from '../helpers.js';
import { ApiClient } from './client.js';

let t: TestHub;
let c: ApiClient;
before(async () => {
  t = await startHub({ http: { enabled: true, port: 0 } });
  c = ApiClient.of(t);
});
after(async () => t.stop());

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

test('a JSON body nested 10 000 deep is a 400 on every route that takes JSON', async () => {
  for (const [method, path, body] of [
    ['POST', '/api/mqtt/publish', `{"topic":"a/b","json":${deep(10_000)}}`],
    ['PUT', '/api/automations/x', `{"id":"x","triggers":${deep(10_000)}}`],
    ['POST', '/api/scripts/check', `{"name":"a.js","source":"x","extra":${deep(10_000)}}`],
  ] as const) {
    const r = await c.call(method, path, body);
    assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error!.message, /nested deeper than 64 levels/);
  }
  // nesting inside a string is not nesting
  const ok = await c.call('POST', '/api/mqtt/publish', JSON.stringify({ topic: 'a/b', payload: deep(10_000) }));
  assert.equal(ok.status, 200);
  const nested = await c.call(
    'POST',
    '/api/mqtt/publish',
    JSON.stringify({ topic: 'a/b', json: JSON.parse(deep(20)) }),
  );
  assert.equal(nested.status, 200, 'ordinary nesting passes');
});

test('a topic with a lone surrogate is refused through the API', async () => {
  const r = await c.call('POST', '/api/mqtt/publish', '{"topic":"home/\\ud800x","payload":"1"}');
  assert.equal(r.status, 400);
  assert.match(r.body.error!.message, /lone surrogate/);
  assert.equal(r.body.error!.field, 'topic');
});
