// Runs the broker scenarios (bench/brokers.ts) against the hub, Mosquitto and plain Aedes:
// BENCH_ROUNDS rounds (3), brokers interleaved within a round, each figure the median of them.
import {
  connections,
  fanout,
  idleClients,
  latency,
  median,
  retainedStorm,
  rssMiB,
  startHubBroker,
  startMosquittoBroker,
  startPlainAedes,
  throughput,
  type BrokerUnderTest,
} from './brokers.js';
import { fmt, medianOf, ROUNDS, sleep, table } from './lib.js';

const TOTAL: Record<0 | 1 | 2, number> = { 0: 40_000, 1: 20_000, 2: 10_000 };
const LATENCY_SECONDS = 5;
const BUSY_CLIENTS = 2000;
const BUSY_SCRIPTS = 200;
const BUSY = `, ${BUSY_CLIENTS.toLocaleString('en-US').replace(',', ' ')} idle clients (+ ${BUSY_SCRIPTS} idle scripts on the hub)`;
export type Figures = Record<string, Record<string, number>>;

const progress = (s: string) => process.stderr.write(`  ${s}\n`);

export async function benchBrokers(): Promise<{ markdown: string; figures: Figures }> {
  const brokers: BrokerUnderTest[] = [];
  try {
    brokers.push(await startHubBroker(), await startMosquittoBroker(), await startPlainAedes());
    const [hub, mosq, aedes] = brokers as [BrokerUnderTest, BrokerUnderTest, BrokerUnderTest];
    // a hub as a home has it: scripts loaded (measured in its own column of the busy rows only)
    const busyHub = await startHubBroker({ idleScripts: BUSY_SCRIPTS });
    brokers.push(busyHub);
    const column = (b: BrokerUnderTest) => (b === busyHub ? hub.name : b.name);
    const samples = new Map<string, number[]>(); // "scenario|broker" -> values
    const add = (scenario: string, b: BrokerUnderTest, v: number) => {
      const k = `${scenario}|${column(b)}`;
      samples.set(k, [...(samples.get(k) ?? []), v]);
    };
    const lost = new Map<string, number>(); // messages lost over all latency runs, per column
    const addLatency = async (
      b: BrokerUnderTest,
      rate: number,
      qos: 0 | 1,
      label: string,
      which: string[],
      durable = false,
    ) => {
      const l = await latency(b, rate, LATENCY_SECONDS, qos, durable);
      const at = `at ${rate.toLocaleString('en-US').replace(',', ' ')} msg/s, QoS ${qos}${label}`;
      for (const w of which) add(`latency ${w} ${at} (ms)`, b, l[w as 'p50' | 'p99' | 'max']);
      lost.set(column(b), (lost.get(column(b)) ?? 0) + l.lost);
    };
    for (let r = 1; r <= ROUNDS; r++) {
      for (const qos of [0, 1, 2] as const) {
        for (const pairs of [1, 4]) {
          for (const b of [hub, mosq, aedes])
            add(
              `throughput QoS ${qos}, ${pairs} pair${pairs > 1 ? 's' : ''} (msg/s)`,
              b,
              await throughput(b, qos, pairs, TOTAL[qos] / pairs),
            );
          progress(`round ${r}: throughput QoS ${qos}, ${pairs} pair(s)`);
        }
      }
      for (const [rate, qos] of [
        [1000, 0],
        [1000, 1],
        [5000, 1],
      ] as const)
        for (const b of [hub, mosq, aedes]) await addLatency(b, rate, qos, '', ['p50', 'p99', 'max']);
      for (const b of [hub, mosq, aedes])
        await addLatency(b, 1000, 1, ', to a persistent session', ['p50', 'p99', 'max'], true);
      progress(`round ${r}: latency`);
      for (const b of [busyHub, mosq, aedes]) {
        const idle = await idleClients(b, BUSY_CLIENTS);
        for (const qos of [0, 1] as const) await addLatency(b, 1000, qos, BUSY, ['p99', 'max']);
        for (const c of idle) c.end(true);
      }
      progress(`round ${r}: latency with ${BUSY_CLIENTS} idle clients`);
      for (const b of [hub, mosq, aedes])
        add('fan-out 1 -> 100 subscribers, QoS 0 (deliveries/s)', b, await fanout(b, 100, 500));
      progress(`round ${r}: fan-out`);
      for (const b of [hub, mosq, aedes])
        add('retained storm: 10 000 topics to a new # subscriber (s)', b, await retainedStorm(b, 10_000, r));
      progress(`round ${r}: retained storm`);
      for (const b of [hub, mosq, aedes]) {
        const c = await connections(b, 2000);
        add('2 000 idle clients: time to connect all (s)', b, c.secs);
        add('2 000 idle clients: broker RSS growth (MiB)', b, c.rssAfter - c.rssBefore);
      }
      progress(`round ${r}: connections`);
    }
    for (const [name, n] of lost) samples.set(`latency: messages lost, all latency runs together|${name}`, [n]);
    const scenarios = [...new Set([...samples.keys()].map((k) => k.split('|')[0]!))];
    const figures: Figures = {};
    const rows = scenarios.map((sc) => {
      const m = (b: BrokerUnderTest) => median(samples.get(`${sc}|${b.name}`)!);
      figures[sc] = { [hub.name]: m(hub), [mosq.name]: m(mosq), [aedes.name]: m(aedes) };
      const higherIsBetter = /\((msg|deliveries)\/s\)$/.test(sc);
      const ratio = (x: number, y: number) => (y === 0 ? '—' : `${(x / y).toFixed(2)}x`);
      return [
        sc,
        fmt(m(hub)),
        fmt(m(mosq)),
        fmt(m(aedes)),
        ratio(m(hub), m(mosq)),
        ratio(m(hub), m(aedes)),
        higherIsBetter ? 'higher' : 'lower',
      ];
    });
    const markdown =
      table(['scenario', 'hub', 'Mosquitto', 'plain Aedes', 'hub / Mosquitto', 'hub / Aedes', 'better'], rows) +
      `\n\nhub = ${hub.name}; Mosquitto = ${mosq.name}; Aedes = ${aedes.name}. Median of ${ROUNDS} rounds, brokers interleaved in each round; clients are mqtt.js in the bench process, except the latency rows': a client process of its own per run (1 s warm-up, then ${LATENCY_SECONDS} s). The rows with idle clients have ${BUSY_CLIENTS} clients connected to each broker, and the hub's column there is a second hub with ${BUSY_SCRIPTS} idle scripts loaded (each subscribed to a topic of its own).`;
    return { markdown, figures };
  } finally {
    for (const b of brokers) await b.stop();
  }
}

