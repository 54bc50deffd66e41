// Issue 9 bench: the hub's memory. RSS idle; with 1 000 scripts loaded (each subscribed to its own
// topic); and while 1 000 000 messages pass through its broker in two equal phases of 500 000 —
// RSS after each phase, so growth between them shows a leak (after a GC-friendly pause).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arrivals, connect, freePort, medianOf, publishWindowed, ROUNDS, sleep, table, untilReady } from './lib.js';
import { rssMiB } from './brokers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

async function hub(
  scripts: number,
  automations?: string,
): Promise<{ child: ChildProcess; url: string; startSecs: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-mem-'));
  const port = await freePort();
  mkdirSync(path.join(dir, 'scripts'));
  if (automations) writeFileSync(path.join(dir, 'automations.yaml'), automations);
  for (let i = 0; i < scripts; i++)
    writeFileSync(
      path.join(dir, 'scripts', `s${String(i).padStart(4, '0')}.js`),
      `let n = 0;\nMqtt.subscribe('mem/${i}', () => { n++; });\n`,
    );
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    `broker:\n  listeners: [{ type: tcp, host: 127.0.0.1, port: ${port} }]\n  mdns: false\nhttp:\n  enabled: false\nlog_level: warn\n`,
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  await untilReady(child);
  return { child, url: `mqtt://127.0.0.1:${port}`, startSecs: (performance.now() - t0) / 1000 };
}

/** n messages through the hub's broker to a subscriber; QoS 1 paces the publisher by its acknowledgements (a busy hub drops no QoS 1 message). */
async function pump(url: string, n: number, qos: 0 | 1 = 0): Promise<void> {
  const sub = await connect(url);
  const pub = await connect(url);
  await sub.subscribeAsync('pump/#', { qos });
  const got = arrivals(n, 'pump', 120_000);
  sub.on('message', got.hit);
  const payload = Buffer.alloc(64, 'x');
  if (qos === 1) await publishWindowed(pub, n, (i) => `pump/${i % 100}`, payload, { qos: 1 });
  else
    for (let i = 0; i < n; i++) {
      pub.publish(`pump/${i % 100}`, payload, { qos: 0 });
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
  await got.done();
  sub.end(true);
  pub.end(true);
}

interface MemoryRound {
  idle: number;
  /** 30 s after ready: V8's memory reducer has run (it shrinks the young generation start-up grew). */
  idleSettled: number;
  after1: number;
  after2: number;
  scripts1000: number;
  scripts1000Settled: number;
  startSecs: number;
}

/**
 * A hub's RSS is sampled 2 s after its ready line and again here: V8 shrinks the young generation
 * that start-up grew (16 MiB semi-spaces) once allocation goes quiet, about 8 s after start for an
 * empty hub and 20-30 s for one with 1 000 scripts (sampled each second by hand: 117 -> 95 MiB).
 */
const SETTLE_MS = 30_000;

async function round(): Promise<MemoryRound> {
  const stop = async (c: ChildProcess) => {
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  };
  const idle = await hub(0);
  await sleep(2000);
  const rssIdle = rssMiB(idle.child.pid!);
  await sleep(SETTLE_MS - 2000);
  const rssIdleSettled = rssMiB(idle.child.pid!);
  process.stderr.write('  memory: idle\n');
  await pump(idle.url, 500_000);
  await sleep(3000);
  const rss1 = rssMiB(idle.child.pid!);
  process.stderr.write('  memory: first 500 000 messages\n');
  await pump(idle.url, 500_000);
  await sleep(3000);
  const rss2 = rssMiB(idle.child.pid!);
  process.stderr.write('  memory: second 500 000 messages\n');
  await stop(idle.child);
  const many = await hub(1000);
  await sleep(2000);
  const rss1000 = rssMiB(many.child.pid!);
  await sleep(SETTLE_MS - 2000);
  const rss1000Settled = rssMiB(many.child.pid!);
  process.stderr.write('  memory: 1 000 scripts\n');
  await stop(many.child);
  return {
    idle: rssIdle,
    idleSettled: rssIdleSettled,
    after1: rss1,
    after2: rss2,
    scripts1000: rss1000,
    scripts1000Settled: rss1000Settled,
    startSecs: many.startSecs,
  };
}

export async function benchMemory(): Promise<string> {
  const rounds: MemoryRound[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    process.stderr.write(`  memory: round ${i + 1} of ${ROUNDS}\n`);
    rounds.push(await round());
  }
  const col = (f: (r: MemoryRound) => number, format?: (n: number) => string) => medianOf(rounds.map(f), format);
  return table(
    ['hub state', `RSS (MiB), median of ${ROUNDS} (range)`],
    [
      ['idle (embedded broker, no scripts), 2 s after ready', col((r) => r.idle)],
      ['the same, 30 s after ready (settled)', col((r) => r.idleSettled)],
      ['after 500 000 messages through the broker', col((r) => r.after1)],
      ['after 1 000 000 messages (second, equal phase)', col((r) => r.after2)],
      ['growth between the two equal phases', col((r) => r.after2 - r.after1)],
      [
        `with 1 000 scripts loaded (start took ${col(
          (r) => r.startSecs,
          (n) => n.toFixed(1),
        )} s)`,
        col((r) => r.scripts1000),
      ],
      ['the same, 30 s after ready (settled)', col((r) => r.scripts1000Settled)],
    ],
  );
}

/** 100 automations on pump/#: with a json filter every message fails (a near miss each), or on a topic no message has (none). */
const nearMissAutomations = (topic: string) =>
  Array.from(
    { length: 100 },
    (_, i) =>
      `- id: a${i}\n  triggers:\n    - type: mqtt\n      topic: "${topic}"\n      json: { occupancy: true }\n  actions:\n    - type: publish\n      topic: out/${i}\n`,
  ).join('');

async function nearMissRound(topic: string): Promise<{ after1: number; after2: number }> {
  const h = await hub(0, nearMissAutomations(topic));
  await sleep(2000);
  await pump(h.url, 100_000, 1);
  await sleep(3000);
  const after1 = rssMiB(h.child.pid!);
  await pump(h.url, 100_000, 1);
  await sleep(3000);
  const after2 = rssMiB(h.child.pid!);
  h.child.kill('SIGTERM');
  await new Promise((r) => h.child.once('exit', r));
  return { after1, after2 };
}

/**
 * "Why didn't it run?" costs bounded memory: 100 automations whose json filter turns away every one
 * of 200 000 messages (20 million near misses offered, 20 kept per automation), side by side with
 * the same hub whose automations listen to a topic no message has (the anchor: no near misses).
 */
export async function benchNearMisses(): Promise<string> {
  const misses: { after1: number; after2: number }[] = [];
  const anchor: { after1: number; after2: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    process.stderr.write(`  near misses: round ${i + 1} of ${ROUNDS}\n`);
    misses.push(await nearMissRound('pump/#'));
    anchor.push(await nearMissRound('elsewhere/#'));
  }
  const col = (rs: typeof misses, f: (r: (typeof misses)[number]) => number) => medianOf(rs.map(f));
  return table(
    ['hub', 'RSS after 100 000 (MiB)', 'after 200 000 (MiB)', 'growth in the second phase (MiB)'],
    [
      [
        '100 automations turning every message away (near misses recorded)',
        col(misses, (r) => r.after1),
        col(misses, (r) => r.after2),
        col(misses, (r) => r.after2 - r.after1),
      ],
      [
        'anchor: the same automations on a topic no message has',
        col(anchor, (r) => r.after1),
        col(anchor, (r) => r.after2),
        col(anchor, (r) => r.after2 - r.after1),
      ],
    ],
  );
}
