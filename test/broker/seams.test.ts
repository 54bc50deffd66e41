// The seams of src/broker/aedes-seams.ts, each proven on the installed Aedes: the start-up check
// fails loudly when a seam does not engage, the PUBACK hold follows MQTT framing however Aedes
// splits its writes, and every pinned dependency is the version the seams were checked against.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';
import {
  CHECKED_AGAINST,
  checkSeams,
  holdPubacks,
  markStored,
  releaseStored,
  SeamError,
} from '../../src/broker/aedes-seams.js';
import { duplexPair } from '../../src/broker/pair.js';

test('every dependency a seam reaches into is installed at the version it was checked against, and pinned with ~', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const [name, version] of Object.entries(CHECKED_AGAINST)) {
    const installed = (
      JSON.parse(readFileSync(new URL(`../../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
    assert.equal(installed, version, `${name}: installed ${installed}, the seams were checked against ${version}`);
    assert.equal(pkg.dependencies[name], `~${version}`, `${name} is pinned with ~ in package.json`);
  }
});

test('the start-up check passes on Aedes with the `published` hook wired', async () => {
  const aedes = await Aedes.createBroker({
    published: (packet, client, done) => {
      releaseStored(packet, client);
      done(null);
    },
  });
  try {
    await checkSeams(aedes as never, () => duplexPair());
  } finally {
    await new Promise<void>((r) => aedes.close(() => r()));
  }
});

test('the start-up check fails loudly when Aedes never lets a held PUBACK go (no `published` hook)', async () => {
  const aedes = await Aedes.createBroker({});
  try {
    await assert.rejects(
      checkSeams(aedes as never, () => duplexPair(), 300),
      (err: Error) => err instanceof SeamError && /no PUBACK/.test(err.message),
    );
  } finally {
    await new Promise<void>((r) => aedes.close(() => r()));
  }
});

test('the start-up check fails loudly when PUBACKs do not pass through the connection (the hold is bypassed)', async () => {
  const aedes = await Aedes.createBroker({
    published: (packet, client, done) => {
      releaseStored(packet, client);
      done(null);
    },
  });
  try {
    // a connection whose write is replaced after the hold wrapped it: Aedes's bytes skip the hold
    const bypass = (): [Duplex, Duplex] => {
      const [probe, brokerSide] = duplexPair();
      const raw = Duplex.prototype.write;
      queueMicrotask(() => {
        brokerSide.write = raw.bind(brokerSide) as Duplex['write'];
      });
      return [probe, brokerSide];
    };
    await assert.rejects(
      checkSeams(aedes as never, bypass, 1000),
      (err: Error) => err instanceof SeamError && /PUBACK-after-store is not in force/.test(err.message),
    );
  } finally {
    await new Promise<void>((r) => aedes.close(() => r()));
  }
});

test('the PUBACK hold follows the framing however the writes are split: only the marked PUBACK waits, the rest passes in order', () => {
  const written: Buffer[] = [];
  const conn = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
  });
  holdPubacks(conn);
  const publish = mqttPacket.generate({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('x'.repeat(300)),
    qos: 0,
    retain: false,
    dup: false,
  } as mqttPacket.IPublishPacket);
  const puback = (id: number) => mqttPacket.generate({ cmd: 'puback', messageId: id } as mqttPacket.IPubackPacket);
  markStored(conn, 7);
  // a PUBLISH in three pieces (one a string), then PUBACK 7 (marked) byte by byte, PUBACK 8
  // (not marked, but behind 7), a PUBLISH and PUBACK 9 in one chunk
  conn.write(publish.subarray(0, 3));
  conn.write(publish.subarray(3, 100).toString('latin1'), 'latin1');
  conn.write(publish.subarray(100));
  for (const b of puback(7)) conn.write(Buffer.from([b]));
  conn.write(puback(8));
  conn.write(Buffer.concat([publish, puback(9)]));
  const sent = () => Buffer.concat(written);
  assert.deepEqual(
    sent(),
    Buffer.concat([publish, publish]),
    'both PUBLISHes went out; the three PUBACKs wait behind the marked one',
  );
  releaseStored({ qos: 1, messageId: 7 }, { conn });
  assert.deepEqual(
    sent(),
    Buffer.concat([publish, publish, puback(7), puback(8), puback(9)]),
    'released: in the order they were written',
  );
});
