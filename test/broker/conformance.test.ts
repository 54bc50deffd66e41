// MQTT 3.1.1 conformance of the embedded broker (with its SQLite persistence and auth hooks on),
// one test per normative statement of the OASIS specification, named by its id. Raw packets
// (test/raw-client.ts) where mqtt.js would hide or repair what is being checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub,
  connect,
  collect,
  portOf,
  removeDir,
  roundTrip,
  sleep,
  subscribeCodes,
  waitFor,
  type TestHub,
} from '../helpers.js';
import mqttPacket from 'mqtt-packet';
import { RawClient } from '../raw-client.js';

let h: TestHub;
let port: number;
before(async () => {
  h = await startHub({ broker: { connect_timeout_ms: 500 } });
  port = portOf(h.url);
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
});

const raw = (c: Partial<Parameters<typeof RawClient.connected>[1]> = {}) => RawClient.connected(port, c);
let ids = 0;
const uid = (name: string) => `${name}-${++ids}`;

const stillServes = () => roundTrip(h.url);

/** The broker has let go of client `id` (its disconnect or drop is fully processed). */
const gone = (id: string) =>
  waitFor(() => !h.hub.broker!.clients().some((c) => c.id === id), 5000, `client ${id} gone`);

/**
 * Publishes 'sentinel' to `topic` (from `from`, or a new client) and waits until `got` has it:
 * whatever the broker would have delivered before it (same publisher, or already decided) is in.
 */
async function sentinel(
  topic: string,
  got: ReturnType<typeof collect>,
  from?: Awaited<ReturnType<typeof connect>>,
): Promise<void> {
  const pub = from ?? (await connect(h.url));
  await pub.publishAsync(topic, 'sentinel', { qos: 1 });
  await waitFor(
    () => got.messages.some((m) => m.topic === topic && m.payload.toString() === 'sentinel'),
    5000,
    `the sentinel on ${topic}`,
  );
  if (!from) pub.end();
}

// ---- CONNECT / CONNACK ------------------------------------------------------------------------

/** A valid CONNECT's bytes (short, so: 1-byte remaining length, level at [8], flags at [9]). */
function connectBytes(clientId: string): Buffer {
  return Buffer.from(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId,
      keepalive: 0,
    } as mqttPacket.IConnectPacket),
  );
}

test('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and the connection is closed', async () => {
  // 5 is a genuine MQTT 5 CONNECT (the embedded broker speaks 3.1.1); 6 and 127 do not exist
  for (const level of [5, 6, 0x7f]) {
    const c = await RawClient.open(port);
    const bytes =
      level === 5
        ? Buffer.from(
            mqttPacket.generate({
              cmd: 'connect',
              protocolId: 'MQTT',
              protocolVersion: 5,
              clean: true,
              clientId: uid('v5'),
              keepalive: 0,
              properties: {},
            } as mqttPacket.IConnectPacket),
          )
        : connectBytes(uid('lvl'));
    bytes[8] = level;
    c.sendBytes(bytes);
    const connack = await c.next('connack');
    assert.equal(connack.returnCode, 1, `level ${level}`);
    assert.ok(await c.closedWithin(), `level ${level} closed`);
  }
  await stillServes();
});

test('[MQTT-3.1.2-3] a CONNECT whose reserved flag is set is a protocol violation: closed', async () => {
  const c = await RawClient.open(port);
  const bytes = connectBytes(uid('rsv'));
  bytes[9] |= 0x01; // connect flags, bit 0 reserved
  c.sendBytes(bytes);
  assert.ok(await c.closedWithin());
  assert.ok(!c.packets.some((p) => p.cmd === 'connack' && p.returnCode === 0), 'not accepted');
  await stillServes();
});

test('[MQTT-3.1.3-8] a zero-length client id with clean session 0 gets CONNACK 0x02 and is closed', async () => {
  const c = await RawClient.open(port);
  const bytes = connectBytes(''); // mqtt-packet refuses to build this one, so clear the clean flag by hand
  bytes[9] &= ~0x02;
  c.sendBytes(bytes);
  const connack = await c.next('connack');
  assert.equal(connack.returnCode, 2);
  assert.ok(await c.closedWithin());
});

