// Packet fuzzing against the running broker: valid packets of every kind built by mqtt-packet,
// then mutated (bytes, lengths, flags, truncation, splicing). The hub must not crash, must close
// or keep each fuzzed connection without holding it forever, and must keep serving a client that
// is connected the whole time. FUZZ_CASES (default 2000) and FUZZ_SEED choose the run;
// `npm run test:long` runs 20 000. First the corpus of cases that once broke something.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { startHub, connect, collect, portOf, removeDir, roundTrip, sleep, waitFor, type TestHub } from '../helpers.js';
import { RawClient } from '../raw-client.js';

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const PARALLEL = 50;

let h: TestHub;
let port: number;
before(async () => {
  h = await startHub({ broker: { connect_timeout_ms: 300, max_packet_size: 64 * 1024, max_connections: 500 } });
  port = portOf(h.url);
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

interface CorpusCase {
  name: string;
  hex: string;
  expect: string;
}
const corpus = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../test/fixtures/fuzz-corpus.json', import.meta.url)), 'utf8'),
) as { cases: CorpusCase[] };

test('corpus: every case that once broke the broker gets its expected answer', async () => {
  for (const k of corpus.cases) {
    const c = await RawClient.open(port);
    c.sendBytes(Buffer.from(k.hex, 'hex'));
    if (k.expect === 'open') {
      // a PINGREQ behind the case: its PINGRESP means the case was handled and the connection lives
      c.sendBytes(Buffer.from([0xc0, 0x00]));
      await c.next('pingresp');
      assert.equal(c.closed, false, `${k.name}: the connection stays open`);
      c.drop();
      continue;
    }
    assert.ok(await c.closedWithin(3000), `${k.name}: the connection is closed`);
    const connack = c.packets.find((p) => p.cmd === 'connack');
    if (k.expect.startsWith('connack:')) assert.equal(connack?.returnCode, Number(k.expect.slice(8)), k.name);
    else assert.ok(!connack || connack.returnCode === 0, k.name);
  }
});

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const gen = (p: object) => Buffer.from(mqttPacket.generate(p as mqttPacket.Packet));

/** One valid packet of each kind a client may send, with variety in ids, QoS, flags and sizes. */
function validPackets(r: () => number, id: string): Buffer[] {
  const qos = Math.floor(r() * 3) as 0 | 1 | 2;
  const messageId = 1 + Math.floor(r() * 65535);
  const topic = ['fuzz/a', 'fuzz/b/c', 'fuzz/+', 'fuzz', '$SYS/x', 'fuzz/' + 'x'.repeat(Math.floor(r() * 300))][
    Math.floor(r() * 6)
  ]!;
  const payload = Buffer.alloc(Math.floor(r() * 200), Math.floor(r() * 256));
  return [
    gen({
      cmd: 'publish',
      topic: topic.replace('+', 'p'),
      payload,
      qos,
      messageId: qos ? messageId : undefined,
      retain: r() < 0.2,
      dup: r() < 0.1,
    }),
    gen({
      cmd: 'subscribe',
      messageId,
      subscriptions: [
        { topic, qos },
        { topic: 'fuzz/#', qos: 1 },
      ],
    }),
    gen({ cmd: 'unsubscribe', messageId, unsubscriptions: [topic] }),
    gen({ cmd: 'puback', messageId }),
    gen({ cmd: 'pubrec', messageId }),
    gen({ cmd: 'pubrel', messageId }),
    gen({ cmd: 'pubcomp', messageId }),
    gen({ cmd: 'pingreq' }),
    gen({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: r() < 0.8,
      clientId: id + 'x',
      keepalive: Math.floor(r() * 5),
      will: r() < 0.3 ? { topic: 'fuzz/will', payload: Buffer.from('w'), qos: 1, retain: r() < 0.5 } : undefined,
      username: r() < 0.2 ? 'nobody' : undefined,
      password: undefined,
    }),
    gen({ cmd: 'disconnect' }),
  ];
}

type Mutation = (b: Buffer, r: () => number) => Buffer;
const mutations: Record<string, Mutation> = {
  flipByte: (b, r) => {
    const c = Buffer.from(b);
    c[Math.floor(r() * c.length)] = Math.floor(r() * 256);
    return c;
  },
  flipBits: (b, r) => {
    const c = Buffer.from(b);
    const i = Math.floor(r() * c.length);
    c[i]! ^= 1 << Math.floor(r() * 8);
    return c;
  },
  headerFlags: (b, r) => {
    const c = Buffer.from(b);
    c[0] = (c[0]! & 0xf0) | Math.floor(r() * 16);
    return c;
  },
  packetType: (b, r) => {
    const c = Buffer.from(b);
    c[0] = (Math.floor(r() * 16) << 4) | (c[0]! & 0x0f);
    return c;
  },
  lengthUp: (b, r) => {
    const c = Buffer.from(b);
    c[1] = Math.min(127, c[1]! + 1 + Math.floor(r() * 20));
    return c;
  },
  lengthDown: (b, r) => {
    const c = Buffer.from(b);
    c[1] = Math.max(0, c[1]! - 1 - Math.floor(r() * 5));
    return c;
  },
  truncate: (b, r) => b.subarray(0, Math.floor(r() * b.length)),
  insert: (b, r) => {
    const i = Math.floor(r() * b.length);
    return Buffer.concat([
      b.subarray(0, i),
      Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))),
      b.subarray(i),
    ]);
  },
  stringLength: (b, r) => {
    const c = Buffer.from(b);
    if (c.length > 4) c.writeUInt16BE(Math.floor(r() * 65536), 2);
    return c;
  },
  hugeLength: (b) => Buffer.concat([Buffer.from([b[0]!, 0xff, 0xff, 0xff, 0x7f]), b.subarray(2)]),
};
const mutationNames = Object.keys(mutations);