/**
 * The WAL checkpoint thread (issue 22), side by side: two hubs, one checkpointing on its own thread
 * (`store.checkpoint_thread: true`) and one with `false`, interleaved, QoS 1 at 1 000 msg/s
 * to a persistent session (every message stored before delivery), 5 rounds.
 */
export async function benchCheckpoint(): Promise<string> {
  const hubs: BrokerUnderTest[] = [];
  try {
    hubs.push(await startHubBroker({ checkpointThread: true }), await startHubBroker({ checkpointThread: false }));
    const runs = new Map<BrokerUnderTest, { p50: number; p99: number; max: number }[]>();
    for (let r = 1; r <= 5; r++) {
      for (const h of hubs) runs.set(h, [...(runs.get(h) ?? []), await latency(h, 1000, LATENCY_SECONDS, 1, true)]);
      progress(`checkpoint: round ${r} of 5`);
    }
    const col = (h: BrokerUnderTest, k: 'p50' | 'p99' | 'max') => medianOf(runs.get(h)!.map((l) => l[k]));
    return table(
      ['hub', 'p50 ms', 'p99 ms', 'max ms'],
      hubs.map((h) => [h.name, col(h, 'p50'), col(h, 'p99'), col(h, 'max')]),
    );
  } finally {
    for (const h of hubs) await h.stop();
  }
}

/** Quiet between the load and the latency runs of benchYoungGeneration. */
const IDLE_MS = 3000;

/**
 * The young generation's floor (issue 22), side by side: a hub on V8's default and hubs started
 * with `node --min-semi-space-size=N` (BENCH_SEMI, MiB, default 4,16), interleaved. Each round
 * first carries the throughput scenarios' load through every hub (as the full suite does before
 * its latency rows), then IDLE_MS of quiet, then QoS 0 and 1 at 1 000 msg/s, QoS 1 at 5 000 msg/s
 * and QoS 1 to a persistent session. RSS after start and after the last round. Each hub is also
 * quiet while the others run: with three hubs V8 shrank the default one's young generation before
 * its QoS 1 runs; a hub alone (BENCH_SEMI=) kept it. On demand only (`node dist/bench/run.js
 * young-generation`): the hub does not pin the young generation (bench/RESULTS.md, 2026-12-04).
 */
