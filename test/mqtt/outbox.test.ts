// External broker mode against Debian's Mosquitto: MQTT 3.1.1 and 5 with user/password, MQTT 5
// properties and request/response, the durable outbox across a broker restart and a kill -9 of
// the hub, and two hubs sharing script subscriptions.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { startHub, tempDir, removeDir, freePort, connect, serve, sleep, waitFor, type TestHub } from '../helpers.js';

interface Mosq {
  url: string;
  port: number;
  dir: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Mosquitto on a loopback port with persistence (so a restart keeps sessions) and optional users. */
async function mosquitto(opts: { users?: Record<string, string> } = {}): Promise<Mosq> {
  const port = await freePort();
  const dir = tempDir('smart-home-mosq-');
  // `user root`: started as root, Mosquitto would drop to its own user and could not read this dir
  let conf = `user root\nlistener ${port} 127.0.0.1\npersistence true\npersistence_location ${dir}/\nmax_queued_messages 0\nmax_inflight_messages 0\n`;
  if (opts.users) {
    const file = path.join(dir, 'passwd');
    writeFileSync(file, '');
    for (const [u, p] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', file, u, p]);
    conf += `allow_anonymous false\npassword_file ${file}\n`;
  } else conf += 'allow_anonymous true\n';
  // every packet, so a test can tell the broker's own replays from ours
  conf += `log_dest file ${dir}/mosquitto.log\nlog_type all\n`;
  writeFileSync(path.join(dir, 'mosquitto.conf'), conf);
  let child: ReturnType<typeof spawn> | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  const m: Mosq = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      child = spawn('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
      exited = new Promise((r) => child!.once('exit', r));
      for (let i = 0; i < 100; i++) {
        const ok = await new Promise<boolean>((r) => {
          const c = mqtt.connect(m.url, {
            reconnectPeriod: 0,
            connectTimeout: 1000,
            ...(opts.users ? { username: Object.keys(opts.users)[0], password: Object.values(opts.users)[0] } : {}),
          });
          c.once('connect', () => {
            c.end(true);
            r(true);
          });
          c.once('error', () => {
            c.end(true);
            r(false);
          });
        });
        if (ok) return;
        await sleep(50);
      }
      throw new Error('mosquitto did not start');
    },
    async stop(signal = 'SIGTERM') {
      child?.kill(signal);
      await exited;
    },
  };
  cleanups.push(async () => {
    await m.stop();
    removeDir(dir);
  });
  return m;
}

const SCRIPT_LOG = (t: TestHub, name: string) => t.hub.scripts.get(name)?.logs.map((l) => l.message) ?? [];

test('external broker, MQTT 5 with user and password: properties both ways and request/response', async () => {
  const broker = await mosquitto({ users: { hub: 'hub-secret', dev: 'dev-secret' } });
  await broker.start();
  const t = await startHub({
    mqtt: { url: broker.url, username: 'hub', password: 'hub-secret', protocol_version: 5, client_id: 'hub-v5' },
  });
  cleanups.push(() => t.stop());
  assert.equal(t.hub.broker, undefined, 'no embedded broker');
  const dev = await connect(broker.url, { username: 'dev', password: 'dev-secret', protocolVersion: 5 });
  const got: mqtt.IPublishPacket[] = [];
  dev.on('message', (topic, _p, packet) => {
    if (topic === 'v5/out') got.push(packet);
  });
  await dev.subscribeAsync('v5/out', { qos: 1 });
  // a responder that answers requests the MQTT 5 way
  dev.on('message', (topic, payload, packet) => {
    if (topic !== 'svc/echo') return;
    dev.publish(packet.properties!.responseTopic!, `echo:${payload}`, {
      properties: { correlationData: packet.properties!.correlationData },
    });
  });
  await dev.subscribeAsync('svc/echo');
  await t.hub.scripts.load(
    '/scripts/v5.js',
    {},
    `
    Mqtt.subscribe('v5/in', (m) => console.log('in', m.properties.contentType, JSON.stringify(m.properties.userProperties)));
    Mqtt.publish('v5/out', {on: true}, {qos: 1, properties: {contentType: 'application/json', userProperties: {room: 'hall'}, messageExpiryInterval: 60}});
    Mqtt.request('svc/echo', 'ping', {timeout: 3000}).then((r) => console.log('reply', r.payload));
  `,
  );
  await waitFor(() => got.length === 1, 5000, 'the v5 publish');
  assert.equal(got[0]!.properties?.contentType, 'application/json');
  assert.deepEqual({ ...got[0]!.properties?.userProperties }, { room: 'hall' });
  await waitFor(() => SCRIPT_LOG(t, 'v5.js').includes('reply echo:ping'), 5000, 'the reply');
  await dev.publishAsync('v5/in', 'x', { properties: { contentType: 'text/plain', userProperties: { a: '1' } } });
  await waitFor(() => SCRIPT_LOG(t, 'v5.js').includes('in text/plain {"a":"1"}'), 5000, 'incoming properties');
  assert.equal(t.hub.bus.connection().connected, true);
});

test('external broker, MQTT 3.1.1: MQTT 5 features are refused with a clear error; a wrong password is visible', async () => {
  const broker = await mosquitto({ users: { hub: 'hub-secret' } });
  await broker.start();
  const t = await startHub({ mqtt: { url: broker.url, username: 'hub', password: 'hub-secret', client_id: 'hub-v4' } });
  cleanups.push(() => t.stop());
  const sub = await connect(broker.url, { username: 'hub', password: 'hub-secret', clientId: 'v4-sub' });
  const got: string[] = [];
  sub.on('message', (topic, p) => got.push(`${topic}=${p}`));
  await sub.subscribeAsync('v4/#', { qos: 1 });
  await t.hub.scripts.load(
    '/scripts/v4.js',
    {},
    `
    Mqtt.publish('v4/plain', 'ok', 1);
    Mqtt.publish('v4/props', 'x', {qos: 1, properties: {contentType: 'text/plain'}}).catch((e) => console.log(e.code, e.message));
    Mqtt.request('v4/req', 'x').catch((e) => console.log(e.code));
  `,
  );
  await waitFor(() => got.includes('v4/plain=ok'), 5000, 'the 3.1.1 publish');
  await waitFor(() => SCRIPT_LOG(t, 'v4.js').length === 2, 5000, 'both refusals');
  const logs = SCRIPT_LOG(t, 'v4.js');
  assert.ok(
    logs.some((l) => /^NOT_SUPPORTED MQTT 5 properties \(contentType\) need mqtt.protocol_version: 5/.test(l)),
    logs.join('\n'),
  );
  assert.ok(logs.includes('NOT_SUPPORTED'));
  assert.ok(!got.includes('v4/props=x'));
  const bad = await startHub({ mqtt: { url: broker.url, username: 'hub', password: 'wrong', client_id: 'hub-bad' } });
  cleanups.push(() => bad.stop());
  await waitFor(
    () => /not authori[sz]ed|bad user/i.test(bad.hub.bus.connection().lastError ?? ''),
    5000,
    'the refusal to be recorded',
  );
  assert.equal(bad.hub.bus.connection().connected, false);
});

for (const qos of [1, 2] as const) {
  test(`10 000 QoS ${qos} messages from a script; Mosquitto restarted in the middle: every one arrives${qos === 2 ? ', and the hub sends none twice' : ''}`, async () => {
    const N = 10_000;
    const broker = await mosquitto();
    await broker.start();
    const counts = new Map<number, number>();
    let received = 0;
    const sub = mqtt.connect(broker.url, { clientId: `persistent-sub-${qos}`, clean: false, reconnectPeriod: 100 });
    cleanups.push(async () => {
      sub.end(true);
    });
    sub.on('message', (_t, p) => {
      const i = Number(p);
      counts.set(i, (counts.get(i) ?? 0) + 1);
      received++;
    });
    await new Promise((r) => sub.once('connect', r));
    await sub.subscribeAsync('load/#', { qos });
    const t = await startHub({ mqtt: { url: broker.url, client_id: `hub-load-${qos}` } });
    cleanups.push(() => t.stop());
    // at most 500 publishes in flight; a counter, not Promise.race over a set (each race call
    // would leave 500 reactions on the pending promises)
    await t.hub.scripts.load(
      '/scripts/load.js',
      {},
      `
      let inflight = 0, wake = null;
      const settled = () => { inflight--; if (wake) { const w = wake; wake = null; w(); } };
      (async () => {
        for (let i = 0; i < ${N}; i++) {
          inflight++;
          Mqtt.publish('load/x', String(i), ${qos}).catch((e) => console.error('lost', i, e.code)).finally(settled);
          if (inflight >= 500) await new Promise((r) => { wake = r; });
        }
        while (inflight > 0) await new Promise((r) => { wake = r; });
        console.log('all acknowledged');
      })().catch((e) => console.error('failed', String(e)));
    `,
    );
    await waitFor(() => received >= N / 3, 30_000, 'a third of the messages');
    await broker.stop('SIGTERM');
    await sleep(300);
    await broker.start();
    await waitFor(() => SCRIPT_LOG(t, 'load.js').includes('all acknowledged'), 60_000, 'every publish acknowledged');
    await waitFor(() => counts.size === N, 30_000, `all ${N} distinct messages (have ${counts.size})`);
    assert.ok(
      !SCRIPT_LOG(t, 'load.js').some((l) => l.startsWith('lost')),
      SCRIPT_LOG(t, 'load.js').slice(0, 5).join('\n'),
    );
    if (qos === 2) {
      await sleep(300);
      const twice = [...counts].filter(([, n]) => n > 1).length;
      // Mosquitto 2.0.11 restores a QoS 2 delivery it had already PUBRELed as a PUBLISH (d1) after
      // its restart, so the subscriber, which completed it, gets it again ([MQTT-4.3.3-1]: "MUST
      // NOT re-send the PUBLISH once it has sent the corresponding PUBREL"). Those are the
      // broker's; everything else would be ours.
      const log = readFileSync(path.join(broker.dir, 'mosquitto.log'), 'utf8');
      const [before, after] = log.split(/terminating/);
      const pubrelled = new Set(
        [...before!.matchAll(/Sending PUBREL to persistent-sub-2 \(m(\d+)\)/g)].map((m) => m[1]),
      );
      const replays = [...after!.matchAll(/Sending PUBLISH to persistent-sub-2 \(d1, q2, r0, m(\d+),/g)].filter((m) =>
        pubrelled.has(m[1]),
      ).length;
      assert.ok(
        twice <= replays,
        `${twice} delivered twice, ${replays} of them replayed by Mosquitto after its own PUBREL`,
      );
      // and the hub never sends a PUBLISH again for a message it has already PUBRELed [MQTT-4.3.3-1]
      const released = new Set<string>();
      let pubrels = 0;
      for (const line of log.split('\n')) {
        let m = /Received PUBREL from hub-load-2 \(Mid: (\d+)\)/.exec(line);
        if (m) {
          released.add(m[1]!);
          pubrels++;
          continue;
        }
        m = /Sending PUBCOMP to hub-load-2 \(m(\d+)\)/.exec(line);
        if (m) {
          released.delete(m[1]!);
          continue;
        }
        m = /Received PUBLISH from hub-load-2 \(d\d, q2, r0, m(\d+),/.exec(line);
        assert.ok(!m || !released.has(m[1]!), `the hub resent PUBLISH ${m?.[1]} after its PUBREL: ${line}`);
      }
      assert.ok(pubrels >= N, `the broker log shows the hub's QoS 2 flows (${pubrels} PUBRELs)`);
    }
    assert.ok(t.hub.bus.stats.reconnects >= 1);
  });
}

test('the hub is kill -9ed while its outbox holds messages: after a restart they are delivered, in order', async () => {
  const port = await freePort();
  const dir = tempDir();
  mkdirSync(path.join(dir, 'scripts'));
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    `mqtt:\n  url: mqtt://127.0.0.1:${port}\n  client_id: hub-outbox\nhttp:\n  enabled: false\n`,
  );
  writeFileSync(
    path.join(dir, 'scripts', 'burst.js'),
    "for (let i = 0; i < 200; i++) Mqtt.publish('outbox/x', String(i), 1);\n",
  );
  const first = await serve(['--data', dir, '--config', path.join(dir, 'smart-home.yaml')]);
  const db = new Database(path.join(dir, 'smart-home.db'), { readonly: true });
  await waitFor(
    () => (db.prepare('SELECT count(*) AS n FROM mqtt_outbox').get() as { n: number }).n === 200,
    10_000,
    '200 messages in the outbox',
  );
  db.close();
  first.child.kill('SIGKILL');
  await first.exited;
  removeDir(path.join(dir, 'scripts'));
  // the broker comes back, with a subscriber waiting
  const broker = await (async () => {
    const conf = path.join(dir, 'mosq.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n`);
    const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    cleanups.push(async () => {
      child.kill();
      await exited;
    });
    for (let i = 0; i < 100; i++) {
      try {
        (await connect(`mqtt://127.0.0.1:${port}`)).end(true);
        break;
      } catch {
        await sleep(50);
      }
    }
    return `mqtt://127.0.0.1:${port}`;
  })();
  const got: number[] = [];
  const sub = await connect(broker);
  sub.on('message', (_t, p) => got.push(Number(p)));
  await sub.subscribeAsync('outbox/#', { qos: 1 });
  const second = await serve(['--data', dir, '--config', path.join(dir, 'smart-home.yaml')]);
  cleanups.push(async () => {
    second.child.kill('SIGTERM');
    await second.exited;
    removeDir(dir);
  });
  await waitFor(() => got.length >= 200, 10_000, `200 messages (have ${got.length})`);
  assert.deepEqual(
    got,
    Array.from({ length: 200 }, (_, i) => i),
  );
  // every message was acknowledged (the subscriber has them all); the outbox rows go as the PUBACKs come in
  const check = new Database(path.join(dir, 'smart-home.db'), { readonly: true });
  const left = () => (check.prepare('SELECT count(*) AS n FROM mqtt_outbox').get() as { n: number }).n;
  await waitFor(() => left() === 0, 5000, `the outbox to empty once acknowledged (${left()} left)`);
  check.close();
});

test('two hubs with a shared subscription handle 1 000 messages exactly once between them', async () => {
  const broker = await mosquitto();
  await broker.start();
  const hubs = await Promise.all(
    ['a', 'b'].map((n) => startHub({ mqtt: { url: broker.url, client_id: `hub-share-${n}`, share_group: 'workers' } })),
  );
  for (const h of hubs) cleanups.push(() => h.stop());
  const script = "Mqtt.subscribe('jobs/+', (m) => Mqtt.publish('done/' + m.params[0], m.payload, 1));";
  for (const h of hubs) {
    await h.hub.scripts.load('/scripts/worker.js', {}, script);
    await h.hub.scripts.inputs.subscribed('worker.js'); // its shared subscription is acknowledged
  }
  const done = new Map<string, number>();
  const sub = await connect(broker.url);
  sub.on('message', (topic) => done.set(topic, (done.get(topic) ?? 0) + 1));
  await sub.subscribeAsync('done/+', { qos: 1 });
  const pub = await connect(broker.url);
  for (let i = 0; i < 1000; i++) pub.publish(`jobs/${i}`, String(i), { qos: 1 });
  await waitFor(() => done.size === 1000, 20_000, `1000 jobs done (have ${done.size})`);
  await sleep(300);
  assert.deepEqual(
    [...done.values()].filter((n) => n !== 1),
    [],
    'each job handled once',
  );
  const per = hubs.map((h) => h.hub.scripts.list().find((s) => s.name === 'worker.js')!.delivered);
  assert.equal(per[0]! + per[1]!, 1000);
  assert.ok(per[0]! > 0 && per[1]! > 0, `both hubs worked: ${per.join(' / ')}`);
});
