// Issue 16 bench: devices through the registry. A retained flood of Home Assistant discovery
// configs (500 devices x 6 components = 3 000 entities, Zigbee2MQTT-shaped: one JSON state topic
// per device, value_template per entity) on Mosquitto; the hub (external-broker mode, discovery on)
// starts against it. Measured: time from start until every entity exists, RSS per entity, and state
// updates per second through the registry (each state message updates 6 entities; SQLite writes are
// batched per event-loop turn). Anchor: a plain mqtt.js client receiving the same messages from the
// same Mosquitto.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arrivals, connect, fmt, freePort, medianOf, ROUNDS, sleep, table } from './lib.js';
import { rssMiB } from './brokers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const DEVICES = 500;
const PER = 6;
const UPDATE_ROUNDS = 20;

function configs(prefix: string): [string, string][] {
  const out: [string, string][] = [];
  for (let d = 0; d < DEVICES; d++) {
    const dev = { ids: [`bench_${prefix}_${d}`], name: `Bench ${d}`, mf: 'Bench', mdl: 'B1' };
    const stat_t = `bench/${prefix}/dev${d}`;
    const sensor = (key: string, unit: string, cls?: string) => ({
      name: key,
      uniq_id: `${prefix}_${d}_${key}`,
      stat_t,
      val_tpl: `{{ value_json.${key} }}`,
      unit_of_meas: unit,
      ...(cls ? { dev_cla: cls, stat_cla: 'measurement' } : {}),
      dev,
    });
    const parts: [string, string, object][] = [
      ['sensor', 'temperature', sensor('temperature', '°C', 'temperature')],
      ['sensor', 'humidity', sensor('humidity', '%', 'humidity')],
      ['sensor', 'battery', sensor('battery', '%', 'battery')],
      ['sensor', 'linkquality', sensor('linkquality', 'lqi')],
      [
        'binary_sensor',
        'contact',
        {
          name: 'contact',
          uniq_id: `${prefix}_${d}_contact`,
          stat_t,
          val_tpl: "{{ 'ON' if value_json.contact == false else 'OFF' }}",
          dev_cla: 'door',
          dev,
        },
      ],
      [
        'switch',
        'relay',
        {
          name: 'relay',
          uniq_id: `${prefix}_${d}_relay`,
          stat_t,
          val_tpl: '{{ value_json.state }}',
          cmd_t: `${stat_t}/set`,
          dev,
        },
      ],
    ];
    for (const [component, key, body] of parts)
      out.push([`homeassistant/${component}/${prefix}_${d}/${key}/config`, JSON.stringify(body)]);
  }
  return out;
}

const state = (d: number, n: number) =>
  JSON.stringify({
    temperature: 20 + ((d + n) % 50) / 10,
    humidity: 40 + (n % 20),
    battery: 100 - (n % 50),
    linkquality: 100 + n,
    contact: n % 2 === 0,
    state: n % 2 ? 'ON' : 'OFF',
  });

async function metric(base: string, name: string): Promise<number> {
  const text = await fetch(`${base}/metrics`).then((r) => r.text());
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench devices: timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function hub(broker: string): Promise<{ child: ChildProcess; base: string; t0: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-devices-'));
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    `mqtt:\n  url: ${broker}\nhttp:\n  port: ${port}\n  host: 127.0.0.1\ndiscovery:\n  enabled: true\nlog_level: warn\n`,
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, base: `http://127.0.0.1:${port}`, t0 };
}

interface Round {
  readyS: number;
  emptyStartS: number;
  anchorReadyS: number;
  rssPerEntityKiB: number;
  updatesPerS: number;
  anchorPerS: number;
}

