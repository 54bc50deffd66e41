// HTTP from scripts, made by the host: only to allowed hosts, private addresses only when listed
// themselves (checked where the connection is made), timeouts, a response cap, redirects to
// allowed hosts only, and each request in the script's log at its line. A local server stands in
// for the internet; nothing leaves 127.0.0.1 (a refused host is refused before any lookup).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHub, tempDir, removeDir, scriptLog, type TestHub } from '../helpers.js';
import { AllowList, httpRequest, isPrivateAddress, type HttpLimits } from '../../src/scripts/bindings/http.js';

let server: Server;
let base: string;
let h: TestHub;
let dir: string;
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/weather') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ temp: 21.5, sky: 'clear' }));
      } else if (req.url === '/echo') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            method: req.method,
            type: req.headers['content-type'] ?? null,
            auth: req.headers.authorization ?? null,
            body,
          }),
        );
      } else if (req.url === '/big') {
        res.end('x'.repeat(200 * 1024));
      } else if (req.url === '/slow') {
        // never answers: the request's timeout ends it
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/weather' }).end();
      } else if (req.url === '/away') {
        res.writeHead(302, { location: 'http://elsewhere.invalid/steal' }).end();
      } else res.writeHead(404).end('no such page');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = tempDir();
  h = await startHub({ scripts: { http: { allow: ['127.0.0.1'], max_response_kb: 64, timeout_ms: 300 } } }, dir);
});
after(async () => {
  await h.stop();
  server.closeAllConnections();
  server.close();
  removeDir(dir);
});

const run = (name: string, source: string, lines: number) => scriptLog(h, name, source, lines);

test('http.get / post / Http.request from a script: status, headers, body, json(); JSON bodies, headers sent', async () => {
  const log = await run(
    'weather.js',
    `
    const base = ${JSON.stringify(base)};
    (async () => {
      const w = await http.get(base + '/weather');
      console.log('weather', w.status, w.ok, w.headers['content-type'], w.json().temp);
      const p = await http.post(base + '/echo', { body: { on: true }, headers: { Authorization: 'Bearer abc' } });
      console.log('post', JSON.stringify(p.json()));
      const q = await Http.request(base + '/echo', { method: 'put', body: 'plain' });
      console.log('put', q.json().method, q.json().body);
      const m = await http.get(base + '/moved');
      console.log('moved', m.status, m.url.endsWith('/weather'));
      const n = await http.get(base + '/nothing');
      console.log('missing', n.status, n.ok, n.text());
    })();
  `,
    10,
  );
  const mine = log.filter((l) => !l.startsWith('GET') && !l.startsWith('POST') && !l.startsWith('PUT'));
  assert.deepEqual(mine, [
    'weather 200 true application/json 21.5',
    'post {"method":"POST","type":"application/json","auth":"Bearer abc","body":"{\\"on\\":true}"}',
    'put PUT plain',
    'moved 200 true',
    'missing 404 false no such page',
  ]);
  // each request is in the script's log with its line
  assert.ok(
    log.some((l) => /^GET http:\/\/127\.0\.0\.1:\d+\/weather -> 200 in \d+ ms \(\/scripts\/weather\.js:4\)$/.test(l)),
    log.join('\n'),
  );
  assert.ok(log.some((l) => /^POST .*\/echo -> 200 .*weather\.js:6\)$/.test(l)));
});

