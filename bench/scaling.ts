// Issue 8 bench: scripted work shared by N hubs on one Mosquitto through a shared subscription
// ($share/<group>/jobs/+). Each job is a QoS 1 message; the script does a fixed amount of work
// (JSON parse, a loop) and awaits its QoS 1 reply (an async handler, so the next job waits
// for the broker's PUBACK: backpressure instead of max_pending_publishes / outbox_max refusals). Figures: jobs/s for 1 and 2 hub processes,
// each job answered exactly once. Each hub is its own process (its own event loop and core).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, fmt, median, table } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const JOBS = 20_000;
const WORK = `let x = 0; for (let i = 0; i < 2000; i++) x += i % 7;`;

async function startHub(brokerUrl: string, n: number): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-scale-'));
  mkdirSync(path.join(dir, 'scripts'));
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    `mqtt:\n  url: ${brokerUrl}\n  client_id: bench-scale-${n}\n  share_group: bench\n  clean_session: true\nscripts:\n  queue_size: 100000\nhttp:\n  enabled: false\nlog_level: warn\n`,
  );
  writeFileSync(
    path.join(dir, 'scripts', 'worker.js'),
    `Mqtt.subscribe('jobs/+', async (m) => { const job = m.json; ${WORK} await Mqtt.publish('done/' + m.params[0], {id: job.id, x}, 1); });\n`,
  );
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--data', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (/ready/.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`hub exited ${code}: ${out}`)));
  });
  return child;
}

async function round(brokerUrl: string, hubs: number): Promise<{ rate: number; dupes: number }> {
  const children = await Promise.all(Array.from({ length: hubs }, (_, i) => startHub(brokerUrl, i)));
  await new Promise((r) => setTimeout(r, 500));
  const sub = await connect(brokerUrl);
  const seen = new Map<string, number>();
  let done: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  sub.on('message', (topic) => {
    seen.set(topic, (seen.get(topic) ?? 0) + 1);
    if (seen.size === JOBS) done();
  });
  await sub.subscribeAsync('done/+', { qos: 1 });
  const pub = await connect(brokerUrl);
  const started = performance.now();
  for (let i = 0; i < JOBS; i++) {
    pub.publish(`jobs/${i}`, JSON.stringify({ id: i }), { qos: 1 });
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await Promise.race([
    all,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${seen.size} of ${JOBS} done`)), 120_000)),
  ]);
  const ms = performance.now() - started;
  const dupes = [...seen.values()].filter((v) => v > 1).length;
  sub.end(true);
  pub.end(true);
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  return { rate: (JOBS / ms) * 1000, dupes };
}

export async function benchScaling(brokerUrl: string): Promise<string> {
  const rows: (string | number)[][] = [];
  for (const hubs of [1, 2]) {
    const rates: number[] = [];
    let dupes = 0;
    for (let r = 0; r < 3; r++) {
      const res = await round(brokerUrl, hubs);
      rates.push(res.rate);
      dupes += res.dupes;
      process.stderr.write(`scaling: ${hubs} hub(s), round ${r + 1}: ${fmt(res.rate)} jobs/s\n`);
    }
    rows.push([`${hubs} hub${hubs > 1 ? 's' : ''} ($share/bench/jobs/+)`, fmt(median(rates)), dupes]);
  }
  const one = Number(String(rows[0]![1]).replace(/,/g, ''));
  const two = Number(String(rows[1]![1]).replace(/,/g, ''));
  return `${table(['hubs', 'jobs/s (median of 3)', 'jobs answered twice'], rows)}\n\n2 hubs / 1 hub: ${(two / one).toFixed(2)}x (${JOBS.toLocaleString('en-US')} QoS 1 jobs, ${WORK.length}-char loop of work each)`;
}
