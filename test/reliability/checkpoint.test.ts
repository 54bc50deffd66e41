// The WAL is checkpointed by a thread of its own, not inside the event loop's commits (issue 22),
// and if that thread is lost SQLite's automatic checkpoint comes back, so the WAL stays bounded.
// By default (auto) the thread starts once the hub writes in earnest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { capturingLogger, connect, removeDir, startHub, tempDir, waitFor } from '../helpers.js';

const walBytes = (dir: string) => statSync(path.join(dir, 'smart-home.db-wal')).size;

test('the hub checkpoints its WAL on another thread: commits do not, and everything written is in the main file after a checkpoint', async () => {
  const dir = tempDir();
  const h = await startHub({ store: { checkpoint_thread: true } }, dir);
  try {
    assert.equal(h.hub.db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint inside a commit');
    assert.ok(h.hub.checkpointer.running);
    const c = await connect(h.url);
    // 3 000 retained messages of 1 KiB: about 3 MB of rows, well past SQLite's own 1 000-page trigger
    const payload = Buffer.alloc(1024, 'r');
    for (let i = 0; i < 3000; i++) await c.publishAsync(`ckpt/${i}`, payload, { qos: 1, retain: true });
    await c.endAsync();
    const before = h.hub.checkpointer.checkpoints;
    // a checkpoint after the writes that copied every frame of the WAL into the main file
    await waitFor(
      () =>
        h.hub.checkpointer.checkpoints > before &&
        h.hub.checkpointer.last!.log > 0 &&
        h.hub.checkpointer.last!.checkpointed === h.hub.checkpointer.last!.log,
      10_000,
      'a full checkpoint by the thread',
    );
    // the thread stopped (so no checkpoint is half-way through the copy), the main file alone (a copy
    // of it, without the WAL) has the rows: the thread moved them there, nothing else checkpointed
    await h.hub.checkpointer.stop();
    assert.equal(h.hub.db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'stopped: SQLite checkpoints again');
    const alone = path.join(tempDir(), 'main-only.db');
    copyFileSync(path.join(dir, 'smart-home.db'), alone);
    const copy = new Database(alone, { readonly: true });
    try {
      const n = copy.prepare("SELECT count(*) AS n FROM broker_retained WHERE topic LIKE 'ckpt/%'").get() as {
        n: number;
      };
      assert.equal(n.n, 3000);
    } finally {
      copy.close();
      removeDir(path.dirname(alone));
    }
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('if the checkpoint thread dies, SQLite checkpoints on commit again (the WAL stays bounded) and the log says so', async () => {
  const dir = tempDir();
  const { log, lines } = capturingLogger('warn');
  const h = await startHub({ store: { checkpoint_thread: true } }, dir, log);
  try {
    await h.hub.checkpointer.crashForTest();
    await waitFor(() => !h.hub.checkpointer.running, 5000, 'the thread gone');
    assert.equal(h.hub.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    assert.ok(
      lines.some((l) => /WAL checkpoint thread .*automatic checkpoint is back on/.test(String(l.msg))),
      JSON.stringify(lines),
    );
    const c = await connect(h.url);
    const payload = Buffer.alloc(1024, 'w');
    for (let i = 0; i < 6000; i++) await c.publishAsync(`wal/${i}`, payload, { qos: 1, retain: true });
    await c.endAsync();
    // ~6 MB written; SQLite's checkpoint resets the WAL after 1 000 pages (4 MB), so it never holds it all
    assert.ok(walBytes(dir) < 5.5 * 1024 * 1024, `WAL of ${walBytes(dir)} bytes`);
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('store.checkpoint_thread: false leaves checkpoints to SQLite (inside commits), with no thread', async () => {
  const h = await startHub({ store: { checkpoint_thread: false } });
  try {
    assert.equal(h.hub.checkpointer.running, false);
    assert.equal(h.hub.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  } finally {
    await h.stop();
  }
});

test('checkpoint_thread: auto (the default) has no thread while the hub is quiet, and starts it in the first busy second', async () => {
  const h = await startHub({});
  try {
    assert.equal(h.hub.checkpointer.running, false, 'a quiet hub: no thread');
    assert.equal(h.hub.db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'SQLite checkpoints meanwhile');
    // the samples are this test's own (a timer that never comes), so none falls between the writes
    await h.hub.checkpointer.stop();
    h.hub.checkpointer.startWhenBusy(3_600_000);
    const c = await connect(h.url);
    for (let i = 0; i < 10; i++) await c.publishAsync(`quiet/${i}`, 'x', { qos: 1, retain: true });
    h.hub.checkpointer.sample();
    assert.equal(h.hub.checkpointer.running, false, 'ten retained messages are no load');
    for (let i = 0; i < 600; i++) await c.publishAsync(`busy/${i}`, 'x', { qos: 1, retain: true });
    await c.endAsync();
    h.hub.checkpointer.sample();
    assert.equal(h.hub.checkpointer.running, true, '600 rows in a sample start the thread');
    assert.equal(h.hub.db.pragma('wal_autocheckpoint', { simple: true }), 0);
  } finally {
    await h.stop();
  }
});