async function round(broker: string, prefix: string): Promise<Round> {
  const pub = await connect(broker);
  const all = configs(prefix);
  for (const [t, p] of all) pub.publish(t, p, { qos: 1, retain: true });
  await new Promise<void>((r) => pub.publish('bench/flush', '', { qos: 1 }, () => r()));
  // anchor: a plain client receiving the same retained flood
  const a0 = performance.now();
  const anchor = await connect(broker);
  const got = arrivals(all.length, 'anchor configs');
  anchor.on('message', (t) => t.includes(`/${prefix}_`) && got.hit());
  await anchor.subscribeAsync('homeassistant/#', { qos: 1 });
  await got.done();
  const anchorReadyS = (performance.now() - a0) / 1000;

  const { child, base, t0 } = await hub(broker);
  await until(async () => (await metric(base, 'smart_home_entities').catch(() => 0)) >= all.length, 'all entities');
  const readyS = (performance.now() - t0) / 1000;
  await sleep(2000);
  const rssFull = rssMiB(child.pid!);

  // state updates: every device's state topic, UPDATE_ROUNDS times; the anchor receives the same
  const msgs = DEVICES * UPDATE_ROUNDS;
  const anchorGot = arrivals(msgs, 'anchor states', 120_000);
  anchor.on('message', (t) => t.startsWith(`bench/${prefix}/`) && anchorGot.hit());
  await anchor.subscribeAsync(`bench/${prefix}/#`, { qos: 0 });
  const before = await metric(base, 'smart_home_entity_state_reports_total');
  const u0 = performance.now();
  for (let n = 0; n < UPDATE_ROUNDS; n++) {
    for (let d = 0; d < DEVICES; d++) pub.publish(`bench/${prefix}/dev${d}`, state(d, n), { qos: 0 });
    await new Promise((r) => setImmediate(r));
  }
  await anchorGot.done();
  const anchorPerS = msgs / ((performance.now() - u0) / 1000);
  await until(
    async () => (await metric(base, 'smart_home_entity_state_reports_total')) - before >= msgs * PER,
    'all state reports',
  );
  const updatesPerS = (msgs * PER) / ((performance.now() - u0) / 1000);

  // the same hub with no devices, for the RSS an entity costs
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  for (const [t] of all) pub.publish(t, '', { qos: 1, retain: true });
  await new Promise<void>((r) => pub.publish('bench/flush', '', { qos: 1 }, () => r()));
  const empty = await hub(broker);
  await until(async () => (await metric(empty.base, 'smart_home_entities').catch(() => -1)) === 0, 'the empty hub');
  const emptyStartS = (performance.now() - empty.t0) / 1000;
  await sleep(2000);
  const rssEmpty = rssMiB(empty.child.pid!);
  empty.child.kill('SIGTERM');
  await new Promise((r) => empty.child.once('exit', r));
  anchor.end(true);
  pub.end(true);
  return {
    readyS,
    emptyStartS,
    anchorReadyS,
    rssPerEntityKiB: ((rssFull - rssEmpty) * 1024) / all.length,
    updatesPerS,
    anchorPerS,
  };
}

export async function benchDevices(broker: string): Promise<string> {
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push(await round(broker, `r${i}x${process.pid}`));
    process.stderr.write(`  devices: round ${i + 1} of ${ROUNDS}\n`);
  }
  const col = (k: keyof Round, f?: (n: number) => string) =>
    medianOf(
      rounds.map((r) => r[k]),
      f,
    );
  const ratio = (a: keyof Round, b: keyof Round) =>
    medianOf(
      rounds.map((r) => r[a] / r[b]),
      (n) => `${n.toFixed(2)}x`,
    );
  return (
    table(
      ['', 'hub', 'plain mqtt.js client (anchor)', 'ratio'],
      [
        [
          `${DEVICES * PER} entities of ${DEVICES} devices from a retained flood: ready after (s)`,
          col('readyS'),
          col('anchorReadyS'),
          ratio('readyS', 'anchorReadyS'),
        ],
        ['the same hub starting with no devices (s)', col('emptyStartS'), '', ''],
        ['RSS per entity (KiB, hub with the devices minus the same hub without)', col('rssPerEntityKiB'), '', ''],
        [
          `state messages through the registry (msg/s; each updates ${PER} entities)`,
          medianOf(rounds.map((r) => r.updatesPerS / PER)),
          col('anchorPerS'),
          medianOf(
            rounds.map((r) => r.updatesPerS / PER / r.anchorPerS),
            (n) => `${n.toFixed(2)}x`,
          ),
        ],
        ['entity state updates/s', col('updatesPerS'), '', ''],
      ],
    ) +
    `\n\nReady time is from spawn to the last entity (polled on /metrics every 20 ms), start included; ${fmt(DEVICES * UPDATE_ROUNDS)} state messages per round, the publisher yielding every ${DEVICES}.`
  );
}