test('[MQTT-3.1.3-5] a client id longer than broker.max_client_id_length (256) gets CONNACK 0x02 on MQTT 3.1.1 too', async () => {
  const c = await RawClient.open(port);
  c.sendBytes(connectBytes('x'.repeat(65_535)));
  const connack = await c.next('connack');
  assert.equal(connack.returnCode, 2);
  assert.ok(await c.closedWithin());
  const ok = await raw({ clientId: 'y'.repeat(256) });
  assert.equal(ok.connack.returnCode, 0, 'the longest allowed id is accepted');
  await stillServes();
});

test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] a zero-length client id with clean session 1 is accepted with a broker-assigned id', async () => {
  const a = await raw({ clientId: '' });
  const b = await raw({ clientId: '' });
  assert.equal(a.connack.returnCode, 0);
  assert.equal(b.connack.returnCode, 0);
  // both stay connected (distinct assigned ids: neither took the other over)
  a.c.send({ cmd: 'pingreq' });
  b.c.send({ cmd: 'pingreq' });
  await a.c.next('pingresp');
  await b.c.next('pingresp');
  a.c.drop();
  b.c.drop();
});

test('[MQTT-3.1.4-2] a second connection with the same client id takes over: the first is closed', async () => {
  const id = uid('dup');
  const first = await raw({ clientId: id });
  const second = await raw({ clientId: id });
  assert.equal(second.connack.returnCode, 0);
  assert.ok(await first.c.closedWithin(), 'the existing client is disconnected');
  second.c.send({ cmd: 'pingreq' });
  await second.c.next('pingresp');
  second.c.drop();
});

test('[MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3] session present follows clean session and the stored session', async () => {
  const id = uid('sess');
  const fresh = await raw({ clientId: id, clean: false });
  assert.equal(fresh.connack.sessionPresent, false, 'no stored session yet [MQTT-3.2.2-3]');
  fresh.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/sess', qos: 1 }] });
  await fresh.c.next('suback');
  fresh.c.disconnect();
  await gone(id);
  const back = await raw({ clientId: id, clean: false });
  assert.equal(back.connack.sessionPresent, true, 'stored session [MQTT-3.2.2-2]');
  back.c.disconnect();
  await gone(id);
  const clean = await raw({ clientId: id, clean: true });
  assert.equal(clean.connack.sessionPresent, false, 'clean session [MQTT-3.2.2-1]');
  clean.c.disconnect();
});

test('[MQTT-3.1.2-6] clean session 1 discards the previous session: its subscriptions are gone', async () => {
  const id = uid('discard');
  const a = await raw({ clientId: id, clean: false });
  a.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/discard', qos: 1 }] });
  await a.c.next('suback');
  a.c.disconnect();
  await gone(id);
  const b = await raw({ clientId: id, clean: true });
  const pub = await connect(h.url);
  await pub.publishAsync('conf/discard', 'x', { qos: 1 });
  assert.ok(await b.c.none('publish'), 'no delivery to a discarded subscription');
  b.c.disconnect();
  pub.end();
});

test('[MQTT-3.1.2-4] [MQTT-3.1.2-5] clean session 0: QoS 1 messages are stored while offline and delivered on return', async () => {
  const id = uid('resume');
  const a = await raw({ clientId: id, clean: false });
  a.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/resume', qos: 1 }] });
  await a.c.next('suback');
  a.c.disconnect();
  await gone(id);
  const pub = await connect(h.url);
  for (let i = 0; i < 3; i++) await pub.publishAsync('conf/resume', `r${i}`, { qos: 1 });
  await pub.publishAsync('conf/resume', 'q0', { qos: 0 });
  pub.end();
  const b = await raw({ clientId: id, clean: false });
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await b.c.next('publish');
    got.push(String(p.payload));
    b.c.send({ cmd: 'puback', messageId: p.messageId });
  }
  assert.deepEqual(got, ['r0', 'r1', 'r2'], 'in order [MQTT-4.6.0-6]');
  b.c.disconnect();
});

// ---- Will -------------------------------------------------------------------------------------

test('[MQTT-3.1.2-8] the will is published when the connection is lost without DISCONNECT', async () => {
  const watcher = await connect(h.url);
  const got = collect(watcher);
  await watcher.subscribeAsync('conf/will/+', { qos: 1 });
  const { c } = await raw({
    clientId: uid('will'),
    will: { topic: 'conf/will/lost', payload: Buffer.from('gone'), qos: 1, retain: false },
  });
  c.drop();
  const [m] = await got.next(1);
  assert.equal(m!.topic, 'conf/will/lost');
  assert.equal(m!.payload.toString(), 'gone');
  watcher.end();
});

