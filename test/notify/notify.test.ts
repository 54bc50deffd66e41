// Notifications from scripts through the durable outbox, to every kind of target, each against a
// local stand-in speaking the service's format (test/fixtures/notify-servers.ts): accepted ->
// the promise resolves; refused for good -> it rejects with the service's reason; unavailable ->
// tried again with backoff; the source (script and line) kept; a target named, never its token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startHub, tempDir, removeDir, scriptLog, waitFor, type TestHub } from '../helpers.js';
import { startFakeServices, startFakeSmtp, type FakeServices, type FakeSmtp } from '../fixtures/notify-servers.js';

let svc: FakeServices;
let smtp: FakeSmtp;
let h: TestHub;
let dir: string;

before(async () => {
  svc = await startFakeServices();
  smtp = await startFakeSmtp();
  dir = tempDir();
  h = await startHub(
    {
      http: { enabled: true, port: 0 },
      notify: {
        retry_base_s: 0.05,
        retry_max_s: 0.2,
        max_attempts: 4,
        targets: {
          phone: {
            type: 'ntfy',
            url: `${svc.base}/ntfy`,
            topic: 'home-alerts',
            token: 'tk_ntfytoken',
            tags: ['house'],
          },
          family: { type: 'telegram', token: svc.telegramToken, chat_id: -100123, api_url: `${svc.base}/telegram` },
          wrongbot: { type: 'telegram', token: '999:wrong', chat_id: 1, api_url: `${svc.base}/telegram` },
          me: { type: 'pushover', token: 'app-token', user: 'user-key', api_url: `${svc.base}/pushover` },
          nodered: { type: 'webhook', url: `${svc.base}/hook`, headers: { 'X-Key': 'hook-key' } },
          mail: {
            type: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            username: 'hub',
            password: 'mail-pass',
            from: 'hub@home.example',
            to: ['me@home.example'],
          },
        },
        templates: { door: 'The {{ params.door }} door is {{ state }}' },
      },
    },
    dir,
  );
});
after(async () => {
  await h.stop();
  await svc.close();
  await smtp.close();
  removeDir(dir);
});

const run = (name: string, source: string, lines: number) => scriptLog(h, name, source, lines);

test('Notify.send reaches ntfy, Telegram, Pushover, a webhook and e-mail in their formats; each promise resolves when accepted', async () => {
  const log = await run(
    'alerts.js',
    `
    (async () => {
      for (const [t, p] of [['phone', 'high'], ['family', 'low'], ['me', 'urgent'], ['nodered', 2], ['mail', undefined]]) {
        const r = await Notify.send(t, 'Front door opened', { title: 'Door', priority: p, data: { door: 'front' } });
        console.log('sent', r.target, r.attempts);
      }
    })();
  `,
    5,
  );
  assert.deepEqual(log, ['sent phone 1', 'sent family 1', 'sent me 1', 'sent nodered 1', 'sent mail 1']);
  const [ntfy, tg, po, hook] = svc.received;
  assert.equal(ntfy!.service, 'ntfy');
  assert.deepEqual(ntfy!.body, {
    topic: 'home-alerts',
    message: 'Front door opened',
    title: 'Door',
    priority: 4,
    tags: ['house'],
  });
  assert.equal(ntfy!.headers.authorization, 'Bearer tk_ntfytoken');
  assert.deepEqual(tg!.body, { chat_id: -100123, text: 'Door\nFront door opened', disable_notification: true });
  assert.deepEqual(po!.body, {
    token: 'app-token',
    user: 'user-key',
    message: 'Front door opened',
    title: 'Door',
    priority: 1,
  });
  assert.equal(hook!.headers['x-key'], 'hook-key');
  assert.equal(hook!.body.message, 'Front door opened');
  assert.equal(hook!.body.priority, 'low');
  assert.deepEqual(hook!.body.data, { door: 'front' });
  assert.equal(hook!.body.source, 'script /scripts/alerts.js:4');
  assert.equal(smtp.mails.length, 1);
  assert.equal(smtp.mails[0]!.user, 'hub');
  assert.deepEqual(smtp.mails[0]!.to, ['me@home.example']);
  assert.match(smtp.mails[0]!.raw, /^Subject: Door$/m);
  assert.match(smtp.mails[0]!.raw, /Front door opened/);
  // the outbox keeps each one: sent, from which script and line
  const rows = h.hub.notifier.list(5);
  assert.deepEqual(
    rows.map((r) => [r.target, r.status, r.source]),
    ['mail', 'nodered', 'me', 'family', 'phone'].map((t) => [t, 'sent', 'script /scripts/alerts.js:4']),
  );
});

test('a target that is down is tried again with backoff; one that refuses for good rejects with its reason', async () => {
  svc.failNext.set('webhook', [{ status: 503 }, { status: 502 }]);
  const log = await run(
    'retry.js',
    `
    Notify.send('nodered', 'water leak').then((r) => console.log('leak', r.attempts));
    Notify.send('wrongbot', 'hello').catch((e) => console.log('bot', e.name, e.code, e.message));
  `,
    2,
  );
  assert.ok(log.includes('leak 3'), log.join('\n'));
  const bot = log.find((l) => l.startsWith('bot'))!;
  assert.match(
    bot,
    /^bot NotifyError FAILED Notify\.send to wrongbot: Telegram \(wrongbot\) answered 401: Unauthorized$/,
  );
  const [failed] = h.hub.notifier.list(10).filter((r) => r.target === 'wrongbot');
  assert.equal(failed!.status, 'failed');
  assert.equal(failed!.attempts, 1, 'a 401 is not tried again');
});

