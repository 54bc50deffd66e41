// Child process of the reaction bench (bench/reaction.ts): after a 1 s warm-up, publishes `rate` msg/s for `seconds` on
// bench/in, payload `{"seq":N,"t":ms}`; each engine answers on bench/out with a payload that
// carries the same seq, and the latency is from that seq's send time. Prints the point as JSON.
// A process of its own (as bench/latency-client.ts), so the bench process's heap after the other
// sections does not add its GC pauses to every engine's tail.
import { connect, sleep } from './lib.js';

const { url, rate, seconds } = JSON.parse(process.argv[2] ?? '{}') as { url: string; rate: number; seconds: number };
const sub = await connect(url);
const pub = await connect(url);
await sub.subscribeAsync('bench/out', { qos: 0 });
const total = rate * seconds;
const sentAt = new Float64Array(total);
const latencies: number[] = [];
let last = -1;
let reordered = 0;
sub.on('message', (_t, p) => {
  const seq = (JSON.parse(p.toString()) as { seq: number }).seq;
  if (!(seq >= 0 && seq < total)) return; // a late reply of the step before
  latencies.push(performance.now() - sentAt[seq]!);
  if (seq < last) reordered++;
  last = seq;
});
/** Sends `n` messages at `rate` (in 1 ms ticks); seq(i) is what message i carries. */
function send(n: number, seq: (i: number) => number): Promise<void> {
  let sent = 0;
  const start = performance.now();
  return new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(n, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const now = performance.now();
        const s = seq(sent);
        if (s >= 0) sentAt[s] = now;
        pub.publish('bench/in', `{"seq":${s},"t":${now}}`, { qos: 0 });
        sent++;
      }
      if (sent >= n) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
}

// warm-up, 1 s at the same rate, not counted (negative seqs; the replies are ignored): this
// process's and the engine's code paths compiled before anything is measured
await send(rate, (i) => -1 - i);
await sleep(200);
await send(total, (i) => i);
const deadline = performance.now() + 5000;
while (latencies.length < total && performance.now() < deadline) await sleep(20);
await sleep(100);
sub.end(true);
pub.end(true);
const sorted = latencies.sort((a, b) => a - b);
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
process.stdout.write(
  JSON.stringify({ rate, sent: total, received: latencies.length, reordered, p50: q(0.5), p99: q(0.99) }),
);
process.exit(0);
