// Crash safety matrix: the hub is kill -9ed at a random moment while a script publishes QoS 1,
// QoS 2 and retained messages and a persistent subscriber is offline; after a restart:
// - every QoS 1 and QoS 2 message the script saw acknowledged reaches the subscriber,
// - no QoS 2 message arrives twice (none at all, acknowledged or not),
// - the retained value is the last acknowledged one or a later one,
// - the script's Storage is intact and the SQLite file passes integrity_check.
// Both for the embedded broker (its SQLite persistence) and for an external Mosquitto (the hub's
// SQLite outbox). CRASH_SEEDS seeds per mode (2 in npm test; `npm run test:long` runs 25).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { tempDir, removeDir, freePort, connect, serve, sleep, startMosquitto, type Served } from '../helpers.js';

const SEEDS = Number(process.env.CRASH_SEEDS ?? 2);
const FIRST_SEED = Number(process.env.CRASH_SEED ?? 1);

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// The load: three publishes per step, awaited; the step is stored only once all three are acknowledged.
const SCRIPT = `
Storage.set('fixed', { hello: 'world', n: 42 });
(async () => {
  for (let i = 1; i <= 5000; i++) {
    await Promise.all([
      Mqtt.publish('crash/q1', String(i), 1),
      Mqtt.publish('crash/q2', String(i), 2),
      Mqtt.publish('crash/retained', String(i), 1, true),
    ]);
    Storage.set('acked', i);
  }
})();
`;

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcome {
  acked: number;
  q1: Map<number, number>;
  q2: Map<number, number>;
  retained: number;
  fixed: unknown;
  integrity: string;
}

async function runCase(mode: 'embedded' | 'external', seed: number): Promise<Outcome> {
  const r = rng(seed);
  const dir = tempDir(`smart-home-crash-${mode}-`);
  const hubPort = await freePort();
  let brokerUrl = `mqtt://127.0.0.1:${hubPort}`;
  let config = `log_level: warn\nhttp:\n  enabled: false\nbroker:\n  mdns: false\n  max_queued: 100000\n  listeners:\n    - type: tcp\n      host: 127.0.0.1\n      port: ${hubPort}\n`;
  if (mode === 'external') {
    const m = await startMosquitto('max_queued_messages 0\nmax_inflight_messages 0\n');
    cleanups.push(m.stop);
    brokerUrl = m.url;
    config = `log_level: warn\nhttp:\n  enabled: false\nmqtt:\n  url: ${m.url}\n  client_id: hub-crash-${seed}\n`;
  }
  const configFile = path.join(dir, 'smart-home.yaml');
  writeFileSync(configFile, config);
  const args = ['--data', dir, '--config', configFile];

  // the persistent subscriber: subscribes, goes offline for the whole load
  const start = async (): Promise<Served> => {
    const s = await serve(args);
    cleanups.push(async () => {
      if (s.child.exitCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    });
    return s;
  };
  let hub = await start();
  const subId = `crash-sub-${mode}-${seed}`;
  const sub = await connect(brokerUrl, { clientId: subId, clean: false });
  await sub.subscribeAsync('crash/#', { qos: 2 });
  await sub.endAsync();

  mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  writeFileSync(path.join(dir, 'scripts', 'load.js'), SCRIPT);
  // restart so the script starts with the hub (as a user's would); then kill at a random moment
  hub.child.kill('SIGTERM');
  await hub.exited;
  hub = await start();
  await sleep(150 + Math.floor(r() * 1200));
  hub.child.kill('SIGKILL');
  await hub.exited;

  // what the script saw acknowledged, read from the file the dead hub left
  const db = new Database(path.join(dir, 'smart-home.db'), { readonly: true });
  const get = (key: string) =>
    (
      db.prepare("SELECT value FROM script_storage WHERE script = 'load.js' AND key = ?").get(key) as
        | { value: string }
        | undefined
    )?.value;
  const acked = Number(get('acked') ?? 0);
  db.close();

  // restart without the script (nothing new is published), and let the subscriber collect
  rmSync(path.join(dir, 'scripts', 'load.js'));
  hub = await start();
  const q1 = new Map<number, number>();
  const q2 = new Map<number, number>();
  let last = Date.now();
  // (listening before CONNACK: a broker sends the queue right behind it)
  const c = await connect(brokerUrl, { clientId: subId, clean: false }, (client) =>
    client.on('message', (topic, payload) => {
      last = Date.now();
      const map = topic === 'crash/q1' ? q1 : topic === 'crash/q2' ? q2 : undefined;
      if (map) map.set(Number(payload), (map.get(Number(payload)) ?? 0) + 1);
    }),
  );
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && (Date.now() - last < 1500 || q1.size < acked || q2.size < acked)) await sleep(50);
  await c.endAsync();
  const late = await connect(brokerUrl);
  const retained = await new Promise<number>((resolve) => {
    late.on('message', (_t, p) => resolve(Number(p)));
    late.subscribe('crash/retained');
    setTimeout(() => resolve(-1), 3000);
  });
  await late.endAsync();

  hub.child.kill('SIGTERM');
  assert.equal(await hub.exited, 0, 'the restarted hub stops cleanly');
  const check = new Database(path.join(dir, 'smart-home.db'), { readonly: true });
  const integrity = (check.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
  const fixedRow = check.prepare("SELECT value FROM script_storage WHERE script = 'load.js' AND key = 'fixed'").get() as
    | { value: string }
    | undefined;
  check.close();
  removeDir(dir);
  return { acked, q1, q2, retained, fixed: fixedRow ? JSON.parse(fixedRow.value) : undefined, integrity };
}

for (const mode of ['embedded', 'external'] as const) {
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    test(`kill -9 of the hub (${mode} broker, seed ${seed}): nothing acknowledged is lost, no QoS 2 duplicate, retained and Storage intact, SQLite consistent`, async () => {
      const o = await runCase(mode, seed);
      assert.ok(o.acked > 0, 'the script got some publishes acknowledged before the kill');
      const missing = (m: Map<number, number>) =>
        Array.from({ length: o.acked }, (_, i) => i + 1).filter((i) => !m.has(i));
      assert.deepEqual(missing(o.q1), [], `QoS 1 messages 1..${o.acked} (acknowledged) all arrive`);
      assert.deepEqual(missing(o.q2), [], `QoS 2 messages 1..${o.acked} (acknowledged) all arrive`);
      const dups = [...o.q2].filter(([, n]) => n > 1).map(([i]) => i);
      assert.deepEqual(dups, [], 'no QoS 2 message arrives twice');
      assert.ok(o.retained >= o.acked, `retained value ${o.retained} is the last acknowledged (${o.acked}) or later`);
      assert.deepEqual(o.fixed, { hello: 'world', n: 42 }, 'Storage written before the crash is intact');
      assert.equal(o.integrity, 'ok');
    });
  }
}
