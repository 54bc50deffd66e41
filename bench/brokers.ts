// Issue 9 bench: the hub's embedded broker (its real SQLite persistence and auth on) next to
// Debian's Mosquitto (persistence and a password file too) and plain Aedes of the same version
// (memory persistence, no auth), each its own process on a loopback port, driven by the same
// mqtt.js clients in this process. Scenarios: throughput (QoS 0/1/2, 64-byte payload, 1 and 4
// publisher/subscriber pairs), latency at 1 000 msg/s QoS 1, fan-out to 100 subscribers, a
// retained storm (10 000 retained topics to a new `#` subscriber), 2 000 idle connections.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { arrivals, clientProcess, connect, freePort, median, publishWindowed, sleep, untilReady } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PAYLOAD = Buffer.alloc(64, 'x');
const USER = 'bench';
const PASS = 'bench-password';

export interface BrokerUnderTest {
  name: string;
  url: string;
  auth: boolean;
  pid: number;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, url: string, auth: boolean): Promise<void> {
  return (async () => {
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      try {
        (await connect(url, auth ? { username: USER, password: PASS } : {})).end(true);
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`${url} did not come up`);
  })();
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  };
}

export interface HubOptions {
  /** That many scripts, each subscribed to a topic of its own. */
  idleScripts?: number;
  /** `false` leaves the WAL checkpoints to SQLite (inside commits); the default, `auto`, starts the
   * checkpoint thread once the hub writes 500 rows a second (as a hub does by default). */
  checkpointThread?: boolean | 'auto';
  /** Flags for node before the CLI (`--min-semi-space-size=16`), and `label` added to the name. */
  nodeFlags?: readonly string[];
  label?: string;
  /** The HTTP API on a loopback port too (`/metrics` with the bench user's HTTP Basic). */
  http?: boolean;
}

/** The hub's embedded broker, as `smart-home serve` starts it with its SQLite persistence and auth. */
export async function startHubBroker(o: HubOptions = {}): Promise<BrokerUnderTest & { metrics?(): Promise<string> }> {
  const { idleScripts = 0, checkpointThread = 'auto', nodeFlags = [], label = '' } = o;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-broker-hub-'));
  const port = await freePort();
  const httpPort = o.http ? await freePort() : 0;
  mkdirSync(path.join(dir, 'scripts'));
  for (let i = 0; i < idleScripts; i++)
    writeFileSync(
      path.join(dir, 'scripts', `idle${String(i).padStart(3, '0')}.js`),
      `let n = 0;\nMqtt.subscribe('home/idle/${i}/set', () => { n++; });\n`,
    );
  const cli = path.join(ROOT, 'dist/src/cli/main.js');
  const http = o.http ? `http:\n  host: 127.0.0.1\n  port: ${httpPort}\n` : 'http:\n  enabled: false\n';
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    `broker:\n  listeners: [{ type: tcp, host: 127.0.0.1, port: ${port} }]\n  max_connections: 5000\n  mdns: false\n${http}log_level: warn\nstore:\n  checkpoint_thread: ${checkpointThread}\n`,
  );
  execFileSync(process.execPath, [cli, 'user', 'add', USER, '--password-stdin', '--data', dir], { input: PASS });
  const child = spawn(process.execPath, [...nodeFlags, cli, 'serve', '--data', dir], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await untilReady(child);
  child.stdout!.resume();
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(child, url, true);
  const basic = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
  return {
    name: `Smart Home (embedded, SQLite persistence, auth${idleScripts ? `, ${idleScripts} idle scripts` : ''}${checkpointThread === false ? ', checkpoints inside commits' : ''}${label})`,
    url,
    auth: true,
    pid: child.pid!,
    stop: stopper(child),
    ...(o.http
      ? {
          metrics: async () =>
            (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: { authorization: basic } })).text(),
        }
      : {}),
  };
}

export async function startMosquittoBroker(): Promise<BrokerUnderTest> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-broker-mosq-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'passwd'), '');
  execFileSync('mosquitto_passwd', ['-b', path.join(dir, 'passwd'), USER, PASS]);
  writeFileSync(
    path.join(dir, 'm.conf'),
    `user root\nlistener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${dir}/passwd\npersistence true\npersistence_location ${dir}/\nmax_inflight_messages 0\nmax_queued_messages 0\nset_tcp_nodelay true\n`,
  );
  const child = spawn('mosquitto', ['-c', path.join(dir, 'm.conf')], { stdio: 'ignore' });
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(child, url, true);
  return { name: 'Mosquitto 2 (persistence, password file)', url, auth: true, pid: child.pid!, stop: stopper(child) };
}

