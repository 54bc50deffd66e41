// Issue 6/18 bench: reaction latency, message in -> rule/script -> message out, through one
// Mosquitto, side by side in one run: the hub (a Mqtt.subscribe script; an automation with a
// script action; an automation with a templated publish), Node-RED (mqtt in -> function -> mqtt
// out) and a hand-written mqtt.js program; and the hub's script on its own embedded broker.
// BENCH_ENGINES=script,node-red picks engines by name. p50/p99 at 100, 500 and
// 1000 msg/s, and the highest rate with p99 < 50 ms and nothing lost, after a 5 s warm-up. Each
// engine is its own process, so its RSS is its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientProcess, freePort, median, medianOf, ROUNDS, sleep, table } from './lib.js';
import { rssMiB } from './brokers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const NODE_RED = path.join(ROOT, 'bench/node-red/node_modules/node-red/red.js');
const SECONDS = 3;

interface Engine {
  name: string;
  /** Measured against its own broker, not the shared Mosquitto (not comparable with the others). */
  embedded?: boolean;
  start(brokerUrl: string): Promise<Started>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out.slice(-500)}`)), 60000);
    const on = (d: Buffer) => {
      out += d;
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code}: ${out.slice(-500)}`));
    });
  });
}

interface Started {
  child: ChildProcess;
  /** The broker the bench client talks to, when it is not the shared Mosquitto (the hub's own). */
  url?: string;
}

/** The script of issue 18: a Mqtt.subscribe handler that parses the payload and publishes. */
const SUBSCRIBE_SCRIPT = `Mqtt.subscribe('bench/in', m => Mqtt.publish('bench/out', JSON.stringify({seq: JSON.parse(m.payload).seq, state: 'on'}), 0, false))\n`;

async function startHub(
  brokerUrl: string | undefined,
  files: { automations?: string; script?: string },
): Promise<Started> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-hub-'));
  const port = brokerUrl ? 0 : await freePort();
  const broker = brokerUrl
    ? `mqtt:\n  url: ${brokerUrl}\n  client_id: bench-hub\n`
    : `broker:\n  listeners: [{ type: tcp, host: 127.0.0.1, port: ${port} }]\n  mdns: false\n`;
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    `${broker}http:\n  enabled: false\nlog_level: warn\nstore:\n  trace_max_rows: 10000\n`,
  );
  if (files.automations) writeFileSync(path.join(dir, 'automations.yaml'), files.automations);
  if (files.script) {
    mkdirSync(path.join(dir, 'scripts'));
    writeFileSync(path.join(dir, 'scripts', 'react.js'), files.script);
  }
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--data', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForLine(child, /ready/, 'the hub');
  return { child, url: brokerUrl ? undefined : `mqtt://127.0.0.1:${port}` };
}

const automation = (action: string) => `
- id: react
  mode: parallel
  max: 1000
  triggers:
    - type: mqtt
      topic: bench/in
  actions:
${action}`;

const hubScript: Engine = {
  name: 'Smart Home (Mqtt.subscribe script)',
  start: (brokerUrl) => startHub(brokerUrl, { script: SUBSCRIBE_SCRIPT }),
};

const hubEmbedded: Engine = {
  name: 'Smart Home, embedded broker (Mqtt.subscribe script)',
  embedded: true,
  start: () => startHub(undefined, { script: SUBSCRIBE_SCRIPT }),
};

const hub: Engine = {
  name: 'Smart Home (automation -> script)',
  start: (brokerUrl) =>
    startHub(brokerUrl, {
      automations: automation("    - type: script\n      code: Mqtt.publish('bench/out', trigger.payload)\n"),
    }),
};

const hubTemplate: Engine = {
  name: 'Smart Home (automation -> publish with a template)',
  start: (brokerUrl) =>
    startHub(brokerUrl, {
      automations: automation(
        "    - type: publish\n      topic: bench/out\n      payload: { seq: '{{ trigger.json.seq }}', state: 'on' }\n",
      ),
    }),
};

