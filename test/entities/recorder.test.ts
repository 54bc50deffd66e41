// The recorder: raw states and exact 5-minute / hourly buckets in a real SQLite file, retention
// that deletes what it should and nothing else, include/exclude, the history API and
// Entity.history in scripts, history kept across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/db.js';
import { FIVE_MINUTES, HOUR, Recorder, type HistoryPoint } from '../../src/entities/recorder.js';
import { removeDir, startHub, tempDir, waitFor } from '../helpers.js';

const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0); // on a bucket boundary
const options = { keepDays: 10, keepStatisticsDays: 730, include: [], exclude: [], maxPoints: 1000 };

type Bucket = Extract<HistoryPoint, { min: number }>;

test('downsampling is exact: min, max, mean, last and count of a known series, across turns and buckets', () => {
  const dir = tempDir();
  const db = openStore(dir);
  const now = T0 + 2 * HOUR;
  const r = new Recorder(db, options, () => now);
  // 5-minute bucket 10:00: 1, 5, 3 (two of them written in one turn, the third in the next); 10:05: 10; 11:00: -2
  r.record('sensor.t', 1, {}, T0 + 1000);
  r.record('sensor.t', 5, {}, T0 + 60_000);
  r.flush();
  r.record('sensor.t', 3, {}, T0 + FIVE_MINUTES - 1);
  r.record('sensor.t', 10, {}, T0 + FIVE_MINUTES);
  r.record('sensor.t', 'unavailable', {}, T0 + FIVE_MINUTES + 1); // text: recorded, not bucketed
  r.record('sensor.t', -2, {}, T0 + HOUR + 5);
  const five = r.history('sensor.t', { since: T0, until: T0 + 2 * HOUR, resolution: '5m' }).points as Bucket[];
  assert.deepEqual(
    five.map((b) => [b.t - T0, b.min, b.max, b.mean, b.last, b.count]),
    [
      [0, 1, 5, 3, 3, 3],
      [FIVE_MINUTES, 10, 10, 10, 10, 1],
      [HOUR, -2, -2, -2, -2, 1],
    ],
  );
  const hourly = r.history('sensor.t', { since: T0, until: T0 + 2 * HOUR, resolution: '1h' }).points as Bucket[];
  assert.deepEqual(
    hourly.map((b) => [b.t - T0, b.min, b.max, b.mean, b.last, b.count]),
    [
      [0, 1, 10, 19 / 4, 10, 4],
      [HOUR, -2, -2, -2, -2, 1],
    ],
  );
  const raw = r.history('sensor.t', { since: T0, until: T0 + 2 * HOUR, resolution: 'raw' }).points;
  assert.deepEqual(
    raw.map((p) => ('state' in p ? p.state : undefined)),
    [1, 5, 3, 10, 'unavailable', -2],
  );
  assert.equal(
    r.history('sensor.t', { since: T0, until: T0 + 2 * HOUR }).resolution,
    'raw',
    'auto: a short span reads rows',
  );
  assert.equal(r.history('sensor.t', { since: T0 - 20 * DAY, until: T0 }).resolution, '5m');
  assert.equal(r.history('sensor.t', { since: T0 - 300 * DAY, until: T0 }).resolution, '1h');
  // more rows than max_points in a short span: auto reads the buckets instead of the first rows
  const few = new Recorder(db, { ...options, maxPoints: 3 }, () => now);
  assert.equal(few.history('sensor.t', { since: T0, until: T0 + 2 * HOUR }).resolution, '5m');
  assert.equal(few.history('sensor.t', { since: T0, until: T0 + 2 * HOUR, resolution: 'raw' }).truncated, true);
  db.close();
  removeDir(dir);
});