test('[MQTT-3.1.2-10] [MQTT-3.14.4-3] a will is discarded on DISCONNECT and never published', async () => {
  const watcher = await connect(h.url);
  const got = collect(watcher);
  await watcher.subscribeAsync('conf/will2/+', { qos: 1 });
  const willId = uid('will');
  const { c } = await raw({
    clientId: willId,
    will: { topic: 'conf/will2/clean', payload: Buffer.from('no'), qos: 1, retain: false },
  });
  c.disconnect();
  await gone(willId);
  await sentinel('conf/will2/sentinel', got);
  assert.deepEqual(
    got.messages.map((m) => m.topic),
    ['conf/will2/sentinel'],
  );
  watcher.end();
});

test('[MQTT-3.1.2-17] a will with retain 1 is published as a retained message', async () => {
  const watcher = await connect(h.url);
  const published = collect(watcher);
  await watcher.subscribeAsync('conf/will3/status', { qos: 1 });
  const { c } = await raw({
    clientId: uid('will'),
    will: { topic: 'conf/will3/status', payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  c.drop();
  await published.next(1); // the will is out (and stored, as it is retained)
  watcher.end();
  const late = await connect(h.url);
  const got = collect(late);
  await late.subscribeAsync('conf/will3/status');
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), 'offline');
  assert.equal(m!.retain, true);
  late.end();
});

// ---- Keep alive -------------------------------------------------------------------------------

test('[MQTT-3.1.2-24] with keep alive 1 s and no packets, the broker disconnects within 1.5 s (plus slack) and publishes the will', async () => {
  const watcher = await connect(h.url);
  const got = collect(watcher);
  await watcher.subscribeAsync('conf/ka', { qos: 1 });
  const started = Date.now();
  const { c } = await raw({
    clientId: uid('ka'),
    keepalive: 1,
    will: { topic: 'conf/ka', payload: Buffer.from('timeout'), qos: 1, retain: false },
  });
  assert.ok(await c.closedWithin(4000), 'closed by the broker');
  const took = Date.now() - started;
  assert.ok(took >= 1000, `not before the keep-alive period (${took} ms)`);
  assert.equal((await got.next(1))[0]!.payload.toString(), 'timeout');
  watcher.end();
});

test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP, and keeps a keep-alive connection open', async () => {
  const { c } = await raw({ clientId: uid('ping'), keepalive: 1 });
  for (let i = 0; i < 4; i++) {
    await sleep(600); // time passing is what this test is about: 600 ms of silence, under keep-alive 1 s
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
  }
  assert.equal(c.closed, false, 'still open after 2.4 s with a 1 s keep-alive');
  c.disconnect();
});

// ---- PUBLISH, QoS flows -----------------------------------------------------------------------

test('[MQTT-3.3.4-1] [MQTT-4.3.2-2] a QoS 1 PUBLISH is answered by PUBACK with its packet id', async () => {
  const { c } = await raw({ clientId: uid('q1') });
  c.send({
    cmd: 'publish',
    topic: 'conf/q1',
    payload: Buffer.from('x'),
    qos: 1,
    messageId: 4242,
    retain: false,
    dup: false,
  });
  assert.equal((await c.next('puback')).messageId, 4242);
  c.disconnect();
});

test('[MQTT-4.3.3-2] QoS 2: PUBREC with the id; a resent PUBLISH (DUP) before PUBREL is not delivered twice; PUBCOMP after PUBREL', async () => {
  const sub = await connect(h.url);
  const got = collect(sub);
  await sub.subscribeAsync('conf/q2', { qos: 2 });
  const { c } = await raw({ clientId: uid('q2') });
  const publish = {
    cmd: 'publish',
    topic: 'conf/q2',
    payload: Buffer.from('once'),
    qos: 2,
    messageId: 77,
    retain: false,
    dup: false,
  };
  c.send(publish);
  assert.equal((await c.next('pubrec')).messageId, 77);
  c.send({ ...publish, dup: true });
  assert.equal((await c.next('pubrec')).messageId, 77, 'the duplicate is acknowledged again');
  c.send({ cmd: 'pubrel', messageId: 77 });
  assert.equal((await c.next('pubcomp')).messageId, 77);
  c.send({ cmd: 'publish', topic: 'conf/q2', payload: Buffer.from('sentinel'), qos: 0, retain: false, dup: false });
  await got.next(2);
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['once', 'sentinel'],
  );
  c.disconnect();
  sub.end();
});