const plain: Engine = {
  name: 'hand-written mqtt.js (noDelay)',
  async start(brokerUrl) {
    const code = `
      const mqtt = require(${JSON.stringify(path.join(ROOT, 'node_modules/mqtt'))});
      const c = mqtt.connect(${JSON.stringify(brokerUrl)});
      c.on('connect', () => { c.stream.setNoDelay(true); c.subscribe('bench/in', () => console.log('ready')); });
      c.on('message', (t, p) => c.publish('bench/out', p));
    `;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForLine(child, /ready/, 'the mqtt.js program');
    return { child };
  },
};

const nodeRed: Engine = {
  name: 'Node-RED 4 (mqtt in -> function -> mqtt out)',
  async start(brokerUrl) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-nr-'));
    const u = new URL(brokerUrl);
    const flows = [
      { id: 'tab', type: 'tab', label: 'bench' },
      {
        id: 'broker',
        type: 'mqtt-broker',
        name: 'mosquitto',
        broker: u.hostname,
        port: u.port,
        clientid: 'bench-node-red',
        usetls: false,
        protocolVersion: '4',
        keepalive: '60',
        cleansession: true,
      },
      {
        id: 'in',
        z: 'tab',
        type: 'mqtt in',
        topic: 'bench/in',
        qos: '0',
        datatype: 'buffer',
        broker: 'broker',
        wires: [['fn']],
      },
      {
        id: 'fn',
        z: 'tab',
        type: 'function',
        func: "msg.topic = 'bench/out';\nreturn msg;",
        outputs: 1,
        wires: [['out']],
      },
      { id: 'out', z: 'tab', type: 'mqtt out', topic: '', qos: '0', retain: 'false', broker: 'broker', wires: [] },
    ];
    writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flows));
    const port = await freePort();
    writeFileSync(
      path.join(dir, 'settings.js'),
      `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, httpAdminRoot: false, httpNodeRoot: false, flowFile: 'flows.json', logging: { console: { level: 'info' } }, telemetry: { enabled: false }, diagnostics: { enabled: false } };`,
    );
    const child = spawn(process.execPath, [NODE_RED, '--userDir', dir, '--settings', path.join(dir, 'settings.js')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForLine(child, /Connected to broker/, 'Node-RED');
    return { child };
  },
};

interface Point {
  rate: number;
  sent: number;
  received: number;
  /** Replies that came before the reply to an earlier message (order per script broken). */
  reordered: number;
  p50: number;
  p99: number;
}

/** One rate step, measured by bench/reaction-client.ts in a process of its own. */
function measure(brokerUrl: string, rate: number, seconds = SECONDS): Promise<Point> {
  return clientProcess<Point>('reaction-client', { url: brokerUrl, rate, seconds });
}

interface Round {
  points: Point[];
  max: number;
  idle: number;
  loaded: number;
}

