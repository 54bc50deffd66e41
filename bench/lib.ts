// Shared bench helpers: a Mosquitto on a loopback port, timing, a table printer.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';

export { freePort } from '../test/helpers.js';
import { startMosquitto as start } from '../test/helpers.js';

/** The anchor broker: Debian's Mosquitto, loopback only, unlimited queues, TCP_NODELAY. */
export function startMosquitto(): Promise<{ url: string; stop(): Promise<void> }> {
  return start('max_inflight_messages 0\nmax_queued_messages 0\nset_tcp_nodelay true\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when a `smart-home serve` child prints "ready" (the broker listens, every script is loaded). */
export function untilReady(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (/ready/.test(out)) resolve();
    });
    child.once('exit', (c) => reject(new Error(`hub exited ${c}`)));
  });
}

/**
 * Runs a measuring client in a process of its own (dist/bench/NAME.js, its arguments as one JSON
 * string) and resolves with the JSON it prints: the bench process's own heap stays out of the figures.
 */
export function clientProcess<T>(name: string, args: object): Promise<T> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.js`);
  const child = spawn(process.execPath, [file, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`${name} exited with ${code}`)),
    ),
  );
}

export function connect(url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, ...opts });
    c.once('connect', () => {
      (c.stream as net.Socket).setNoDelay?.(true);
      resolve(c);
    });
    c.once('error', reject);
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** How many times a scenario is repeated; figures are the median (BENCH_ROUNDS, default 3). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** The median of the rounds, with their range when they differ: "96 (94-99)". */
export function medianOf(xs: number[], format: (n: number) => string = fmt): string {
  const m = median(xs);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.length > 1 && format(lo) !== format(hi) ? `${format(m)} (${format(lo)}-${format(hi)})` : format(m);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

export const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

/** Counts arrivals up to `total`; `done()` resolves when all came, and fails after `timeoutMs` saying how many did. */
export function arrivals(total: number, what: string, timeoutMs = 60_000): { hit(): void; done(): Promise<void> } {
  let count = 0;
  let resolve!: () => void;
  const all = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    hit: () => {
      if (++count === total) resolve();
    },
    done: () =>
      Promise.race([
        all,
        sleep(timeoutMs).then(() => {
          throw new Error(`${what}: only ${count} of ${total} arrived`);
        }),
      ]),
  };
}

/** Publishes `n` QoS 1/2 messages with at most `window` unacknowledged, and waits for the last acknowledgement. */
export async function publishWindowed(
  c: MqttClient,
  n: number,
  topicOf: (i: number) => string,
  payload: Buffer,
  opts: mqtt.IClientPublishOptions,
  window = 200,
): Promise<void> {
  let inflight = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < n; i++) {
    inflight++;
    c.publish(topicOf(i), payload, opts, () => {
      inflight--;
      wake?.();
    });
    while (inflight >= window)
      await new Promise<void>((r) => {
        wake = r;
      });
  }
  while (inflight > 0)
    await new Promise<void>((r) => {
      wake = r;
    });
}

/**
 * The machine's CPU time so far from /proc/stat (clock ticks, all cores): `steal` is time the
 * hypervisor gave this VM's virtual CPUs to someone else, a pause no code here can avoid.
 * Undefined where there is no /proc/stat.
 */
export function cpuTicks(): { steal: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** The share of CPU time stolen between two `cpuTicks()` readings, as "1.3 %" ("unknown" without them). */
export function stealBetween(a: ReturnType<typeof cpuTicks>, b: ReturnType<typeof cpuTicks>): string {
  if (!a || !b || b.total <= a.total) return 'unknown';
  return `${((100 * (b.steal - a.steal)) / (b.total - a.total)).toFixed(1)} %`;
}