test('[MQTT-3.3.1-1] [MQTT-4.4.0-1] an unacknowledged QoS 1 message is resent with DUP=1 when the session resumes', async () => {
  const id = uid('dupflag');
  const a = await raw({ clientId: id, clean: false });
  a.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/dup', qos: 1 }] });
  await a.c.next('suback');
  const pub = await connect(h.url);
  await pub.publishAsync('conf/dup', 'unacked', { qos: 1 });
  pub.end();
  const first = await a.c.next('publish');
  assert.equal(first.dup, false);
  a.c.drop(); // no PUBACK
  await gone(id);
  const b = await raw({ clientId: id, clean: false });
  const again = await b.c.next('publish');
  assert.equal(String(again.payload), 'unacked');
  assert.equal(again.dup, true);
  assert.equal(again.messageId, first.messageId, 'the same packet id');
  b.c.send({ cmd: 'puback', messageId: again.messageId });
  b.c.disconnect();
});

test('[MQTT-4.3.3-1] an unfinished outgoing QoS 2 flow resumes with PUBREL after PUBREC was sent', async () => {
  const id = uid('q2out');
  const a = await raw({ clientId: id, clean: false });
  a.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/q2out', qos: 2 }] });
  await a.c.next('suback');
  const pub = await connect(h.url);
  await pub.publishAsync('conf/q2out', 'exactly-once', { qos: 2 });
  pub.end();
  const p = await a.c.next('publish');
  a.c.send({ cmd: 'pubrec', messageId: p.messageId });
  await a.c.next('pubrel');
  a.c.drop(); // no PUBCOMP
  await gone(id);
  const b = await raw({ clientId: id, clean: false });
  const rel = await b.c.next('pubrel');
  assert.equal(rel.messageId, p.messageId);
  assert.ok(await b.c.none('publish'), 'the PUBLISH is not sent again once PUBREC was received');
  b.c.send({ cmd: 'pubcomp', messageId: rel.messageId });
  b.c.disconnect();
});

test('[MQTT-4.3.3-1] [MQTT-4.4.0-1] many QoS 2 flows in flight to a persistent subscriber, live and on resume: each message exactly once', async () => {
  // Found by the crash suite: with two QoS 2 flows in flight, the queue's second PUBREL replaced
  // the first's message id; one flow was never released and mqtt.js dropped the message.
  const id = uid('q2many');
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const live = new Map<string, number>();
  const a = await connect(h.url, { clientId: id, clean: false });
  a.on('message', (_t, p) => count(live, String(p)));
  await a.subscribeAsync('conf/q2many/#', { qos: 2 });
  const pub = await connect(h.url);
  await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync('conf/q2many/live', `l${i}`, { qos: 2 })));
  await waitFor(() => live.size === 200, 5000, `200 live (have ${live.size})`);
  await a.endAsync();
  await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync('conf/q2many/queued', `q${i}`, { qos: 2 })));
  const resumed = new Map<string, number>();
  const b = await connect(h.url, { clientId: id, clean: false }, (c) =>
    c.on('message', (_t, p) => count(resumed, String(p))),
  );
  await waitFor(() => resumed.size === 200, 5000, `200 queued (have ${resumed.size})`);
  // a message published now comes after every queued one: a duplicate of those would be in by then
  await pub.publishAsync('conf/q2many/queued', 'sentinel', { qos: 2 });
  await waitFor(() => resumed.has('sentinel'), 5000, 'the sentinel');
  resumed.delete('sentinel');
  assert.deepEqual(
    [...live.values(), ...resumed.values()].filter((n) => n !== 1),
    [],
    'no message twice',
  );
  b.end(true);
  pub.end();
});

test('[MQTT-3.3.1-2] a QoS 0 message is delivered with DUP=0', async () => {
  const { c } = await raw({ clientId: uid('q0') });
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/q0', qos: 0 }] });
  await c.next('suback');
  const pub = await connect(h.url);
  await pub.publishAsync('conf/q0', 'zero', { qos: 0 });
  const p = await c.next('publish');
  assert.equal(p.qos, 0);
  assert.equal(p.dup, false);
  c.disconnect();
  pub.end();
});

test('[MQTT-3.3.1-4] a PUBLISH with both QoS bits set is malformed: the connection is closed', async () => {
  const { c } = await raw({ clientId: uid('qos3') });
  c.sendBytes([0x36, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x01]); // QoS bits 11
  assert.ok(await c.closedWithin());
  await stillServes();
});

