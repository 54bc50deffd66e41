// Issue 4 bench: messages per second that one script delivers to an external subscriber, next to
// a plain mqtt.js program doing the same against the same broker (Mosquitto); RSS of idle
// scripts; cold start of one script.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../src/store/db.js';
import { MessageTrace } from '../src/mqtt/trace.js';
import { fileURLToPath } from 'node:url';
import { EventBus } from '../src/events.js';
import { createLogger } from '../src/log.js';
import { MqttBus } from '../src/mqtt/bus.js';
import { ScriptEngine } from '../src/scripts/engine.js';
import { configSchema } from '../src/config/schema.js';
import { connect, median, fmt, ROUNDS, table } from './lib.js';
import type { MqttClient } from 'mqtt';

const PAYLOAD = 'x'.repeat(64);
const WINDOW = 500; // publishes outstanding at once, the same in both programs

/** Counts messages at an external subscriber; resolves with the rate once `n` arrived. */
async function subscriber(
  url: string,
  topic: string,
  qos: 0 | 1 | 2,
): Promise<{ c: MqttClient; done(n: number): Promise<number>; start(): void }> {
  const c = await connect(url, { clean: true });
  await c.subscribeAsync(topic, { qos });
  let count = 0;
  let t0 = 0;
  let resolveAt: ((ms: number) => void) | undefined;
  let target = Infinity;
  c.on('message', () => {
    if (++count >= target) resolveAt?.(performance.now() - t0);
  });
  return {
    c,
    start: () => {
      count = 0;
      t0 = performance.now();
    },
    done: (n) =>
      new Promise<number>((resolve, reject) => {
        target = n;
        resolveAt = (ms) => resolve((n / ms) * 1000);
        if (count >= n) resolve((n / (performance.now() - t0)) * 1000);
        setTimeout(() => reject(new Error(`only ${count} of ${n} arrived`)), 120000).unref();
      }),
  };
}

async function plainProgram(url: string, qos: 0 | 1 | 2, n: number): Promise<number> {
  const sub = await subscriber(url, 'bench/plain', qos);
  const pub = await connect(url);
  sub.start();
  const done = sub.done(n);
  for (let i = 0; i < n; i += WINDOW) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(n, i + WINDOW); k++) batch.push(pub.publishAsync('bench/plain', PAYLOAD, { qos }));
    await Promise.all(batch);
  }
  const rate = await done;
  pub.end(true);
  sub.c.end(true);
  return rate;
}

const SCRIPT = (qos: number, n: number) => `
(async () => {
  for (let i = 0; i < ${n}; i += ${WINDOW}) {
    const batch = [];
    for (let k = i; k < Math.min(${n}, i + ${WINDOW}); k++) batch.push(Mqtt.publish('bench/script', '${PAYLOAD}', ${qos}, false));
    await Promise.all(batch);
  }
})();
`;

async function scriptProgram(url: string, qos: 0 | 1 | 2, n: number): Promise<number> {
  const sub = await subscriber(url, 'bench/script', qos);
  const log = createLogger('silent');
  const events = new EventBus(log);
  // with the message trace, as in the hub: every publish is recorded with its script line
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-trace-'));
  const db = openStore(dir);
  const trace = new MessageTrace(db, 10000);
  const bus = new MqttBus({ url, clientId: `bench-hub-${qos}`, publishTimeoutMs: 60000, log, events, trace });
  await bus.start();
  const limits = configSchema.parse({}).scripts;
  const engine = new ScriptEngine({ limits: { ...limits, cpu_limit_ms: 60000 }, bus, events, log });
  sub.start();
  const done = sub.done(n);
  const script = await engine.load('/bench/publisher.js', {}, SCRIPT(qos, n));
  const rate = await done;
  await engine.whenIdle(script);
  if (script.errors) throw new Error(script.logs.map((l) => l.message).join('\n'));
  await engine.stop();
  await bus.stop();
  sub.c.end(true);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

export async function benchScriptPublish(brokerUrl: string, rounds = ROUNDS): Promise<string> {
  const counts = { 0: 50000, 1: 20000, 2: 10000 } as const;
  const rows: (string | number)[][] = [];
  for (const qos of [0, 1, 2] as const) {
    const plain: number[] = [];
    const script: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // interleaved: the machine's noise hits both alike
      plain.push(await plainProgram(brokerUrl, qos, counts[qos]));
      script.push(await scriptProgram(brokerUrl, qos, counts[qos]));
    }
    const p = median(plain);
    const s = median(script);
    rows.push([`QoS ${qos}`, counts[qos], fmt(p), fmt(s), `${Math.round((s / p) * 100)}%`]);
  }
  return table(['', 'messages', 'plain mqtt.js msg/s', 'one script msg/s', 'script / plain'], rows);
}

/** RSS of a fresh process holding `n` idle scripts. */
function idleRss(n: number): Promise<{ rssMb: number; loadMs: number }> {
  const child = fileURLToPath(new URL('./idle-scripts.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as { rssMb: number; loadMs: number })
        : reject(new Error(`idle-scripts exited ${code}`)),
    );
  });
}

export async function benchIdleScripts(): Promise<string> {
  const rows: (string | number)[][] = [];
  const base = await idleRss(0);
  rows.push(['0 (engine only)', base.rssMb.toFixed(0), '-', '-']);
  for (const n of [1, 100, 1000]) {
    const r = await idleRss(n);
    rows.push([n, r.rssMb.toFixed(0), (((r.rssMb - base.rssMb) * 1024) / n).toFixed(0), (r.loadMs / n).toFixed(2)]);
  }
  return table(['idle scripts', 'RSS MiB', 'KiB per script', 'cold start ms per script'], rows);
}
