// Named timers for scripts (Timer.at/in/cancel/list/on): kept in SQLite, so one set before a
// restart fires after it (late, saying how late), in order, once; what a script passes is checked
// on the host. Time is a fake clock the test moves (test/helpers.ts fakeClock).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../src/log.js';
import { collect, connect, fakeClock, removeDir, startHub, tempDir, waitFor, type FakeClock } from '../helpers.js';

const PORCH = `// data/scripts/porch.js
Timer.on((t) => {
  if (t.name === 'broken') throw new Error('the handler failed on ' + t.name);
  console.log('fired', t.name, t.late_ms);
  Mqtt.publish('test/timer/' + t.name, JSON.stringify(t), 1, true);
});
if (!Timer.list().some((t) => t.name === 'porch_off')) {
  Timer.in('porch_off', '10m', { light: 'porch' });
  Timer.in('broken', '11m');
  Timer.at('later', Date.parse('2026-12-02T18:30:00Z'), 2);
  Timer.in('moved', '1m');
  Timer.in('moved', '12m', 'moved');
  Timer.in('cancelled', '1m');
  Timer.cancel('cancelled');
}
`;

const start = (dir: string, clock: FakeClock) => startHub({}, dir, createLogger('silent'), { clock });

test('a timer set before a restart fires after it, late by the downtime, in order, once; a throwing handler does not stop the next', async () => {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'scripts'));
  writeFileSync(path.join(dir, 'scripts', 'porch.js'), PORCH);
  const t0 = Date.parse('2026-12-02T18:00:00Z');
  let clock = fakeClock(t0);
  let h = await start(dir, clock);
  try {
    await waitFor(() => h.hub.scripts.list().some((s) => s.name === 'porch.js'), 10000, 'porch.js running');
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/timer/+', { qos: 1 });
    clock.advance(9 * 60_000);
    assert.equal(got.messages.length, 0);
    c.end();
    await h.stop();
    // down from 18:09 to 18:15: porch_off (18:10) is due, broken (18:11) and moved (18:12) too
    clock = fakeClock(t0 + 15 * 60_000);
    h = await start(dir, clock);
    const logOf = () => (h.hub.scripts.get('porch.js')?.logs ?? []).map((l) => l.message);
    await waitFor(() => logOf().filter((l) => l.startsWith('fired')).length === 2, 10000, 'two timers fired');
    const c2 = await connect(h.url);
    const got2 = collect(c2);
    await c2.subscribeAsync('test/timer/+', { qos: 1 });
    await got2.next(2);
    const fired = got2.messages.map(
      (m) => JSON.parse(m.payload.toString()) as { name: string; late_ms: number; data: unknown },
    );
    assert.deepEqual(fired.find((t) => t.name === 'porch_off')?.data, { light: 'porch' });
    const log = logOf();
    // in the order they were due; broken (18:11) failed between them, at its line
    assert.deepEqual(
      log.filter((l) => l.startsWith('fired')),
      [`fired porch_off ${5 * 60_000}`, `fired moved ${3 * 60_000}`],
    );
    assert.ok(
      log.some((l) => /porch\.js:3:\d+: Error: the handler failed on broken/.test(l)),
      log.join('\n'),
    );
    // later (18:30) is still to come, and comes once
    clock.advance(15 * 60_000);
    await got2.next(3);
    assert.equal(JSON.parse(got2.messages[2]!.payload.toString()).name, 'later');
    assert.equal(logOf().filter((l) => l.startsWith('fired')).length, 3);
    c2.end();
    await h.stop();
    h = await start(dir, clock);
    await waitFor(() => h.hub.scripts.list().some((s) => s.name === 'porch.js'), 10000, 'porch.js again');
    const left = await h.hub.scripts.load(
      path.join(dir, 'scripts', 'probe.js'),
      {},
      'console.log(JSON.stringify(Timer.list()))',
    );
    await waitFor(() => left.logs.length > 0, 5000, 'the list');
    assert.equal(left.logs[0]!.message, '[]');
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('what a script passes to Timer is checked on the host, each error at its line', async () => {
  const dir = tempDir();
  const h = await start(dir, fakeClock(Date.parse('2026-12-02T18:00:00Z')));
  try {
    const tries: [string, RegExp][] = [
      ["Timer.in('x', 'soon')", /Timer\.in: the delay must be milliseconds .* or a duration like "10m"/],
      ["Timer.at('x', 'tomorrow')", /Timer\.at: when must be a Date, an ISO time/],
      ["Timer.in('', 1000)", /Timer\.in: the name must be a string of 1 to 200 characters/],
      ["Timer.in('x', 1000, 'y'.repeat(300 * 1024))", /Timer\.in: the data of x is over \d+ KiB/],
      ["Timer.at('x', Date.parse('2040-01-01T00:00:00Z'))", /Timer\.at: x is more than ten years ahead/],
      ['Timer.on(42)', /Timer\.on: expects a function/],
    ];
    for (const [code, want] of tries) {
      const s = await h.hub.scripts.load(path.join(dir, 'bad.js'), {}, `\n${code};`);
      await waitFor(() => s.logs.length > 0, 5000, code);
      assert.match(s.logs.map((l) => l.message).join('\n'), want, code);
      assert.match(s.logs.map((l) => l.message).join('\n'), /bad\.js:2:\d+/, `${code}: at its line`);
    }
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