export async function benchYoungGeneration(): Promise<string> {
  const floors = (process.env.BENCH_SEMI ?? '4,16').split(',').filter(Boolean);
  const variants: [string[], string][] = [
    [[], ', V8 default young generation'],
    ...floors.map((f): [string[], string] => [[`--min-semi-space-size=${f}`], `, --min-semi-space-size=${f}`]),
  ];
  const hubs: Awaited<ReturnType<typeof startHubBroker>>[] = [];
  // the hub's own scavenges (count, seconds) from its /metrics
  const scavenges = async (h: (typeof hubs)[number]) => {
    const m = await h.metrics!();
    const get = (k: string) =>
      Number(
        new RegExp(`^smart_home_nodejs_gc_duration_seconds_${k}\\{kind="minor"\\} (\\S+)`, 'm').exec(m)?.[1] ?? NaN,
      );
    const r = { count: get('count'), secs: get('sum') };
    if (Number.isNaN(r.count) || Number.isNaN(r.secs)) throw new Error(`${h.name}: no minor GC figures on /metrics`);
    return r;
  };
  try {
    for (const [nodeFlags, label] of variants) hubs.push(await startHubBroker({ nodeFlags, label, http: true }));
    const started = new Map(hubs.map((h) => [h, rssMiB(h.pid)]));
    const runs = new Map<string, number[]>(); // "hub|scenario|p99 or max" -> values
    const put = (h: BrokerUnderTest, k: string, v: number) =>
      runs.set(`${h.name}|${k}`, [...(runs.get(`${h.name}|${k}`) ?? []), v]);
    const cases = [
      ['QoS 0 at 1 000 msg/s', 1000, 0, false],
      ['QoS 1 at 1 000 msg/s', 1000, 1, false],
      ['QoS 1 at 5 000 msg/s', 5000, 1, false],
      ['QoS 1 at 1 000 msg/s, persistent session', 1000, 1, true],
    ] as const;
    for (let r = 1; r <= ROUNDS; r++) {
      for (const h of hubs) {
        await throughput(h, 0, 1, TOTAL[0]);
        await throughput(h, 1, 4, TOTAL[1] / 4);
      }
      await sleep(IDLE_MS); // a quiet spell, as between a home's bursts: V8 shrinks the young generation
      for (const [name, rate, qos, durable] of cases)
        for (const h of hubs) {
          const before = await scavenges(h);
          const l = await latency(h, rate, LATENCY_SECONDS, qos, durable);
          const after = await scavenges(h);
          put(h, `${name}|p99`, l.p99);
          put(h, `${name}|max`, l.max);
          put(h, `${name}|scavenges`, after.count - before.count);
          put(h, `${name}|scavenge ms`, (after.secs - before.secs) * 1000);
        }
      progress(`young generation: round ${r} of ${ROUNDS}`);
    }
    const name = (h: BrokerUnderTest) => h.name.replace(/^.*auth, /, '').replace(/\)$/, '');
    const latencyTable = table(
      ['hub', ...cases.map(([n]) => `${n}: p99 / max ms`), 'RSS started / after (MiB)'],
      hubs.map((h) => [
        name(h),
        ...cases.map(
          ([n]) => `${fmt(median(runs.get(`${h.name}|${n}|p99`)!))} / ${fmt(median(runs.get(`${h.name}|${n}|max`)!))}`,
        ),
        `${started.get(h)!.toFixed(0)} / ${rssMiB(h.pid).toFixed(0)}`,
      ]),
    );
    const gcTable = table(
      ['hub', ...cases.map(([n]) => `${n}: scavenges / ms in them`)],
      hubs.map((h) => [
        name(h),
        ...cases.map(
          ([n]) =>
            `${Math.round(median(runs.get(`${h.name}|${n}|scavenges`)!))} / ${Math.round(median(runs.get(`${h.name}|${n}|scavenge ms`)!))}`,
        ),
      ]),
    );
    return `${latencyTable}\n\nScavenges in the hub during one ${LATENCY_SECONDS} s run (its /metrics, \`smart_home_nodejs_gc_duration_seconds{kind="minor"}\`), median of ${ROUNDS} rounds:\n\n${gcTable}`;
  } finally {
    for (const h of hubs) await h.stop();
  }
}