export async function startPlainAedes(): Promise<BrokerUnderTest> {
  const port = await freePort();
  const req = createRequire(path.join(ROOT, 'package.json'));
  const code = `
    const { Aedes } = require(${JSON.stringify(req.resolve('aedes'))});
    const net = require('node:net');
    Aedes.createBroker().then((broker) => {
      const server = net.createServer((s) => { s.setNoDelay(true); broker.handle(s); });
      server.listen(${port}, '127.0.0.1');
    });
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(child, url, false);
  const version = (
    JSON.parse(readFileSync(path.join(ROOT, 'node_modules/aedes/package.json'), 'utf8')) as { version: string }
  ).version;
  return { name: `plain Aedes ${version} (memory, no auth)`, url, auth: false, pid: child.pid!, stop: stopper(child) };
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const opts = (b: BrokerUnderTest, extra: mqtt.IClientOptions = {}): mqtt.IClientOptions => ({
  ...(b.auth ? { username: USER, password: PASS } : {}),
  ...extra,
});

/** Messages per second through `pairs` publisher -> subscriber pairs, each on its own topic. */
export async function throughput(b: BrokerUnderTest, qos: 0 | 1 | 2, pairs: number, perPair: number): Promise<number> {
  const subs: MqttClient[] = [];
  const pubs: MqttClient[] = [];
  const got = arrivals(pairs * perPair, `throughput QoS ${qos}`);
  for (let p = 0; p < pairs; p++) {
    const s = await connect(b.url, opts(b));
    await s.subscribeAsync(`bench/t${p}`, { qos });
    s.on('message', got.hit);
    subs.push(s);
    pubs.push(await connect(b.url, opts(b)));
  }
  const t0 = performance.now();
  await Promise.all(
    pubs.map(async (c, p) => {
      if (qos > 0) return publishWindowed(c, perPair, () => `bench/t${p}`, PAYLOAD, { qos });
      for (let i = 0; i < perPair; i++) {
        c.publish(`bench/t${p}`, PAYLOAD, { qos: 0 });
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  await got.done();
  const rate = ((pairs * perPair) / (performance.now() - t0)) * 1000;
  for (const c of [...subs, ...pubs]) c.end(true);
  return rate;
}

export interface Latency {
  p50: number;
  p99: number;
  max: number;
  lost: number;
}

/**
 * Latency (ms) from publish to delivery at `rate` msg/s and `qos`, over `seconds` after a 1 s
 * warm-up, measured by a client process of its own (bench/latency-client.ts); with `durable`, to a
 * subscriber with a persistent session.
 */
export function latency(
  b: BrokerUnderTest,
  rate: number,
  seconds: number,
  qos: 0 | 1 = 1,
  durable = false,
): Promise<Latency> {
  return clientProcess<Latency>('latency-client', { url: b.url, ...opts(b), rate, seconds, qos, durable });
}

/** Deliveries per second from one publisher to `subscribers` subscribers of one topic (QoS 0). */
export async function fanout(b: BrokerUnderTest, subscribers: number, messages: number): Promise<number> {
  const subs: MqttClient[] = [];
  const total = subscribers * messages;
  const got = arrivals(total, 'fan-out');
  for (let i = 0; i < subscribers; i++) {
    const s = await connect(b.url, opts(b));
    await s.subscribeAsync('bench/fan', { qos: 0 });
    s.on('message', got.hit);
    subs.push(s);
  }
  const p = await connect(b.url, opts(b));
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) {
    p.publish('bench/fan', PAYLOAD, { qos: 0 });
    if (i % 20 === 19) await sleep(1);
  }
  await got.done();
  const rate = (total / (performance.now() - t0)) * 1000;
  for (const c of [...subs, p]) c.end(true);
  return rate;
}

/** Seconds until a new `#` subscriber has all `topics` retained messages. */
export async function retainedStorm(b: BrokerUnderTest, topics: number, round: number): Promise<number> {
  const p = await connect(b.url, opts(b));
  await publishWindowed(p, topics, (i) => `storm${round}/${i}`, PAYLOAD, { qos: 1, retain: true });
  const s = await connect(b.url, opts(b));
  const got = arrivals(topics, 'retained');
  s.on('message', (_t, _p, packet) => {
    if (packet.retain) got.hit();
  });
  const t0 = performance.now();
  await s.subscribeAsync(`storm${round}/#`, { qos: 0 });
  await got.done();
  const secs = (performance.now() - t0) / 1000;
  // clear them, so the next round and the next broker start clean
  for (let i = 0; i < topics; i++) p.publish(`storm${round}/${i}`, '', { qos: 0, retain: true });
  await sleep(300);
  s.end(true);
  p.end(true);
  return secs;
}

/** `n` idle clients connected to `b`, 100 at a time. */
export async function idleClients(b: BrokerUnderTest, n: number): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < n; i += 100) {
    clients.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, () => connect(b.url, opts(b, { keepalive: 600 }))),
      )),
    );
  }
  return clients;
}

/** Seconds to connect `n` idle clients (100 at a time) and the broker's RSS before and after. */
export async function connections(
  b: BrokerUnderTest,
  n: number,
): Promise<{ secs: number; rssBefore: number; rssAfter: number }> {
  const rssBefore = rssMiB(b.pid);
  const t0 = performance.now();
  const clients = await idleClients(b, n);
  const secs = (performance.now() - t0) / 1000;
  await sleep(500);
  const rssAfter = rssMiB(b.pid);
  for (const c of clients) c.end(true);
  await sleep(500);
  return { secs, rssBefore, rssAfter };
}

export { median };
