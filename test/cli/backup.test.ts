// Backups: `smart-home backup FILE` of a hub under load (the database by SQLite's online backup)
// restores with `smart-home restore FILE` into a hub that has every script, entity, history row
// and retained message from before the backup began; a restore checks the archive whole first,
// refuses a data dir a running hub uses, and moves what was there aside. Scheduled backups keep
// the newest `keep` (a fake clock moves the days).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as tar from 'tar';
import { createLogger } from '../../src/log.js';
import { collect, connect, fakeClock, removeDir, runCli, serve, startHub, tempDir, waitFor } from '../helpers.js';

const CONFIG = `broker:
  listeners: [{type: tcp, host: 127.0.0.1, port: 0}]
  mdns: false
http: {enabled: false}
entities:
  - id: sensor.counter
    name: Counter
notify:
  targets:
    family: {type: telegram, token: !secret tg_token, chat_id: 1}
`;
const SCRIPT = `// counts the load: every message becomes a state of sensor.counter (a history row each)
Mqtt.subscribe('test/load', (m) => Entity.setState('sensor.counter', Number(m.payload)));
`;

function prepare(dir: string): void {
  mkdirSync(path.join(dir, 'scripts', 'lib'), { recursive: true });
  writeFileSync(path.join(dir, 'smart-home.yaml'), CONFIG);
  writeFileSync(path.join(dir, 'secrets.yaml'), 'tg_token: "123:abc"\n');
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    '- id: noop\n  triggers: [{type: mqtt, topic: test/noop}]\n  actions: [{type: publish, topic: test/noop/done}]\n',
  );
  writeFileSync(path.join(dir, 'scripts', 'counter.js'), SCRIPT);
  writeFileSync(path.join(dir, 'scripts', 'lib', 'helper.js'), '// a module\n');
}

const historyRows = (dir: string) => {
  const db = new Database(path.join(dir, 'smart-home.db'), { readonly: true });
  try {
    return (
      db.prepare("SELECT count(*) AS n FROM entity_history WHERE entity_id = 'sensor.counter'").get() as { n: number }
    ).n;
  } finally {
    db.close();
  }
};

