// Test helpers: real hubs on loopback ports, real SQLite files in temp dirs, real clients.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { configSchema, type Config } from '../src/config/schema.js';
import { Hub, type HubOptions } from '../src/hub.js';
import type { Clock } from '../src/clock.js';
import { openStore } from '../src/store/db.js';
import { UserStore } from '../src/store/users.js';
import { createLogger } from '../src/log.js';

export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export function tempDir(prefix = 'smart-home-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A port that was free a moment ago (for restarts that must reuse a port). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Debian's Mosquitto on a loopback port (anonymous, no persistence), for interop and anchors. */
export async function startMosquitto(
  extraConf = '',
  port?: number,
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  port ??= await freePort();
  const dir = tempDir('smart-home-mosquitto-');
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${extraConf}`);
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const url = `mqtt://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      (await connect(url)).end(true);
      break;
    } catch {
      await sleep(50);
    }
  }
  return {
    url,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      removeDir(dir);
    },
  };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function testConfig(dataDir: string, overrides: Record<string, unknown> = {}): Config {
  const base = {
    data_dir: dataDir,
    log_level: 'silent',
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], mdns: false },
    http: { enabled: false, port: 0 },
  };
  return configSchema.parse(merge(base, overrides));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    out[k] =
      av && v && typeof av === 'object' && typeof v === 'object' && !Array.isArray(v) && !Array.isArray(av)
        ? merge(av as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export interface TestHub {
  hub: Hub;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * A started hub whose users exist before it starts (as after `smart-home user add`): the broker
 * then refuses anonymous clients from its first CONNECT.
 */
export async function startHubWithUsers(
  users: { name: string; password: string; admin?: boolean }[],
  overrides: Record<string, unknown> = {},
): Promise<TestHub> {
  const dir = tempDir();
  const db = openStore(dir);
  const store = new UserStore(db);
  for (const u of users) await store.add(u.name, u.password, u.admin ?? false);
  db.close();
  return startHub(overrides, dir);
}

/** A started hub on an ephemeral loopback port with its own temp data dir. */
export async function startHub(
  overrides: Record<string, unknown> = {},
  dir = tempDir(),
  log = createLogger(process.env.TEST_LOG ?? 'silent'),
  opts: HubOptions = {},
): Promise<TestHub> {
  const config = testConfig(dir, overrides);
  const hub = new Hub(config, log, opts);
  await hub.start();
  const url = hub.listeners[0]?.url ?? '';
  return {
    hub,
    url,
    dir,
    stop: async () => {
      await closeClients();
      await hub.stop();
    },
  };
}

/** A logger at `level` whose lines (parsed JSON) are kept in `lines`, and a wait for one to appear. */
export function capturingLogger(level = 'info'): {
  log: ReturnType<typeof createLogger>;
  lines: Record<string, unknown>[];
  raw: string[];
  line(test: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
} {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n'))
        if (text.trim()) {
          raw.push(text);
          lines.push(JSON.parse(text) as Record<string, unknown>);
        }
      for (const w of waiters) w();
      done();
    },
  });
  const line = (ok: (l: Record<string, unknown>) => boolean, what: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no log line ${what} within 5 s`));
      }, 5000);
      const check = () => {
        const found = lines.find(ok);
        if (found) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        }
      };
      waiters.add(check);
      check();
    });
  return { log: createLogger(level, sink), lines, raw, line };
}

const openClients = new Set<MqttClient>();

/** Ends every client `connect` made (so a failed test leaves no socket keeping the process alive). */
export async function closeClients(): Promise<void> {
  for (const c of openClients) c.end(true);
  openClients.clear();
}

/** SUBSCRIBE and return the SUBACK's return codes, 0x80 (128) failures included. */
export function subscribeCodes(client: MqttClient, topics: string[], qos: 0 | 1 | 2 = 0): Promise<number[]> {
  return new Promise((resolve) => {
    // Read the SUBACK itself: mqtt.js turns a 0x80 into an error and hides the codes.
    const onPacket = (packet: unknown) => {
      const p = packet as { cmd: string; granted?: number[] };
      if (p.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve(p.granted ?? []);
    };
    client.on('packetreceive', onPacket);
    client.subscribe(topics, { qos }, () => {});
  });
}

/** A connected client; `sessionPresent` is the CONNACK's flag. */
export async function connect(
  url: string,
  opts: IClientOptions = {},
  beforeConnack?: (c: MqttClient) => void,
): Promise<MqttClient & { sessionPresent: boolean }> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }) as MqttClient & {
    sessionPresent: boolean;
  };
  beforeConnack?.(c);
  openClients.add(c);
  c.once('end', () => openClients.delete(c));
  await new Promise<void>((resolve, reject) => {
    c.once('connect', (connack) => {
      c.sessionPresent = connack.sessionPresent;
      resolve();
    });
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return c;
}

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

/**
 * Connects and collects from the first packet on: a broker resuming a session sends the queued
 * messages right behind CONNACK, before `await connect(...)` returns and `collect` could listen.
 */
export async function connectCollecting(
  url: string,
  opts: IClientOptions = {},
): Promise<{ client: MqttClient & { sessionPresent: boolean }; got: ReturnType<typeof collect> }> {
  let got!: ReturnType<typeof collect>;
  const client = await connect(url, opts, (c) => {
    got = collect(c);
  });
  return { client, got };
}

/** Collects messages on a client; `next(n)` waits for the n-th one (bounded by a timeout). */
export function collect(client: MqttClient): {
  messages: Received[];
  next(count?: number, timeoutMs?: number): Promise<Received[]>;
} {
  const messages: Received[] = [];
  const waiters: (() => void)[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload, qos: packet.qos, retain: packet.retain });
    for (const w of waiters.splice(0)) w();
  });
  return {
    messages,
    async next(count = 1, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `expected ${count} message(s), got ${messages.length}: ${JSON.stringify(messages.map((m) => m.topic))}`,
          );
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, left);
        });
      }
      return messages;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new client subscribes and publishes once at `qos` and gets its message back: the broker serves. */
export async function roundTrip(
  url: string,
  { topic = 'alive/check', payload = 'yes', qos = 1 }: { topic?: string; payload?: string; qos?: 0 | 1 | 2 } = {},
): Promise<void> {
  const c = await connect(url);
  const got = collect(c);
  await c.subscribeAsync(topic, { qos });
  await c.publishAsync(topic, payload, { qos });
  assert.equal((await got.next(1))[0]!.payload.toString(), payload);
  c.end();
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (bounded). */
export function runCli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...cleanEnv(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The environment without SMART_HOME_* variables of the developer's shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SMART_HOME_')));
}

export interface Served {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `smart-home serve` as a real process and waits for its ready lines. */
export async function serve(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd: opts.cwd,
    env: { ...cleanEnv(), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not become ready: ${out}\n${err}`));
    }, 20000);
    const check = () => {
      const m = /MQTT {2}(mqtt:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}\n${err}`));
    });
  });
  return { child, url, stdout: () => out, stderr: () => err, exited };
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** The script that answers bystander/ping on bystander/pong, loaded first by the hostile suites. */
export const BYSTANDER = "Mqtt.subscribe('bystander/ping', (m) => Mqtt.publish('bystander/pong', m.payload, 1));";
let bystanderPings = 0;
/** The bystander script still answers, and the broker still routes. */
export async function bystanderAnswers(url: string): Promise<void> {
  const c = await connect(url);
  const got = collect(c);
  await c.subscribeAsync('bystander/pong', { qos: 1 });
  const token = `p${++bystanderPings}`;
  await c.publishAsync('bystander/ping', token, { qos: 1 });
  await waitFor(() => got.messages.some((m) => m.payload.toString() === token), 5000, "the bystander's answer");
  c.end();
}

/** Loads `source` as /scripts/NAME in the hub and returns its log once it has `lines` lines. */
export async function scriptLog(h: TestHub, name: string, source: string, lines: number): Promise<string[]> {
  const s = await h.hub.scripts.load(`/scripts/${name}`, {}, source);
  await waitFor(() => s.logs.length >= lines, 15000, `${lines} log lines of ${name}`);
  return s.logs.map((l) => l.message);
}

/** A clock for automations' waits that moves only when told (the rest of the hub keeps real time). */
export interface FakeClock extends Clock {
  /** Moves the time on, running each timer that falls due, in order. */
  advance(ms: number): void;
  /** Timers waiting. */
  readonly pending: number;
}

export function fakeClock(start = Date.now()): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (h) => {
      timers.delete(h as number);
    },
    get pending() {
      return timers.size;
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        timers.delete(next[0]);
        now = Math.max(now, next[1].at);
        next[1].fn();
      }
      now = until;
    },
  };
}