test('retention deletes raw rows older than keep_days and buckets older than keep_statistics_days, nothing else', () => {
  const dir = tempDir();
  const db = openStore(dir);
  const now = T0 + 1000 * DAY;
  const r = new Recorder(db, options, () => now);
  for (const [id, age] of [
    ['sensor.a', 11 * DAY], // raw row gone, its buckets kept
    ['sensor.a', 9 * DAY], // kept
    ['sensor.b', 800 * DAY], // raw and buckets gone
    ['sensor.b', 700 * DAY], // raw gone, buckets kept
  ] as const)
    r.record(id, 1, {}, now - age);
  const dropped = r.retain(now);
  assert.deepEqual(dropped, { rows: 3, buckets: 2 }, 'the 800-day-old 5-minute and hourly buckets');
  const all = { since: 0, until: now };
  assert.equal(r.history('sensor.a', { ...all, resolution: 'raw' }).points.length, 1);
  assert.equal(r.history('sensor.a', { ...all, resolution: '1h' }).points.length, 2);
  assert.equal(r.history('sensor.b', { ...all, resolution: 'raw' }).points.length, 0);
  assert.deepEqual(
    r.history('sensor.b', { ...all, resolution: '1h' }).points.map((p) => now - p.t > 700 * DAY),
    [false],
  );
  db.close();
  removeDir(dir);
});

test('include and exclude patterns decide what is recorded', () => {
  const dir = tempDir();
  const db = openStore(dir);
  const r = new Recorder(db, { ...options, include: ['sensor.*'], exclude: ['*_linkquality'] });
  assert.deepEqual(
    ['sensor.power', 'sensor.plug_linkquality', 'light.hall'].map((id) => r.records(id)),
    [true, false, false],
  );
  db.close();
  removeDir(dir);
});

test('the history API, Entity.history in a script, and a restart keeps the history', async () => {
  let h = await startHub({ http: { enabled: true, port: 0 }, entities: [{ id: 'sensor.power', type: 'sensor' }] });
  const get = async (path: string) => {
    const r = await fetch(`${h.hub.api!.url}${path}`);
    return {
      status: r.status,
      body: (await r.json()) as { data: { resolution: string; points: HistoryPoint[] }; error?: { message: string } },
    };
  };
  for (const v of [10, 20, 30]) h.hub.registry.setState('sensor.power', v, { unit_of_measurement: 'W' });
  const raw = await get('/api/entities/sensor.power/history');
  assert.deepEqual(
    raw.body.data.points.map((p) => ('state' in p ? p.state : null)),
    [10, 20, 30],
  );
  const buckets = await get('/api/entities/sensor.power/history?resolution=1h');
  assert.equal(buckets.body.data.resolution, '1h');
  const [b] = buckets.body.data.points as Bucket[];
  assert.deepEqual([b!.min, b!.max, b!.mean, b!.last, b!.count], [10, 30, 20, 30, 3]);
  const bad = await get('/api/entities/sensor.power/history?since=yesterday');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error!.message, /since must be an ISO time or milliseconds, got "yesterday"/);
  const usage = (await (await fetch(`${h.hub.api!.url}/api/recorder`)).json()) as {
    data: { bytes: number; rows: Record<string, number>; freeBytes: number };
  };
  assert.equal(usage.data.rows['sensor.power'], 3);
  assert.ok(usage.data.bytes > 0 && usage.data.freeBytes > 0);

  const s = await h.hub.scripts.load(
    '/scripts/hist.js',
    {},
    `Entity.history('sensor.power', { since: new Date(Date.now() - 3600e3) }).then((h) => console.log(h.resolution + ' ' + h.points.map((p) => p.state).join(',')));`,
  );
  await waitFor(() => s.logs.length > 0, 5000, 'the script’s history');
  assert.equal(s.logs[0]!.message, 'raw 10,20,30');

  await h.stop();
  h = await startHub({ http: { enabled: true, port: 0 }, entities: [{ id: 'sensor.power', type: 'sensor' }] }, h.dir);
  assert.equal((await get('/api/entities/sensor.power/history')).body.data.points.length, 3, 'kept across the restart');
  await h.stop();
  removeDir(h.dir);
});
