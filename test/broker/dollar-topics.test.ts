// `$` topics [MQTT-4.7.2-1], side by side with Debian's Mosquitto: a client may publish to a `$`
// topic other than `$SYS/…`; it reaches only filters that name its first level literally, never
// `#` or `+/…`, live or retained. A client's publish to `$SYS/…` is acknowledged and dropped (and
// logged), and the client stays connected, as Mosquitto does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub,
  startMosquitto,
  capturingLogger,
  connect,
  collect,
  removeDir,
  subscribeCodes,
  tempDir,
  type TestHub,
} from '../helpers.js';

let h: TestHub;
let mosquitto: Awaited<ReturnType<typeof startMosquitto>>;
const logger = capturingLogger('info');
before(async () => {
  h = await startHub({}, tempDir(), logger.log);
  mosquitto = await startMosquitto();
});
after(async () => {
  await h.stop();
  removeDir(h.dir);
  await mosquitto.stop();
});

const brokers = () =>
  [
    ['the hub', h.url],
    ['Mosquitto', mosquitto.url],
  ] as const;

for (const which of ['the hub', 'Mosquitto']) {
  test(`${which}: a publish to $TopicA/B is delivered (live and retained) to $TopicA/# and $TopicA/B only, never to # or +/B`, async () => {
    const url = brokers().find(([n]) => n === which)![1];
    const wide = await connect(url);
    const wideGot = collect(wide);
    await wide.subscribeAsync(['#', '+/B', '+/+'], { qos: 1 });
    const literal = await connect(url);
    const literalGot = collect(literal);
    await literal.subscribeAsync(['$TopicA/#', '$TopicA/B'], { qos: 1 });

    const pub = await connect(url);
    const closed = { value: false };
    pub.on('close', () => {
      closed.value = true;
    });
    await pub.publishAsync('$TopicA/B', 'dollar', { qos: 1, retain: true });
    // a sentinel on an ordinary topic, behind it on the same connection: once the wide subscriber
    // has it, a $ message delivered to it would have arrived first
    await pub.publishAsync('plain/after', 'sentinel', { qos: 1 });
    await wideGot.next(1); // plain/after (overlapping filters: one copy on both brokers)
    await literalGot.next(1);
    assert.ok(
      wideGot.messages.every((m) => !m.topic.startsWith('$')),
      `wildcards got ${JSON.stringify(wideGot.messages.map((m) => m.topic))}`,
    );
    assert.deepEqual([...new Set(literalGot.messages.map((m) => `${m.topic} ${m.payload}`))], ['$TopicA/B dollar']);
    assert.equal(closed.value, false, 'the publisher stays connected');

    // retained: a new # subscriber gets nothing of it, a new literal one gets it
    const late = await connect(url);
    const lateGot = collect(late);
    await late.subscribeAsync(['#', '$TopicA/B'], { qos: 1 });
    await lateGot.next(1);
    await pub.publishAsync('plain/after', 'sentinel 2', { qos: 1 });
    await lateGot.next(2);
    const dollar = lateGot.messages.filter((m) => m.topic.startsWith('$'));
    assert.deepEqual(
      dollar.map((m) => [m.topic, m.payload.toString(), m.retain]),
      [['$TopicA/B', 'dollar', true]],
    );
    await pub.publishAsync('$TopicA/B', '', { qos: 1, retain: true }); // clear it
    for (const c of [wide, literal, pub, late]) c.end();
  });

  test(`${which}: a client's publish to $SYS/… is acknowledged and dropped; the client stays connected`, async () => {
    const url = brokers().find(([n]) => n === which)![1];
    const watcher = await connect(url);
    const got = collect(watcher);
    await watcher.subscribeAsync(['$SYS/smart-home-test/#', 'sentinel/sys'], { qos: 1 });
    const pub = await connect(url);
    let closed = false;
    pub.on('close', () => {
      closed = true;
    });
    await pub.publishAsync('$SYS/smart-home-test/fake', 'fake', { qos: 1, retain: true }); // resolves on PUBACK
    await pub.publishAsync('sentinel/sys', 'after', { qos: 1 });
    await got.next(1);
    assert.deepEqual(
      got.messages.map((m) => m.topic),
      ['sentinel/sys'],
      'the $SYS publish reached nobody',
    );
    assert.equal(closed, false);
    // nor was it retained
    const late = await connect(url);
    const lateGot = collect(late);
    await late.subscribeAsync(['$SYS/smart-home-test/#', 'sentinel/sys2'], { qos: 1 });
    await pub.publishAsync('sentinel/sys2', 'after', { qos: 1 });
    await lateGot.next(1);
    assert.deepEqual(
      lateGot.messages.map((m) => m.topic),
      ['sentinel/sys2'],
    );
    for (const c of [watcher, pub, late]) c.end();
  });
}

test('the hub logs the dropped $SYS publish with the client and topic', async () => {
  const pub = await connect(h.url, { clientId: 'sys-writer' });
  await pub.publishAsync('$SYS/broker/version', 'fake', { qos: 0 });
  const line = await logger.line(
    (l) => l.topic === '$SYS/broker/version' && l.clientId === 'sys-writer',
    'about the $SYS publish',
  );
  assert.match(String(line.msg), /publish dropped: \$SYS\/ topics are written by the broker only/);
  // the broker's own $SYS/broker/version is untouched
  const check = await connect(h.url);
  const got = collect(check);
  await check.subscribeAsync('$SYS/broker/version');
  const [m] = await got.next(1);
  assert.match(m!.payload.toString(), /^smart-home /);
  pub.end();
  check.end();
});

test("$smart-home/… is the hub's own: a subscription to it is refused (0x80), a publish to it dropped", async () => {
  const c = await connect(h.url);
  assert.deepEqual(await subscribeCodes(c, ['$smart-home/#', '$smart-home', '$TopicA/#'], 1), [128, 128, 1]);
  await c.publishAsync('$smart-home/dropped', 'x', { qos: 1 });
  await logger.line((l) => l.topic === '$smart-home/dropped', 'about the $smart-home publish');
  c.end();
});
