// Runs the broker scenarios (bench/brokers.ts) against the hub, Mosquitto and plain Aedes:
// BENCH_ROUNDS rounds (3), brokers interleaved within a round, each figure the median of them.
import {
  connections,
  fanout,
  latency,
  median,
  retainedStorm,
  startHubBroker,
  startMosquittoBroker,
  startPlainAedes,
  throughput,
  type BrokerUnderTest,
} from './brokers.js';
import { fmt, ROUNDS, table } from './lib.js';

const TOTAL: Record<0 | 1 | 2, number> = { 0: 40_000, 1: 20_000, 2: 10_000 };
export type Figures = Record<string, Record<string, number>>;

const progress = (s: string) => process.stderr.write(`  ${s}\n`);

export async function benchBrokers(): Promise<{ markdown: string; figures: Figures }> {
  const brokers: BrokerUnderTest[] = [];
  try {
    brokers.push(await startHubBroker(), await startMosquittoBroker(), await startPlainAedes());
    const [hub, mosq, aedes] = brokers as [BrokerUnderTest, BrokerUnderTest, BrokerUnderTest];
    const samples = new Map<string, number[]>(); // "scenario|broker" -> values
    const add = (scenario: string, b: BrokerUnderTest, v: number) => {
      const k = `${scenario}|${b.name}`;
      samples.set(k, [...(samples.get(k) ?? []), v]);
    };
    for (let r = 1; r <= ROUNDS; r++) {
      for (const qos of [0, 1, 2] as const) {
        for (const pairs of [1, 4]) {
          for (const b of brokers)
            add(
              `throughput QoS ${qos}, ${pairs} pair${pairs > 1 ? 's' : ''} (msg/s)`,
              b,
              await throughput(b, qos, pairs, TOTAL[qos] / pairs),
            );
          progress(`round ${r}: throughput QoS ${qos}, ${pairs} pair(s)`);
        }
      }
      for (const b of brokers) {
        const l = await latency(b, 1000, 3);
        add('latency p50 at 1 000 msg/s, QoS 1 (ms)', b, l.p50);
        add('latency p99 at 1 000 msg/s, QoS 1 (ms)', b, l.p99);
        add('latency: messages lost', b, l.lost);
      }
      progress(`round ${r}: latency`);
      for (const b of brokers) add('fan-out 1 -> 100 subscribers, QoS 0 (deliveries/s)', b, await fanout(b, 100, 500));
      progress(`round ${r}: fan-out`);
      for (const b of brokers)
        add('retained storm: 10 000 topics to a new # subscriber (s)', b, await retainedStorm(b, 10_000, r));
      progress(`round ${r}: retained storm`);
      for (const b of brokers) {
        const c = await connections(b, 2000);
        add('2 000 idle clients: time to connect all (s)', b, c.secs);
        add('2 000 idle clients: broker RSS growth (MiB)', b, c.rssAfter - c.rssBefore);
      }
      progress(`round ${r}: connections`);
    }
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
      `\n\nhub = ${hub.name}; Mosquitto = ${mosq.name}; Aedes = ${aedes.name}. Median of ${ROUNDS} rounds, brokers interleaved in each round; clients are mqtt.js in the bench process.`;
    return { markdown, figures };
  } finally {
    for (const b of brokers) await b.stop();
  }
}