test('a target down for longer than max_attempts: the promise rejects saying it gave up', async () => {
  svc.failNext.set('ntfy', [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }]);
  const log = await run('giveup.js', "Notify.send('phone', 'x').catch((e) => console.log(e.message));", 1);
  assert.match(log[0]!, /Notify\.send to phone: ntfy \(phone\) answered 500: .*\(gave up after 4 attempts\)/);
});

test('bad calls are clear errors: an unknown target names the ones there are; bad priority; empty message', async () => {
  const log = await run(
    'bad.js',
    `
    const t = (f) => { try { const p = f(); p.catch((e) => console.log('async', e.code, e.message)); } catch (e) { console.log('sync', e.message); } };
    t(() => Notify.send('telegramm', 'x'));
    t(() => Notify.send('phone', 'x', { priority: 'loud' }));
    t(() => Notify.send('phone', ''));
    t(() => Notify.send('phone', 5));
  `,
    4,
  );
  assert.ok(
    log.some((l) =>
      /^async UNKNOWN_TARGET Notify\.send: no notification target "telegramm"; the config has: phone, family, wrongbot, me, nodered, mail$/.test(
        l,
      ),
    ),
    log.join('\n'),
  );
  assert.ok(log.some((l) => /priority must be one of min, low, default, high, urgent \(or 1-5\), got "loud"/.test(l)));
  assert.ok(log.some((l) => /the message must be a non-empty string/.test(l)));
  assert.ok(
    log.some((l) => /^sync Notify\.send: message must be a string, got number 5$/.test(l)),
    log.join('\n'),
  );
});

test("e154's notifr.newMessage()/send(msg) and template.render go through the same outbox", async () => {
  const before = svc.received.length;
  const log = await run(
    'e154-notify.js',
    `
    const msg = notifr.newMessage();
    msg.type = 'telegram';
    msg.entity_id = 'telegram.family';
    msg.attributes = { name: 'clavicus', body: template.render('door', { door: 'garage', state: 'open' }) };
    notifr.send(msg).then(() => console.log('notifr ok'));
    try { template.render('nope', {}); } catch (e) { console.log(e.message); }
  `,
    2,
  );
  assert.ok(log.includes('notifr ok'), log.join('\n'));
  assert.ok(log.some((l) => /template\.render: no template "nope"; notify\.templates has: door/.test(l)));
  const tg = svc.received.slice(before).find((r) => r.service === 'telegram');
  assert.equal(tg!.body.text, 'The garage door is open');
});

test('the API lists the outbox and the targets by name and type, never a token', async () => {
  const api = h.hub.api!.url;
  const targets = await (await fetch(`${api}/api/notifications/targets`)).text();
  assert.match(targets, /"name":"family","type":"telegram"/);
  assert.doesNotMatch(targets, new RegExp(svc.telegramToken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.doesNotMatch(targets, /app-token|tk_ntfytoken|mail-pass/);
  const sent = await fetch(`${api}/api/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'nodered', message: 'test from the API' }),
  });
  assert.equal(sent.status, 202);
  const { data } = (await sent.json()) as { data: { id: number } };
  await waitFor(() => h.hub.notifier.get(data.id)?.status === 'sent', 5000, 'the API notification sent');
  const list = (await (await fetch(`${api}/api/notifications?limit=3`)).json()) as {
    data: { id: number; source: string }[];
  };
  assert.equal(list.data[0]!.id, data.id);
  assert.equal(list.data[0]!.source, 'api local');
  const bad = await fetch(`${api}/api/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'nobody', message: 'x' }),
  });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /UNKNOWN_TARGET/);
});

test('an automation notify step: message and title rendered from the trigger, the automation as its source; an unknown target is a located error at load', async () => {
  const err = await h.hub.automations.put({
    id: 'freezer_alert',
    triggers: [{ type: 'mqtt', topic: 'home/freezer' }],
    actions: [
      { type: 'notify', target: 'nodered', title: 'Freezer', message: 'at {{ trigger.json.t }} °C', priority: 'high' },
    ],
  });
  assert.equal(err, undefined);
  const c = await connect(h.url);
  await c.publishAsync('home/freezer', JSON.stringify({ t: -9 }), { qos: 1 });
  await waitFor(() => svc.received.some((r) => r.body.message === 'at -9 °C'), 10000, 'the automation notification');
  const got = svc.received.find((r) => r.body.message === 'at -9 °C')!;
  assert.equal(got.body.title, 'Freezer');
  assert.equal(got.body.priority, 'high');
  assert.match(String(got.body.source), /^automation .*freezer_alert/);
  const bad = await h.hub.automations.put({
    id: 'typo',
    triggers: [{ type: 'mqtt', topic: 'x/y' }],
    actions: [{ type: 'notify', target: 'familly', message: 'hi' }],
  });
  assert.match(
    String(bad),
    /automations\.yaml:\d+:\d+: typo\.actions\[0\]\.target: no notification target "familly" \(did you mean "family"\?\); notify\.targets has: phone, family/,
  );
  c.end();
});