/** A fuzz case: a CONNECT (sometimes mutated itself), then 1-4 packets, one or more mutated. */
function fuzzCase(seed: number): { bytes: Buffer; what: string[] } {
  const r = rng(seed);
  const id = `fuzz-${seed}`;
  const connectPacket = gen({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: r() < 0.7,
    clientId: id,
    keepalive: 0,
  });
  const pool = validPackets(r, id);
  const what: string[] = [];
  const parts: Buffer[] = [];
  if (r() < 0.15) {
    const m = mutationNames[Math.floor(r() * mutationNames.length)]!;
    what.push(`connect:${m}`);
    parts.push(mutations[m]!(connectPacket, r));
  } else parts.push(connectPacket);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * pool.length);
    let p = pool[k]!;
    if (i === n - 1 || r() < 0.3) {
      const m = mutationNames[Math.floor(r() * mutationNames.length)]!;
      p = mutations[m]!(p, r);
      what.push(`${k}:${m}`);
    } else what.push(`${k}`);
    parts.push(p);
  }
  return { bytes: Buffer.concat(parts), what };
}

test(`fuzz: ${CASES} mutated packet streams (seed ${SEED}); the broker survives, frees every connection and keeps serving a live client`, async () => {
  // a client connected through the whole run, with a steady QoS 1 round trip
  const live = await connect(h.url, { clientId: 'fuzz-observer' });
  const got = collect(live);
  await live.subscribeAsync('observer/ping', { qos: 1 });
  const baseline = h.hub.broker!.openConnections;
  const failures: { seed: number; hex: string; what: string[]; error: string }[] = [];
  let pings = 0;
  for (let start = 0; start < CASES; start += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, CASES - start) }, (_, i) => SEED + start + i);
    await Promise.all(
      batch.map(async (seed) => {
        const { bytes, what } = fuzzCase(seed);
        try {
          const c = await RawClient.open(port);
          c.sendBytes(bytes);
          await sleep(5);
          c.drop();
        } catch (err) {
          failures.push({ seed, hex: bytes.toString('hex'), what, error: (err as Error).message });
        }
      }),
    );
    await live.publishAsync('observer/ping', String(++pings), { qos: 1 });
    await got.next(pings, 5000).catch((err: Error) => {
      failures.push({
        seed: batch[0]!,
        hex: '',
        what: [`batch from seed ${batch[0]}`],
        error: `live client not served: ${err.message}`,
      });
    });
    if (failures.length) break;
  }
  if (failures.length) {
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/fuzz-failures.json', JSON.stringify(failures, null, 2));
  }
  assert.deepEqual(
    failures,
    [],
    'failing cases (also in test-output/fuzz-failures.json; add them to test/fixtures/fuzz-corpus.json once fixed)',
  );
  // every fuzzed connection is let go (none held open by a half-parsed packet or a timer)
  await waitFor(
    () => h.hub.broker!.openConnections <= baseline,
    5000,
    `connections back to ${baseline} (have ${h.hub.broker!.openConnections})`,
  );
  assert.equal(live.connected, true, 'the observer was never disconnected');
  live.end();
});

test('after fuzzing, a new client does a full QoS 2 round trip', () =>
  roundTrip(h.url, { topic: 'after/fuzz', payload: 'ok', qos: 2 }));