test('[MQTT-3.3.2-2] a topic name with wildcards in PUBLISH closes the connection and is not delivered', async () => {
  const sub = await connect(h.url);
  const got = collect(sub);
  await sub.subscribeAsync('conf/wild/#');
  for (const topic of ['conf/wild/+', 'conf/wild/#']) {
    const { c } = await raw({ clientId: uid('wild') });
    c.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    assert.ok(await c.closedWithin(), topic);
  }
  await sentinel('conf/wild/sentinel', got);
  assert.deepEqual(
    got.messages.map((m) => m.topic),
    ['conf/wild/sentinel'],
  );
  sub.end();
});

test('[MQTT-4.7.3-1] an empty topic name closes the connection', async () => {
  const { c } = await raw({ clientId: uid('empty') });
  c.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.ok(await c.closedWithin());
});

test('[MQTT-4.7.3-2] [MQTT-1.5.3-2] a topic with U+0000 closes the connection', async () => {
  const { c } = await raw({ clientId: uid('nul') });
  c.send({ cmd: 'publish', topic: 'conf/a\u0000b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
  assert.ok(await c.closedWithin());
});

test('[MQTT-1.5.3-1] a topic that is not well-formed UTF-8 closes the connection', async () => {
  const { c } = await raw({ clientId: uid('utf8') });
  // PUBLISH QoS 0, topic length 3: 'a', 0xC3 0x28 (invalid 2-byte sequence)
  c.sendBytes([0x30, 0x06, 0x00, 0x03, 0x61, 0xc3, 0x28, 0x78]);
  assert.ok(await c.closedWithin());
  await stillServes();
});

// ---- Retained ---------------------------------------------------------------------------------

test('[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-9] retained: stored, sent with RETAIN=1 to a new subscription, RETAIN=0 to existing ones', async () => {
  const existing = await connect(h.url);
  const live = collect(existing);
  await existing.subscribeAsync('conf/ret/a', { qos: 1 });
  const pub = await connect(h.url);
  await pub.publishAsync('conf/ret/a', 'v1', { qos: 1, retain: true });
  assert.equal(
    (await live.next(1))[0]!.retain,
    false,
    'forwarded to an established subscription with RETAIN=0 [MQTT-3.3.1-9]',
  );
  const late = await connect(h.url);
  const got = collect(late);
  await late.subscribeAsync('conf/ret/+', { qos: 1 });
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), 'v1');
  assert.equal(m!.retain, true, '[MQTT-3.3.1-8]');
  existing.end();
  pub.end();
  late.end();
});

test('[MQTT-3.3.1-10] [MQTT-3.3.1-11] a zero-byte retained message clears the topic and is not stored', async () => {
  const pub = await connect(h.url);
  await pub.publishAsync('conf/ret/clear', 'something', { qos: 1, retain: true });
  await pub.publishAsync('conf/ret/clear', '', { qos: 1, retain: true });
  const late = await connect(h.url);
  const got = collect(late);
  await late.subscribeAsync('conf/ret/clear', { qos: 1 });
  await sentinel('conf/ret/clear', got, pub); // live, after the retained ones would have been sent
  assert.deepEqual(
    got.messages.map((m) => [m.payload.toString(), m.retain]),
    [['sentinel', false]],
  );
  pub.end();
  late.end();
});

test('[MQTT-3.3.1-12] a PUBLISH with RETAIN=0 neither stores nor replaces the retained message', async () => {
  const pub = await connect(h.url);
  await pub.publishAsync('conf/ret/keep', 'retained', { qos: 1, retain: true });
  await pub.publishAsync('conf/ret/keep', 'transient', { qos: 1, retain: false });
  const late = await connect(h.url);
  const got = collect(late);
  await late.subscribeAsync('conf/ret/keep', { qos: 1 });
  assert.equal((await got.next(1))[0]!.payload.toString(), 'retained');
  await sentinel('conf/ret/keep', got, pub);
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['retained', 'sentinel'],
  );
  pub.end();
  late.end();
});

