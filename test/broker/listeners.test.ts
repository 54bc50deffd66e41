// TLS and WebSocket listeners, and what mDNS would announce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startHub, connect, collect, tempDir, removeDir } from '../helpers.js';
import { servicesFor } from '../../src/broker/mdns.js';

test('TLS and WebSocket listeners carry MQTT next to plain TCP', async () => {
  const dir = tempDir();
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  const h = await startHub(
    {
      broker: {
        listeners: [
          { type: 'tcp', port: 0 },
          { type: 'tls', port: 0, cert, key },
          { type: 'ws', port: 0, path: '/mqtt' },
        ],
      },
    },
    dir,
  );
  try {
    const [tcp, tls, ws] = h.hub.listeners;
    assert.match(tls!.url, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ws!.url, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const sub = await connect(tcp!.url);
    const got = collect(sub);
    await sub.subscribeAsync('l/#', { qos: 1 });
    const t = await connect(tls!.url, { ca: readFileSync(cert), rejectUnauthorized: true });
    await t.publishAsync('l/tls', 'over tls', { qos: 1 });
    const w = await connect(ws!.url);
    await w.publishAsync('l/ws', 'over websocket', { qos: 1 });
    await got.next(2);
    assert.deepEqual(got.messages.map((m) => m.payload.toString()).sort(), ['over tls', 'over websocket']);
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('a TLS listener with an unreadable certificate is a clear startup error', async () => {
  await assert.rejects(
    startHub({
      broker: { listeners: [{ type: 'tls', port: 0, cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' }] },
    }),
    /broker\.listeners \(tls 127\.0\.0\.1:0\): cannot read certificate or key: .*\/nonexistent\/cert\.pem/,
  );
});

test('mDNS announces _mqtt._tcp only for listeners reachable from the network', () => {
  assert.deepEqual(
    servicesFor([
      { type: 'tcp', host: '127.0.0.1', port: 1883 },
      { type: 'tcp', host: '::1', port: 1884 },
    ]),
    [],
  );
  assert.deepEqual(
    servicesFor([
      { type: 'tcp', host: '0.0.0.0', port: 1883 },
      { type: 'tls', host: '192.0.2.10', port: 8883 },
    ]),
    [
      { name: 'Smart Home', type: 'mqtt', port: 1883 },
      { name: 'Smart Home (TLS)', type: 'secure-mqtt', port: 8883 },
    ],
  );
});