test('a backup of a hub under load restores to a hub with every script, entity, history row and retained message', async () => {
  const dir = tempDir();
  const dir2 = tempDir();
  prepare(dir);
  const child = await serve(['--data', dir]);
  let load = true;
  try {
    const c = await connect(child.url);
    for (let i = 0; i < 50; i++) await c.publishAsync(`test/keep/${i}`, `kept ${i}`, { qos: 1, retain: true });
    for (let i = 1; i <= 200; i++) await c.publishAsync('test/load', String(i), { qos: 1 });
    await waitFor(() => historyRows(dir) >= 200, 10000, '200 history rows');
    const before = historyRows(dir);
    // the load goes on while the backup is taken
    let n = 1000;
    const loading = (async () => {
      while (load) await c.publishAsync('test/load', String(n++), { qos: 1 });
    })();
    const archive = path.join(dir2, 'backup.tar.gz');
    const r = await runCli(['backup', archive, '--data', dir]);
    load = false;
    await loading;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^backed up .* to .*backup\\.tar\\.gz: 6 files, [\\d,]+ KiB\\n$`));
    assert.ok(n > 1000, 'messages were flowing during the backup');
    c.end();
    child.child.kill('SIGTERM');
    await child.exited;

    const target = path.join(dir2, 'data');
    const rr = await runCli(['restore', archive, '--data', target]);
    assert.equal(rr.code, 0, rr.stderr);
    assert.match(rr.stdout, /^restored 6 files of the backup made \d{4}-\d\d-\d\dT[\d:.]+Z into .*data\n$/);
    assert.equal(readFileSync(path.join(target, 'secrets.yaml'), 'utf8'), 'tg_token: "123:abc"\n');
    assert.ok(existsSync(path.join(target, 'scripts', 'lib', 'helper.js')));
    assert.ok(historyRows(target) >= before, `${historyRows(target)} rows restored, ${before} before the backup`);
    const h = await startHub({ entities: [{ id: 'sensor.counter', name: 'Counter' }] }, target);
    try {
      assert.ok(h.hub.scripts.list().some((s) => s.name === 'counter.js'));
      assert.ok(h.hub.automations.list().some((a) => a.id === 'noop'));
      assert.ok(typeof h.hub.registry.get('sensor.counter')?.state === 'number');
      const c2 = await connect(h.url);
      const got = collect(c2);
      await c2.subscribeAsync('test/keep/#', { qos: 1 });
      await got.next(50);
      assert.equal(new Set(got.messages.map((m) => m.topic)).size, 50);
      c2.end();
    } finally {
      await h.stop();
    }
  } finally {
    load = false;
    child.child.kill('SIGKILL');
    removeDir(dir);
    removeDir(dir2);
  }
});

test('restore checks first: a truncated archive or one a byte changed in is refused and nothing changes; a running hub is refused; what was there is moved aside', async () => {
  const dir = tempDir();
  const work = tempDir();
  prepare(dir);
  try {
    const archive = path.join(work, 'b.tar.gz');
    const none = await runCli(['backup', archive, '--data', dir]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no database in .* \(smart-home\.db\); is --data right\?/);
    assert.ok(!existsSync(archive) && !existsSync(`${archive}.partial`), 'no half archive');
    await (await startHub({}, dir)).stop(); // now it has one
    assert.equal((await runCli(['backup', archive, '--data', dir])).code, 0);
    const target = path.join(work, 'data');
    mkdirSync(target);
    writeFileSync(path.join(target, 'smart-home.yaml'), '# mine\n');
    const truncated = path.join(work, 'truncated.tar.gz');
    writeFileSync(truncated, readFileSync(archive));
    truncateSync(truncated, Math.floor(statSync(archive).size / 2));
    const t = await runCli(['restore', truncated, '--data', target]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /truncated\.tar\.gz: is not a whole backup archive .*; nothing was restored/);
    assert.deepEqual(readdirSync(target), ['smart-home.yaml']);
    // a script changed inside the archive (repacked with the same manifest): its checksum differs
    const unpacked = path.join(work, 'unpacked');
    mkdirSync(unpacked);
    await tar.x({ file: archive, cwd: unpacked });
    writeFileSync(path.join(unpacked, 'scripts', 'counter.js'), `${SCRIPT}// changed\n`);
    const tampered = path.join(work, 'tampered.tar.gz');
    await tar.c({ gzip: true, file: tampered, cwd: unpacked }, readdirSync(unpacked));
    const c = await runCli(['restore', tampered, '--data', target]);
    assert.equal(c.code, 1);
    assert.match(
      c.stderr,
      /tampered\.tar\.gz: scripts\/counter\.js is not the file that was backed up \(its checksum differs\); nothing was restored/,
    );
    assert.deepEqual(readdirSync(target), ['smart-home.yaml']);
    // a running hub on the target: refused, its files untouched
    const child = await serve(['--data', dir]);
    try {
      const busy = await runCli(['restore', archive, '--data', dir]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /a hub is running on .*: stop it first .*; nothing was restored/);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
    const ok = await runCli(['restore', archive, '--data', target]);
    assert.equal(ok.code, 0, ok.stderr);
    const aside = readdirSync(target).find((f) => f.startsWith('before-restore-'))!;
    assert.equal(
      readFileSync(path.join(target, aside, 'smart-home.yaml'), 'utf8'),
      '# mine\n',
      'the old config kept aside',
    );
    assert.equal(readFileSync(path.join(target, 'smart-home.yaml'), 'utf8'), CONFIG);
  } finally {
    removeDir(dir);
    removeDir(work);
  }
});

test('scheduled backups: one at start, one each `every`, the newest `keep` kept', async () => {
  const dir = tempDir();
  const clock = fakeClock(Date.parse('2026-12-02T03:00:00Z'));
  const h = await startHub({ backup: { every: '1d', keep: 2 } }, dir, createLogger('silent'), { clock });
  try {
    const backups = path.join(dir, 'backups');
    await waitFor(() => h.hub.backups?.made === 1, 10000, 'the first backup');
    for (const made of [2, 3]) {
      clock.advance(86_400_000);
      await waitFor(() => h.hub.backups?.made === made, 10000, `backup ${made}`);
    }
    assert.deepEqual(readdirSync(backups), ['smart-home-20261203-030000.tar.gz', 'smart-home-20261204-030000.tar.gz']);
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