test('[MQTT-3.8.4-3] re-subscribing replaces the subscription (new QoS) and resends the retained messages', async () => {
  const pub = await connect(h.url);
  await pub.publishAsync('conf/ret/resub', 'r', { qos: 1, retain: true });
  const { c } = await raw({ clientId: uid('resub') });
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/ret/resub', qos: 0 }] });
  assert.deepEqual((await c.next('suback')).granted, [0]);
  assert.equal((await c.next('publish')).qos, 0);
  c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'conf/ret/resub', qos: 1 }] });
  assert.deepEqual((await c.next('suback')).granted, [1]);
  const again = await c.next('publish');
  assert.equal(again.retain, true);
  assert.equal(again.qos, 1);
  c.send({ cmd: 'puback', messageId: again.messageId });
  await pub.publishAsync('conf/ret/resub', 'live', { qos: 1 });
  const live = await c.next('publish');
  assert.equal(live.qos, 1, 'one subscription, at its new QoS');
  c.send({ cmd: 'puback', messageId: live.messageId });
  assert.ok(await c.none('publish', 200), 'no second copy from the replaced subscription');
  c.disconnect();
  pub.end();
});

// ---- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------------

test('[MQTT-3.8.4-1] [MQTT-3.8.4-5] SUBACK carries the packet id and one return code per filter, in order', async () => {
  const { c } = await raw({ clientId: uid('suback') });
  c.send({
    cmd: 'subscribe',
    messageId: 999,
    subscriptions: [
      { topic: 'conf/s/a', qos: 2 },
      { topic: 'conf/s/b', qos: 0 },
      { topic: 'conf/s/c', qos: 1 },
    ],
  });
  const ack = await c.next('suback');
  assert.equal(ack.messageId, 999);
  assert.deepEqual(ack.granted, [2, 0, 1]);
  c.disconnect();
});

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.8.0-1] an invalid filter (# not last, + or # inside a level) is a protocol violation: closed, nothing subscribed', async () => {
  for (const filter of ['conf/a/#/b', 'conf/a+', 'conf/#x', 'conf/nul\u0000']) {
    const id = uid('badfilter');
    const { c } = await raw({ clientId: id, clean: false });
    c.send({
      cmd: 'subscribe',
      messageId: 5,
      subscriptions: [
        { topic: 'conf/bf/ok', qos: 1 },
        { topic: filter, qos: 1 },
      ],
    });
    assert.ok(await c.closedWithin(), JSON.stringify(filter));
    assert.ok(!c.packets.some((p) => p.cmd === 'suback'), 'no SUBACK');
    const again = await raw({ clientId: id, clean: true });
    again.c.disconnect();
  }
  const c = await connect(h.url);
  assert.deepEqual(
    await subscribeCodes(c, ['conf/ok/+', 'conf/ok/#', '+/+/#'], 1),
    [1, 1, 1],
    'valid filters are granted',
  );
  c.end();
});

test('[MQTT-3.8.1-1] a SUBSCRIBE with reserved header bits other than 0010 closes the connection', async () => {
  const { c } = await raw({ clientId: uid('subflags') });
  // 0x80 instead of 0x82; packet id 1; filter "a"; QoS 0
  c.sendBytes([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]);
  assert.ok(await c.closedWithin());
  await stillServes();
});

test('[MQTT-3.8.3-3] a SUBSCRIBE without any filter is a protocol violation: closed', async () => {
  const { c } = await raw({ clientId: uid('subempty') });
  c.sendBytes([0x82, 0x02, 0x00, 0x01]);
  assert.ok(await c.closedWithin());
});

test('[MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBACK carries the packet id, also for a filter that was never subscribed', async () => {
  const { c } = await raw({ clientId: uid('unsub') });
  c.send({ cmd: 'unsubscribe', messageId: 321, unsubscriptions: ['conf/never/subscribed'] });
  assert.equal((await c.next('unsuback')).messageId, 321);
  c.disconnect();
});

test('[MQTT-3.10.4-1] [MQTT-3.10.4-2] after UNSUBSCRIBE no new messages arrive for that filter; others still do', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync(['conf/u/a', 'conf/u/b'], { qos: 1 });
  await c.unsubscribeAsync('conf/u/a');
  const pub = await connect(h.url);
  await pub.publishAsync('conf/u/a', 'gone', { qos: 1 });
  await pub.publishAsync('conf/u/b', 'kept', { qos: 1 });
  await got.next(1); // b was published after a on the same connection: a would have come first
  assert.deepEqual(
    got.messages.map((m) => m.topic),
    ['conf/u/b'],
  );
  c.end();
  pub.end();
});

