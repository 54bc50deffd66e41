// The sun over the home (astronomy-engine): its times against published tables (Berlin's sunrise and sunset on the
// 1st of three months, from whattime.city/berlin/sun, within 3 minutes as published times are
// rounded and differ by source), polar night and midnight sun at Tromsø (69.65° N: no sunrise
// from about 26 November to 15 January, no sunset from about 18 May to 26 July, per its
// almanac), and the spring daylight saving change. Then the sun.sun entity, a sun trigger and a
// sun condition in a hub whose automations wait on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Sun } from '../../src/sun/sun.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { collect, connect, fakeClock, removeDir, startHub, tempDir, waitFor } from '../helpers.js';

const BERLIN = new Sun(52.52, 13.405, 0, 'Europe/Berlin');
const TROMSO = new Sun(69.6496, 18.956, 0, 'Europe/Oslo');
const MIN = 60_000;

/** The clock time (HH:MM) of an instant in a time zone. */
const local = (t: number, tz: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit' }).format(new Date(t));
const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));

test("Berlin's sunrise and sunset on the 1st of January, June and December match the published table", () => {
  const table: [string, string, string][] = [
    ['2026-01-01T00:00:00+01:00', '08:18', '16:03'],
    ['2026-06-01T00:00:00+02:00', '04:51', '21:20'],
    ['2026-12-01T00:00:00+01:00', '07:55', '15:58'],
  ];
  for (const [midnight, rise, set] of table) {
    const t = Date.parse(midnight);
    const r = BERLIN.next('sunrise', t)!;
    const s = BERLIN.next('sunset', t)!;
    assert.ok(r - t < 86_400_000 && s - t < 86_400_000, `${midnight}: the same day`);
    assert.ok(
      Math.abs(minutes(local(r, 'Europe/Berlin')) - minutes(rise)) <= 3,
      `${midnight} sunrise ${local(r, 'Europe/Berlin')} vs ${rise}`,
    );
    assert.ok(
      Math.abs(minutes(local(s, 'Europe/Berlin')) - minutes(set)) <= 3,
      `${midnight} sunset ${local(s, 'Europe/Berlin')} vs ${set}`,
    );
  }
});

test('polar night and midnight sun at Tromsø: no sunrise (or sunset) for weeks is an answer, not an error', () => {
  const midwinter = Date.parse('2026-12-21T12:00:00+01:00');
  const winter = TROMSO.state(midwinter);
  assert.equal(winter.state, 'below_horizon');
  const rises = Date.parse(winter.attributes.next_rising as string);
  // the sun comes back in mid-January
  assert.ok(
    rises > Date.parse('2027-01-10T00:00:00Z') && rises < Date.parse('2027-01-20T00:00:00Z'),
    new Date(rises).toISOString(),
  );
  // civil dawn still comes each day (the blue hours)
  assert.ok(Date.parse(winter.attributes.next_dawn as string) - midwinter < 86_400_000);
  const midnightSun = Date.parse('2026-06-21T00:30:00+02:00');
  const summer = TROMSO.state(midnightSun);
  assert.equal(summer.state, 'above_horizon', 'at half past midnight');
  const sets = Date.parse(summer.attributes.next_setting as string);
  assert.ok(
    sets > Date.parse('2026-07-20T00:00:00Z') && sets < Date.parse('2026-07-30T00:00:00Z'),
    new Date(sets).toISOString(),
  );
  // at the pole in its night, dawn does not come for weeks either: null is not an error
  const pole = new Sun(89.9, 0).state(Date.parse('2026-12-21T12:00:00Z'));
  assert.equal(pole.state, 'below_horizon');
  assert.ok(
    pole.attributes.next_rising === null ||
      Date.parse(pole.attributes.next_rising as string) > Date.parse('2027-03-01T00:00:00Z'),
  );
});

test('across the spring daylight saving change the sun rises at the same instant, an hour later on the clock', () => {
  const before = BERLIN.next('sunrise', Date.parse('2026-03-28T00:00:00+01:00'))!;
  const after = BERLIN.next('sunrise', before + MIN)!;
  const shift = minutes(local(after, 'Europe/Berlin')) - minutes(local(before, 'Europe/Berlin'));
  assert.ok(shift >= 55 && shift <= 60, `the clock moved ${shift} min`);
  const day = (after - before) / MIN;
  assert.ok(day > 24 * 60 - 5 && day < 24 * 60, `${day} min between the two sunrises`);
});

