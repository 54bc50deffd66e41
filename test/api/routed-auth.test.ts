// Authentication is decided on the route Fastify matched, never on the raw URL (issue 14, break 1:
// `/%61pi/scripts` routed to /api/scripts while the check saw a path outside /api). Every route
// of the OpenAPI document is called without credentials, in every spelling that might reach it:
// percent-encoded letters, doubled slashes, dot segments, case, trailing slash, a rebinding Host.
// Each answer is a 401 or exactly what a request that matched no route gets.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { startHub, type TestHub } from '../helpers.js';
import { ApiClient } from './client.js';

let t: TestHub;
let port: number;
let docPaths: Record<string, Record<string, unknown>>;
before(async () => {
  t = await startHub({ http: { enabled: true, port: 0 } });
  port = Number(new URL(t.hub.api!.url).port);
  const admin = ApiClient.of(t);
  docPaths = ((await admin.get('/api/docs/json')).body as unknown as { paths: typeof docPaths }).paths;
  await t.hub.users.add('admin', 'correct horse', true);
});
after(async () => t.stop());

interface Raw {
  status: number;
  type: string;
  body: string;
}
function raw(method: string, path: string, host = `127.0.0.1:${port}`): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const body = method === 'GET' || method === 'HEAD' ? undefined : '{}';
    const headers = body
      ? { host, 'content-type': 'application/json', 'content-length': String(body.length) }
      : { host };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const SAMPLE: Record<string, string> = { name: 'x.js', id: 'light.x', action: 'on' };
/** Spellings of one path that a lenient router might send to the same handler. */
function variants(path: string): string[] {
  const segs = path.split('/').slice(1);
  const enc = (s: string, i = 0) => s.slice(0, i) + `%${s.charCodeAt(i).toString(16)}` + s.slice(i + 1);
  const out = new Set<string>([
    `/${enc(segs[0]!)}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${enc(segs[0]!).toUpperCase()}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${segs.map((s) => (s ? enc(s, s.length - 1) : s)).join('/')}`,
    `/${segs.map((s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')).join('/')}`,
    `//${segs.join('/')}`,
    `/${segs.join('//')}`,
    `/./${segs.join('/')}`,
    `/${segs[0]}/../${segs.join('/')}`,
    `/${segs[0]!.toUpperCase()}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `${path}/`,
    `${path}%2F`,
    `${path}?x=1`,
    `${path};x`,
    `${path}#frag`,
  ]);
  out.delete(path);
  return [...out];
}

test('every route of the API document, without credentials and in every spelling, is refused or not routed', async () => {
  const notRouted = await raw('GET', '/api/definitely-not-a-route');
  const uiPage = await raw('GET', '/definitely-not-a-page');
  const isNotRouted = (r: Raw) =>
    (r.status === 404 && /"NOT_FOUND"/.test(r.body) && /no route/.test(r.body)) ||
    (r.status === uiPage.status && r.body === uiPage.body);
  const open = new Set(['GET /healthz', 'POST /api/login', 'GET /api/session']);
  let calls = 0;
  const reached: string[] = [];
  for (const [pattern, methods] of Object.entries(docPaths)) {
    const path = pattern.replace(/\{(\w+)\}/g, (_m, p: string) => SAMPLE[p] ?? 'x');
    for (const m of Object.keys(methods)) {
      const method = m.toUpperCase();
      if (open.has(`${method} ${pattern}`)) continue;
      const plain = await raw(method, path);
      assert.equal(plain.status, 401, `${method} ${path}: ${plain.body.slice(0, 200)}`);
      for (const host of [`127.0.0.1:${port}`, `evil.example:${port}`]) {
        for (const v of variants(path)) {
          calls++;
          const r = await raw(method, v, host);
          if (r.status !== 401 && r.status !== 403 && !isNotRouted(r))
            reached.push(`${method} ${v} (Host ${host}) -> ${r.status} ${r.body.slice(0, 120)}`);
        }
      }
    }
  }
  assert.ok(Object.keys(docPaths).length >= 25, `the document lists the routes (${Object.keys(docPaths).length})`);
  assert.ok(notRouted.status === 404 && calls > 500, `${calls} calls`);
  assert.deepEqual(reached, [], 'requests that reached a protected handler without credentials');
});

test('the WebSocket of live events is refused without credentials in any spelling', async () => {
  for (const path of ['/api/events', '/%61pi/events', '/api/%65vents', '/%61%70%69/%65%76%65%6e%74%73']) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
      ws.once('error', (e) => resolve(`error ${e.message}`));
    });
    ws.terminate();
    assert.notEqual(outcome, 'open', path);
    assert.match(outcome, /HTTP 40[14]/, path);
  }
});

test('an encoded path with valid credentials still works (the fix refuses nothing that is allowed)', async () => {
  const basic = `Basic ${Buffer.from('admin:correct horse').toString('base64')}`;
  const r = await new Promise<number>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/%61pi/scripts', headers: { authorization: basic } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on('error', reject);
  });
  assert.equal(r, 200);
});