test('[MQTT-3.3.5-1] overlapping subscriptions: the message is delivered at the highest granted QoS of the matches', async () => {
  const { c } = await raw({ clientId: uid('overlap') });
  c.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'conf/ov/#', qos: 0 },
      { topic: 'conf/ov/+', qos: 2 },
    ],
  });
  await c.next('suback');
  const pub = await connect(h.url);
  await pub.publishAsync('conf/ov/x', 'x', { qos: 2 });
  // The broker MAY send one copy per matching subscription; one of them must be at QoS 2.
  await pub.publishAsync('conf/ov/y/z', 'sentinel', { qos: 0 }); // matches conf/ov/# only, and comes after
  await waitFor(
    () => c.packets.some((p) => p.cmd === 'publish' && (p as { topic?: string }).topic === 'conf/ov/y/z'),
    5000,
    'the sentinel',
  );
  const copies = c.packets.filter((p) => p.cmd === 'publish' && (p as { topic?: string }).topic === 'conf/ov/x');
  assert.ok(copies.length >= 1 && copies.length <= 2, `${copies.length} copies`);
  assert.ok(
    copies.some((p) => p.qos === 2),
    `QoS of the copies: ${copies.map((p) => p.qos).join(',')}`,
  );
  c.disconnect();
  pub.end();
});

test('[MQTT-3.8.4-6] a QoS 2 message reaches a QoS 1 wildcard subscription at QoS 1', async () => {
  const { c } = await raw({ clientId: uid('down') });
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'conf/dg/+', qos: 1 }] });
  await c.next('suback');
  const pub = await connect(h.url);
  await pub.publishAsync('conf/dg/x', 'x', { qos: 2 });
  const p = await c.next('publish');
  assert.equal(p.qos, 1);
  c.send({ cmd: 'puback', messageId: p.messageId });
  c.disconnect();
  pub.end();
});

// ---- Topic matching ---------------------------------------------------------------------------

test('[MQTT-4.7.1-1] [MQTT-4.7.1-2] topic filters: # matches the parent level, + matches one (also empty) level', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync(['conf/m/sport/#', 'conf/m/plus/+', 'conf/m/+/tennis'], { qos: 1 });
  const pub = await connect(h.url);
  const topics = [
    'conf/m/sport',
    'conf/m/sport/tennis/player1',
    'conf/m/plus/',
    'conf/m/plus/x/y',
    'conf/m/golf/tennis',
    'conf/m/plusx/a',
  ];
  for (const t of topics) await pub.publishAsync(t, t, { qos: 1 });
  await sentinel('conf/m/sport/sentinel', got, pub);
  assert.deepEqual(
    got.messages
      .map((m) => m.topic)
      .filter((t) => t !== 'conf/m/sport/sentinel')
      .sort(),
    ['conf/m/golf/tennis', 'conf/m/plus/', 'conf/m/sport', 'conf/m/sport/tennis/player1'],
  );
  c.end();
  pub.end();
});

test('[MQTT-4.7.2-1] filters starting with a wildcard do not match $ topics (live or retained); explicit $ filters do', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync(['#', '+/conf/x', '$SYS/broker/version'], { qos: 0 });
  // the retained burst for this SUBSCRIBE, then a live message behind it
  await waitFor(
    () => got.messages.some((m) => m.topic === '$SYS/broker/version'),
    5000,
    'the retained $SYS/broker/version',
  );
  await sentinel('conf/x/sentinel', got);
  assert.ok(
    got.messages.every((m) => !m.topic.startsWith('$') || m.topic === '$SYS/broker/version'),
    JSON.stringify(got.messages.map((m) => m.topic)),
  );
  assert.ok(
    got.messages.some((m) => m.topic === '$SYS/broker/version'),
    'the explicit $SYS filter gets the retained version',
  );
  c.end();
});

test('[MQTT-4.6.0-6] QoS 1 messages from one publisher on one topic arrive in the order sent', async () => {
  const c = await connect(h.url);
  const got = collect(c);
  await c.subscribeAsync('conf/order', { qos: 1 });
  const pub = await connect(h.url);
  for (let i = 0; i < 200; i++) pub.publish('conf/order', String(i), { qos: 1 });
  await got.next(200);
  assert.deepEqual(
    got.messages.map((m) => Number(m.payload)),
    Array.from({ length: 200 }, (_, i) => i),
  );
  c.end();
  pub.end();
});

test('the broker keeps serving after the whole conformance run', stillServes);