test('a latitude of 123 is an error at its line; a sun trigger without home: says what to add', async () => {
  const dir = tempDir();
  try {
    writeFileSync(path.join(dir, 'smart-home.yaml'), 'home:\n  latitude: 123\n  longitude: 13.4\n');
    try {
      loadConfig({ config: path.join(dir, 'smart-home.yaml') }, {});
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /smart-home\.yaml:2:\d+: home\.latitude: must be between -90 and 90/);
    }
    const h = await startHub({}, dir);
    try {
      const err = await h.hub.automations.reload(
        '- id: dusk\n  triggers:\n    - type: sun\n      event: sunset\n  actions: [{type: publish, topic: x}]\n',
      );
      assert.match(
        err ?? '',
        /automations\.yaml:3:\d+: dusk\.triggers\[0\] \(sun\): needs to know where the home is: add home: \{latitude, longitude\}/,
      );
    } finally {
      await h.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('sun.sun, a sun trigger half an hour before sunset and a night-time sun condition, on a fake clock', async () => {
  const dir = tempDir();
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    `- id: evening_lights
  triggers:
    - type: sun
      event: sunset
      offset: -30m
  actions:
    - type: publish
      topic: test/sun/evening
      payload: "{{ trigger.description }}"
- id: night_only
  triggers:
    - type: mqtt
      topic: test/sun/motion
  conditions:
    - type: sun
      after: sunset
      before: sunrise
  actions:
    - type: publish
      topic: test/sun/night
      payload: "dim"
`,
  );
  // 2 December 2026, noon in Berlin; sunset is about 15:55
  const noon = Date.parse('2026-12-02T12:00:00+01:00');
  const sunset = BERLIN.next('sunset', noon)!;
  const clock = fakeClock(noon);
  const h = await startHub(
    { home: { latitude: 52.52, longitude: 13.405, timezone: 'Europe/Berlin' } },
    dir,
    createLogger('silent'),
    { clock },
  );
  try {
    const sunEntity = h.hub.registry.get('sun.sun')!;
    assert.equal(sunEntity.domain, 'sun');
    assert.ok(['above_horizon', 'below_horizon'].includes(sunEntity.state as string));
    assert.equal(typeof sunEntity.attributes.elevation, 'number');
    // on the hub's clock (the fake one), not the machine's: today's sunset, 15:5x in Berlin
    assert.match(sunEntity.attributes.next_setting as string, /^2026-12-02T14:5/);
    const c = await connect(h.url);
    const got = collect(c);
    await c.subscribeAsync('test/sun/+', { qos: 1 });
    // midday: the condition is false, and says why
    await c.publishAsync('test/sun/motion', '1', { qos: 1 });
    await waitFor(() => h.hub.automations.runs('night_only', 1)[0]?.status === 'skipped', 5000, 'skipped at noon');
    assert.match(
      h.hub.automations.runs('night_only', 1)[0]!.steps[0]!.detail!,
      /^sunset was .*; sunrise comes .*\(now 12:00\)$/,
    );
    clock.advance(sunset - 30 * MIN - noon - 1000);
    assert.equal(h.hub.automations.runs('evening_lights', 1).length, 0, 'not before sunset -30 min');
    clock.advance(2000);
    await waitFor(() => got.messages.some((m) => m.topic === 'test/sun/evening'), 5000, 'the evening lights');
    assert.match(
      got.messages.find((m) => m.topic === 'test/sun/evening')!.payload.toString(),
      /^sunset -30 min \(2026-12-02T1/,
    );
    // after sunset: night
    clock.advance(4 * 3600_000);
    await c.publishAsync('test/sun/motion', '2', { qos: 1 });
    await waitFor(() => got.messages.some((m) => m.topic === 'test/sun/night'), 5000, 'dimmed at night');
    // the next day's sunset -30 min fires once more, a day later
    clock.advance(24 * 3600_000);
    await waitFor(
      () => got.messages.filter((m) => m.topic === 'test/sun/evening').length === 2,
      5000,
      'the next evening',
    );
    c.end();
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