async function runEngine(e: Engine, brokerUrl: string, fixed: number[], ladder: number[]): Promise<Round> {
  const { child, url } = await e.start(brokerUrl);
  const target = url ?? brokerUrl;
  await sleep(500);
  const idle = rssMiB(child.pid!);
  // Warm-up, not counted, the same for every engine: 5 s at 200 msg/s. With 1 s, the hub's first
  // big garbage collection (start-up objects promoted: a 39 ms scavenge and a mark-compact about
  // 3 s after start, `--trace-gc`) fell inside the measured rates and set their p99.
  await measure(target, 200, 5);
  const points: Point[] = [];
  for (const rate of fixed) points.push(await measure(target, rate));
  let max = 0;
  const good = (p: Point) => p.received === p.sent && p.reordered === 0 && p.p99 < 50;
  for (const rate of [...fixed, ...ladder]) {
    let p = rate <= 1000 ? points.find((x) => x.rate === rate)! : await measure(target, rate);
    if (process.env.BENCH_VERBOSE) console.error(e.name, JSON.stringify(p));
    // a step whose only fault is its p99 is measured once more before the ladder ends: on this VM
    // the hypervisor takes the CPU away for 100-400 ms at times (vmstat's "st" at 5-22 %, seen
    // 2026-12-03), and one such pause in a step of 300 messages sets its p99 for any engine
    if (!good(p) && p.received === p.sent && p.reordered === 0) {
      p = await measure(target, rate);
      if (process.env.BENCH_VERBOSE) console.error(e.name, 'again', JSON.stringify(p));
    }
    if (!good(p)) break;
    max = rate;
  }
  const loaded = rssMiB(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { points, max, idle, loaded };
}

export async function benchReaction(brokerUrl: string): Promise<string> {
  const only = process.env.BENCH_ENGINES?.split(',');
  const engines = [hubScript, hub, hubTemplate, nodeRed, plain, hubEmbedded]
    .filter((e) => e !== nodeRed || existsSync(NODE_RED))
    .filter((e) => !only || only.some((o) => e.name.toLowerCase().includes(o.toLowerCase())));
  const missing = existsSync(NODE_RED)
    ? ''
    : '\n(Node-RED not installed: run `npm run bench:setup` for the side-by-side figure.)\n';
  const fixed = [100, 500, 1000];
  const ladder = [2000, 4000, 8000, 12000, 16000, 24000, 32000];
  // rounds interleave the engines (hub, Node-RED, mqtt.js, hub, ...) so a noisy minute hits all
  const results = new Map<string, Round[]>(engines.map((e) => [e.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const e of engines) {
      process.stderr.write(`  reaction: round ${r + 1} of ${ROUNDS}, ${e.name}\n`);
      results.get(e.name)!.push(await runEngine(e, brokerUrl, fixed, ladder));
    }
  }
  const ms = (n: number) => n.toFixed(2);
  const rows = [...results].map(([name, rounds]) => [
    name,
    ...fixed.map((_, i) => {
      const pts = rounds.map((r) => r.points[i]!);
      const lost = pts.reduce((n, p) => n + p.sent - p.received, 0);
      const reordered = pts.reduce((n, p) => n + p.reordered, 0);
      return `${medianOf(
        pts.map((p) => p.p50),
        ms,
      )} / ${medianOf(
        pts.map((p) => p.p99),
        ms,
      )}${lost ? ` (lost ${lost})` : ''}${reordered ? ` (${reordered} out of order)` : ''}`;
    }),
    `${medianOf(rounds.map((r) => r.max))} msg/s`,
    `${median(rounds.map((r) => r.idle)).toFixed(0)} -> ${median(rounds.map((r) => r.loaded)).toFixed(0)} MiB`,
  ]);
  // issue 18's targets: each hub engine against Node-RED in the same run (max rate >= 3x, p99 at
  // 1 000 msg/s <= 0.5x); the embedded-broker row has no Mosquitto in between, so it is not compared
  const anchor = results.get(nodeRed.name);
  const ratios =
    anchor && anchor.length
      ? `\n\n${table(
          ['hub engine / Node-RED 4 (same run)', 'max rate (target >= 3x)', 'p99 at 1000/s (target <= 0.5x)'],
          engines
            .filter((e) => e.name.startsWith('Smart Home') && !e.embedded)
            .map((e) => {
              const rounds = results.get(e.name)!;
              const p99 = (rs: Round[]) => median(rs.map((r) => r.points[2]!.p99));
              const max = (rs: Round[]) => median(rs.map((r) => r.max));
              return [
                e.name,
                `${(max(rounds) / Math.max(1, max(anchor))).toFixed(2)}x`,
                `${(p99(rounds) / p99(anchor)).toFixed(2)}x`,
              ];
            }),
        )}\n`
      : '';
  return (
    table(
      [
        'engine',
        `p50 / p99 ms at 100/s, median of ${ROUNDS} (range)`,
        'at 500/s',
        'at 1000/s',
        `max rate, p99 < 50 ms, none lost (${SECONDS} s steps)`,
        'RSS idle -> after load',
      ],
      rows,
    ) +
    ratios +
    missing
  );
}
