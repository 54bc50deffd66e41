// The run trace keeps the newest runs per automation; a flood writes only those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/db.js';
import { RunTrace } from '../../src/automations/trace.js';
import { removeDir, tempDir } from '../helpers.js';

test('a flush keeps the newest runs of each automation, in order, and writes no more rows than it keeps', () => {
  const dir = tempDir();
  const db = openStore(dir);
  const trace = new RunTrace(db, 3, 60_000);
  const trigger = { type: 'mqtt', time: 0, description: 'test' } as never;
  for (let i = 0; i < 10; i++) trace.finish(trace.begin('a', trigger), 'ok', []);
  for (let i = 0; i < 2; i++) trace.finish(trace.begin('b', trigger), 'ok', []);
  const changes = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const before = changes();
  trace.flush();
  assert.equal(changes() - before, 5, 'five rows written, none written only to be trimmed');
  const a = trace.runs('a', 10).map((r) => r.id);
  assert.deepEqual(a, [10, 9, 8], 'the three newest of a, newest first');
  assert.deepEqual(
    trace.runs('b', 10).map((r) => r.id),
    [12, 11],
  );
  const rows = (db.prepare('SELECT count(*) AS n FROM automation_runs').get() as { n: number }).n;
  assert.equal(rows, 5);
  for (let i = 0; i < 2; i++) trace.finish(trace.begin('a', trigger), 'ok', []);
  trace.flush();
  assert.deepEqual(
    trace.runs('a', 10).map((r) => r.id),
    [14, 13, 10],
    'older stored runs are trimmed as new ones arrive',
  );
  db.close();
  removeDir(dir);
});
