// Child process of the broker latency scenario (bench/brokers.ts): one subscriber and one
// publisher on `bench/lat`, `rate` messages a second for a 1 s warm-up (not counted) and then
// `seconds`, each payload carrying its send time; prints {p50, p99, max, lost} in ms as JSON.
// With `durable`, the subscriber has a persistent session, so the broker stores every message.
// A process of its own, so the bench process's heap after the throughput scenarios (and its 2 000
// idle clients) does not add its GC pauses to every broker's tail.
import { connect, sleep } from './lib.js';

interface Args {
  url: string;
  username?: string;
  password?: string;
  rate: number;
  seconds: number;
  qos: 0 | 1;
  /** The subscriber keeps a persistent session (clean: false): the broker stores each message for it. */
  durable?: boolean;
}

const a = JSON.parse(process.argv[2] ?? '{}') as Args;
const opts = a.username ? { username: a.username, password: a.password } : {};
const s = await connect(
  a.url,
  a.durable ? { ...opts, clientId: `bench-lat-${process.pid}-${Date.now()}`, clean: false } : opts,
);
const p = await connect(a.url, opts);
await s.subscribeAsync('bench/lat', { qos: a.qos });
let counting = false;
const lat: number[] = [];
s.on('message', (_t, payload) => {
  if (payload.readUInt8(8) === 1) lat.push(performance.now() - payload.readDoubleLE(0));
});

async function send(n: number): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / a.rate - performance.now();
    if (wait > 1) await sleep(wait);
    const buf = Buffer.alloc(64);
    buf.writeDoubleLE(performance.now(), 0);
    buf.writeUInt8(counting ? 1 : 0, 8);
    p.publish('bench/lat', buf, { qos: a.qos });
  }
}

await send(a.rate); // warm-up: the broker's and this client's code paths compiled, buffers grown
await sleep(200);
counting = true;
const n = a.rate * a.seconds;
await send(n);
await sleep(500);
await s.unsubscribeAsync('bench/lat'); // a persistent session stored nothing for later
s.end(true);
p.end(true);
const sorted = lat.sort((x, y) => x - y);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
process.stdout.write(
  JSON.stringify({ p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN, lost: n - lat.length }),
);
process.exit(0);