test('a host not on the allow-list is refused with its name; a redirect to one too; too large, too slow and bad arguments are errors', async () => {
  const log = await run(
    'refused.js',
    `
    const base = ${JSON.stringify(base)};
    const tryIt = async (what, f) => { try { await f(); console.log(what, 'ok'); } catch (e) { console.log(what, e.name, e.code, e.message); } };
    (async () => {
      await tryIt('other', () => http.get('https://api.example.com/v1'));
      await tryIt('away', () => http.get(base + '/away'));
      await tryIt('big', () => http.get(base + '/big'));
      await tryIt('slow', () => http.get(base + '/slow', { timeout: 100 }));
      await tryIt('file', () => http.get('file:///etc/passwd'));
      await tryIt('creds', () => http.get('http://u:p@127.0.0.1/'));
      await tryIt('header', () => http.get(base + '/echo', { headers: { 'X-A': 'a\\r\\nX-Injected: 1' } }));
      await tryIt('framing', () => http.post(base + '/echo', { headers: { 'Transfer-Encoding': 'chunked' }, body: 'x' }));
    })();
  `,
    8 + 4,
  );
  const mine = log.filter((l) => /^(other|away|big|slow|file|creds|header|framing) /.test(l));
  assert.deepEqual(mine.length, 8, log.join('\n'));
  assert.match(
    mine[0]!,
    /^other HttpError HOST_NOT_ALLOWED http\.get: api\.example\.com is not in scripts\.http\.allow; add "api\.example\.com" to it/,
  );
  assert.match(
    mine[1]!,
    /^away HttpError HOST_NOT_ALLOWED .*elsewhere\.invalid is not in scripts\.http\.allow \(a redirect from .*\/away went there\)/,
  );
  assert.match(mine[2]!, /^big HttpError RESPONSE_TOO_LARGE .*larger than 64 KiB \(scripts\.http\.max_response_kb\)/);
  assert.match(mine[3]!, /^slow HttpError TIMEOUT .*no answer from 127\.0\.0\.1 within 100 ms/);
  assert.match(mine[4]!, /^file TypeError ERROR http\.get: only http:\/\/ and https:\/\/ URLs/);
  assert.match(mine[5]!, /^creds TypeError .*Authorization header, not in the URL/);
  assert.match(mine[6]!, /^header TypeError .*header x-a has a line break/i);
  assert.match(mine[7]!, /^framing TypeError .*header Transfer-Encoding is set by the hub/);
  assert.equal(seen.filter((s) => s.url === '/steal').length, 0);
});

const LIMITS: HttpLimits = { allow: [], timeout_ms: 2000, max_timeout_ms: 5000, max_response_kb: 64, max_redirects: 5 };

test('a name on the allow-list that resolves to a private address is refused unless the address or its range is listed', async () => {
  const port = (server.address() as AddressInfo).port;
  const req = { method: 'GET', url: `http://localhost:${port}/weather`, headers: {}, timeoutMs: 2000 };
  await assert.rejects(httpRequest(LIMITS, new AllowList(['localhost']), req), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'PRIVATE_ADDRESS');
    assert.match(err.message, /localhost resolves to .*a private address; add the address or its range/);
    return true;
  });
  const ok = await httpRequest(LIMITS, new AllowList(['localhost', '127.0.0.0/8', '::1']), req);
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).sky, 'clear');
  // an address literal that is private needs itself (or its range) listed, not just any name
  await assert.rejects(
    httpRequest(LIMITS, new AllowList(['*.example.com']), { ...req, url: `http://127.0.0.1:${port}/weather` }),
    /127\.0\.0\.1 is not in scripts\.http\.allow/,
  );
});

test('private, loopback, link-local and mapped addresses are private; public ones are not', () => {
  for (const a of [
    '10.1.2.3',
    '127.0.0.1',
    '169.254.169.254',
    '172.20.0.1',
    '192.168.1.5',
    '100.64.0.1',
    '::1',
    'fe80::1',
    'fd00::5',
    '::ffff:10.0.0.1',
    '0.0.0.0',
  ])
    assert.equal(isPrivateAddress(a), true, a);
  for (const a of ['1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    assert.equal(isPrivateAddress(a), false, a);
  const allow = new AllowList(['192.168.1.0/24', 'api.example.com', '*.ntfy.sh']);
  assert.equal(allow.hostAllowed('192.168.1.77'), true);
  assert.equal(allow.hostAllowed('192.168.2.1'), false);
  assert.equal(allow.hostAllowed('API.example.com'), true);
  assert.equal(allow.hostAllowed('push.ntfy.sh'), true);
  assert.equal(allow.hostAllowed('ntfy.sh.evil.com'), false);
  assert.equal(allow.hostAllowed('evilapi.example.com'), false);
});
