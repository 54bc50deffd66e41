// The web UI in real Chromium (Debian's package, driven by playwright-core): log in, write and
// run the seed's example, see its retained message in the explorer with script and line, see an
// error at its line, press an entity's action button. Screenshots go to test-output/.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startHub, connect, collect, tempDir, type TestHub } from '../helpers.js';
import { IKEA_BULB, INNR_PLUG, device as device0x } from '../fixtures/zigbee2mqtt.js';
import { FakeZigbee2Mqtt } from '../fixtures/fake-zigbee2mqtt.js';
import { startFakeServices, type FakeServices } from '../fixtures/notify-servers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../../test-output/', import.meta.url));
const fixture = (f: string) =>
  readFileSync(fileURLToPath(new URL(`../../../test/fixtures/${f}`, import.meta.url)), 'utf8');

let t: TestHub;
let svc: FakeServices;
let browser: Browser;
let page: Page;

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium is needed at ${CHROMIUM} (apt-get install chromium; scripts/test.sh does it) or set CHROMIUM_PATH`,
  );
  mkdirSync(OUT, { recursive: true });
  const dir = tempDir();
  mkdirSync(path.join(dir, 'scripts'));
  // the seed's CoffeeScript example, with its missing paren fixed, as the light's action script
  writeFileSync(
    path.join(dir, 'scripts', 'light-action.coffee'),
    fixture('seed-example.coffee').replace('Mqtt.publish"', 'Mqtt.publish("'),
  );
  svc = await startFakeServices();
  // e154's declarations: named states and a metric (test/fixtures/e154/boiler.coffee), a scene
  for (const f of ['boiler.coffee', 'scene-romantic.js'])
    writeFileSync(path.join(dir, 'scripts', f), fixture(`e154/${f}`));
  t = await startHub(
    {
      http: { enabled: true, port: 0 },
      notify: {
        retry_base_s: 0.05,
        targets: {
          phone: { type: 'ntfy', url: `${svc.base}/ntfy`, topic: 'home-alerts' },
          family: { type: 'telegram', token: '999:wrong', chat_id: 1, api_url: `${svc.base}/telegram` },
        },
      },
      entities: [
        {
          id: 'sensor.boiler',
          name: 'Boiler',
          script: 'boiler.coffee',
          actions: ['HEAT', 'IDLE'],
          states: [
            { name: 'heating', description: 'Heating', icon: 'mdi:fire' },
            { name: 'idle', description: 'Idle' },
          ],
          attributes: { temperature: 'float', since: 'time' },
          metrics: [
            {
              name: 'water',
              description: 'Water',
              unit: '°C / bar',
              items: [
                { name: 'temperature', description: 'Temperature' },
                { name: 'pressure', description: 'Pressure' },
              ],
            },
          ],
        },
        { id: 'scene.romantic', name: 'Romantic evening', type: 'scene', script: 'scene-romantic.js' },
        {
          id: 'light.living_room',
          name: 'Living room',
          type: 'light',
          actions: ['on', 'off'],
          script: 'light-action.coffee',
        },
      ],
      zigbee2mqtt: { enabled: true },
      actions: { confirm_timeout_ms: 1500 },
    },
    dir,
  );
  await t.hub.users.add('admin', 'correct horse', true);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(10_000);
});
after(async () => {
  await browser?.close();
  await t?.stop();
  await svc?.close();
});

const shot = (name: string) => page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });

/** Replaces the editor's text as a user would (select all, type). */
async function setEditorText(text: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // insertText is one input event, so CodeMirror's auto-closing brackets do not double them
  await page.keyboard.insertText(text);
}

test('log in', async () => {
  await page.goto(t.hub.api!.url);
  await page.getByLabel('User').fill('admin');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'bad user name or password' }).waitFor();
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('admin (admin)').waitFor();
  await shot('login-done');
});

test("create the seed's JavaScript example, run it, see it retained in the explorer with script and line", async () => {
  await page.goto(`${t.hub.api!.url}/#/scripts`);
  await page.getByLabel('new script name').fill('seed.js');
  await page.getByRole('button', { name: 'New' }).click();
  await page.locator('.cm-content').waitFor();
  await setEditorText(fixture('seed-example.js'));
  await page.getByRole('button', { name: 'Save & run' }).click();
  await page.getByRole('status').filter({ hasText: 'saved and running' }).waitFor();
  await shot('scripts-seed');
  await page.goto(`${t.hub.api!.url}/#/explorer`);
  const row = page.locator('.topic[data-topic="smart-home/living-room/light"]');
  await row.waitFor();
  assert.match(await row.innerText(), /= on/);
  assert.equal(await row.locator('.badge').innerText(), 'R');
  assert.equal(await row.locator('.source').innerText(), 'seed.js:6');
  await row.click();
  assert.equal(await page.locator('.message .provenance').innerText(), 'seed.js:6');
  assert.match(await page.locator('.message').innerText(), /QoS 1 · retained/);
  await shot('explorer');
});

test('the explorer filters its topic tree and clears a retained message', async () => {
  const c = await connect(t.url, { username: 'admin', password: 'correct horse' });
  await c.publishAsync('garden/pump', 'off', { qos: 1, retain: true });
  await page.goto(`${t.hub.api!.url}/#/explorer`);
  await page.locator('.topic[data-topic="garden/pump"]').waitFor();
  await page.getByLabel('filter topics').fill('garden/+');
  await page.locator('.topic[data-topic="smart-home/living-room/light"]').waitFor({ state: 'detached' });
  assert.ok(await page.locator('.topic[data-topic="garden/pump"]').isVisible());
  await shot('explorer-filter');
  await page.locator('.topic[data-topic="garden/pump"]').click();
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Clear retained' }).click();
  await page.getByRole('status').filter({ hasText: 'retained message of garden/pump cleared' }).waitFor();
  await page.locator('.topic[data-topic="garden/pump"]').waitFor({ state: 'detached' });
  await page.getByLabel('filter topics').fill('');
  c.end();
});

test('a script with an error shows the error at its line', async () => {
  await page.goto(`${t.hub.api!.url}/#/scripts`);
  await page.getByLabel('new script name').fill('broken.js');
  await page.getByRole('button', { name: 'New' }).click();
  await setEditorText("const topic = 'a/b';\nMqtt.publish(topic, 'on', 1, true;\n");
  const diag = page.locator('.diagnostics li').first();
  await diag.waitFor();
  assert.match(await diag.innerText(), /^broken\.js:2:\d+ /);
  await page.locator('.cm-lint-marker-error').first().waitFor();
  await page.getByRole('button', { name: 'Save & run' }).click();
  await page.getByRole('status').filter({ hasText: 'saved, not running: 1 error(s)' }).waitFor();
  assert.ok(!t.hub.scripts.get('broken.js'), 'a script with errors is stored but not activated');
  await shot('scripts-error');
});

test('the editor completes the script API from its type file', async () => {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\nMqtt.pu');
  const popup = page.locator('.cm-tooltip-autocomplete');
  await popup.waitFor();
  assert.match(await popup.innerText(), /publish/);
  await shot('scripts-completion');
});

test("an entity's action button publishes", async () => {
  const sub = await connect(t.url, { username: 'admin', password: 'correct horse' }); // a user exists: no anonymous clients
  const got = collect(sub);
  await sub.subscribeAsync('zigbee2mqtt/device/set');
  await page.goto(`${t.hub.api!.url}/#/entities`);
  await page.locator('[data-entity="light.living_room"]').getByRole('button', { name: 'on' }).click();
  const [m] = await got.next(1);
  assert.equal(m!.payload.toString(), '{"state":"on"}');
  await page.getByRole('status').filter({ hasText: 'light.living_room: on done' }).waitFor();
  await shot('entities');
});

test("a Zigbee2MQTT light on its device card: a toggle and a brightness slider in the device's range, pending until the light confirms", async () => {
  const device = await connect(t.url, { username: 'admin', password: 'correct horse' });
  const got = collect(device);
  await device.subscribeAsync('zigbee2mqtt/Desk Lamp/set', { qos: 1 });
  let state: Record<string, unknown> = { state: 'OFF', brightness: 50, linkquality: 120 };
  let echo = true;
  device.on('message', (_topic, payload) => {
    if (!echo) return;
    state = { ...state, ...(JSON.parse(payload.toString()) as Record<string, unknown>) };
    void device.publishAsync('zigbee2mqtt/Desk Lamp', JSON.stringify(state));
  });
  await device.publishAsync(
    'zigbee2mqtt/bridge/devices',
    JSON.stringify([
      device0x('Desk Lamp', IKEA_BULB, '0x0017880104e45999'),
      device0x('Hall Plug', INNR_PLUG, '0x000d6f000bbbbbbb'),
    ]),
    { qos: 1, retain: true },
  );
  await device.publishAsync('zigbee2mqtt/Desk Lamp', JSON.stringify(state));
  await device.publishAsync(
    'zigbee2mqtt/Hall Plug',
    JSON.stringify({ state: 'ON', power: 1234.5, energy: 12.3, voltage: 229, current: 5.4 }),
  );
  await page.goto(`${t.hub.api!.url}/#/entities`);
  const slider = page.getByRole('slider', { name: 'Brightness of Desk Lamp' });
  await slider.waitFor(); // the page is open already: the new device appears live
  assert.deepEqual([await slider.getAttribute('min'), await slider.getAttribute('max')], ['0', '255']);
  await page.locator('[data-device="zigbee2mqtt:0x000d6f000bbbbbbb"]').getByText('1,234.5 W').waitFor();
  await slider.fill('128');
  const [m] = await got.next(1);
  assert.deepEqual(JSON.parse(m!.payload.toString()), { state: 'ON', brightness: 127 });
  await page.getByRole('status').filter({ hasText: 'light.desk_lamp: turn_on done' }).waitFor();
  await page.locator('[data-entity="light.desk_lamp"] .state').filter({ hasText: 'On · 50 %' }).waitFor();
  await shot('devices');
  // a light that does not answer: the entity says so
  echo = false;
  await page.getByRole('button', { name: 'Desk Lamp: turn off' }).click();
  await page.locator('[data-entity="light.desk_lamp"] .pending').waitFor();
  await page
    .locator('[data-entity="light.desk_lamp"]')
    .getByRole('alert')
    .filter({ hasText: 'did not confirm turn_off' })
    .waitFor({ timeout: 15_000 });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('devices-phone');
  await page.setViewportSize({ width: 1280, height: 800 });
  device.end();
});

test('the dashboard: tiles by room, a toggle the light confirms, a room assigned moves the tile, a graph of the recorded points, offline greys the tile', async () => {
  const device = await connect(t.url, { username: 'admin', password: 'correct horse' });
  const got = collect(device);
  await device.subscribeAsync('zigbee2mqtt/Desk Lamp/set', { qos: 1 });
  let state: Record<string, unknown> = { state: 'OFF', brightness: 127 }; // of Zigbee2MQTT's 254: 50 %
  let answers = true;
  device.on('message', (_topic, payload) => {
    if (!answers) return;
    state = { ...state, ...(JSON.parse(payload.toString()) as Record<string, unknown>) };
    void device.publishAsync('zigbee2mqtt/Desk Lamp', JSON.stringify(state));
  });
  await device.publishAsync('zigbee2mqtt/Desk Lamp', JSON.stringify(state));
  for (const power of [100, 250, 175])
    await device.publishAsync(
      'zigbee2mqtt/Hall Plug',
      JSON.stringify({ state: 'ON', power, energy: 12.3, voltage: 229, current: 0.5 }),
    );
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(`${t.hub.api!.url}/#/home`);
  const lamp = page.locator('section[data-area="Unassigned"] [data-entity="light.desk_lamp"]');
  await lamp.getByText('Off').first().waitFor();
  await lamp.getByRole('button', { name: 'Desk Lamp: turn on' }).click();
  const [m] = await got.next(1);
  assert.deepEqual(JSON.parse(m!.payload.toString()), { state: 'ON' });
  await lamp.locator('.tile-state').filter({ hasText: 'On · 50 %' }).waitFor();
  await page.locator('[data-entity="sensor.hall_plug_power"] .tile-state').filter({ hasText: '175 W' }).waitFor();
  await shot('home');
  // a light that does not answer: the tile says so, and the light keeps its state
  answers = false;
  await lamp.getByRole('button', { name: 'Desk Lamp: turn off' }).click();
  await lamp.locator('.pending').waitFor();
  await lamp.getByRole('alert').filter({ hasText: 'did not confirm turn_off' }).waitFor({ timeout: 15_000 });
  await lamp.locator('.tile-state').filter({ hasText: 'On · 50 %' }).waitFor();
  answers = true;
  // dimmed at the wall while on: no state change, the tile follows anyway
  state = { ...state, brightness: 254 };
  await device.publishAsync('zigbee2mqtt/Desk Lamp', JSON.stringify(state));
  await lamp.locator('.tile-state').filter({ hasText: 'On · 100 %' }).waitFor();
  // the light's page: its timeline with what was asked of it, and by whom
  await page.goto(`${t.hub.api!.url}/#/entity/light.desk_lamp`);
  await page
    .locator('.markers li')
    .filter({ hasText: /turn_off by admin \(app or API\)\s*TIMEOUT/ })
    .first()
    .waitFor();
  await page.locator('.markers li').filter({ hasText: 'turn_on by admin (app or API)' }).first().waitFor();
  assert.ok((await page.locator('.timeline .marker').count()) >= 2);
  await shot('entity-timeline');
  // the plug's device page
  await page.goto(`${t.hub.api!.url}/#/device/${encodeURIComponent('zigbee2mqtt:0x000d6f000bbbbbbb')}`);
  await page.getByRole('heading', { name: /Hall Plug/ }).waitFor();
  await page.getByRole('link', { name: 'Zigbee2MQTT' }).waitFor();
  await page.locator('[data-entity="sensor.hall_plug_power"] .state').filter({ hasText: '175 W' }).waitFor();
  await shot('device');
  await page.goto(`${t.hub.api!.url}/#/home`);
  // a room: the tile moves under it
  await page.getByRole('button', { name: 'Edit' }).click();
  const room = page.getByRole('combobox', { name: 'Room of Desk Lamp' });
  await room.fill('Living room');
  await room.press('Enter');
  await page.locator('section[data-area="Living room"] [data-entity="light.desk_lamp"]').waitFor();
  assert.equal((await t.hub.devices.get('zigbee2mqtt:0x0017880104e45999'))?.area, 'Living room');
  // an entity without a device gets a room of its own
  const own = page.getByRole('combobox', { name: 'Room of Living room' });
  await own.fill('Study');
  await own.press('Enter');
  await page.locator('section[data-area="Study"] [data-entity="light.living_room"]').waitFor();
  assert.equal(t.hub.registry.get('light.living_room')!.area, 'Study');
  await page.getByRole('button', { name: 'Done' }).click();
  // the graph draws what the recorder has
  const api = (await (
    await page.request.get(`${t.hub.api!.url}/api/entities/sensor.hall_plug_power/history`)
  ).json()) as { data: { points: unknown[] } };
  await page.goto(`${t.hub.api!.url}/#/entity/sensor.hall_plug_power`);
  const graph = page.locator('.graph');
  await graph.locator('canvas').waitFor();
  assert.equal(await graph.getAttribute('data-points'), String(api.data.points.length));
  assert.ok(api.data.points.length >= 3, JSON.stringify(api.data.points));
  await shot('entity-graph');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('entity-graph-phone');
  // offline: the tile is greyed and its controls are off
  await device.publishAsync('zigbee2mqtt/Hall Plug/availability', '{"state":"offline"}');
  await page.goto(`${t.hub.api!.url}/#/home`);
  await page.locator('.tile.unavailable[data-entity="switch.hall_plug"]').waitFor();
  assert.equal(await page.locator('[data-entity="switch.hall_plug"]').getByRole('button').first().isDisabled(), true);
  await shot('home-phone');
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('link', { name: 'Devices' }).waitFor();
  await shot('home-phone-menu');
  // installable: a manifest with a standalone display and an icon, and an active service worker
  const manifest = (await (await page.request.get(`${t.hub.api!.url}/manifest.webmanifest`)).json()) as {
    display: string;
    icons: unknown[];
  };
  assert.deepEqual([manifest.display, manifest.icons.length], ['standalone', 1]);
  assert.equal(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => !!r.active)), true);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByRole('button', { name: 'Menu' }).click();
  await shot('home-phone-dark');
  await page.setViewportSize({ width: 1400, height: 900 });
  await shot('home-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
  device.end();
});

test('a slow answer of the entity list does not put back a state the page has moved past, nor drop a change that came while it was on its way', async () => {
  // a context of its own, so no service worker stands between the page and page.route
  const context = await browser.newContext({
    storageState: await page.context().storageState(),
    serviceWorkers: 'block',
    viewport: { width: 1400, height: 900 },
  });
  const p = await context.newPage();
  p.setDefaultTimeout(10_000);
  const device = await connect(t.url, { username: 'admin', password: 'correct horse' });
  const lamp = (brightness: number) =>
    device.publishAsync('zigbee2mqtt/Desk Lamp', JSON.stringify({ state: 'ON', brightness }));
  const tile = p.locator('[data-entity="light.desk_lamp"] .tile-state');
  /** Opens the dashboard with answer number `n` of GET /api/entities held until `release()`. */
  const openHolding = async (n: number) => {
    let calls = 0;
    let release!: () => void;
    let answered!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const done = new Promise<void>((r) => {
      answered = r;
    });
    let fetched!: () => void;
    const holding = new Promise<void>((r) => {
      fetched = r;
    });
    await p.route('**/api/entities', async (route) => {
      if (++calls !== n) return route.continue();
      const response = await route.fetch(); // the list as it is now
      fetched();
      await held;
      await route.fulfill({ response });
      answered();
    });
    await p.goto('about:blank'); // the page loads anew, not a hash change
    await p.goto(`${t.hub.api!.url}/#/home`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      holding,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the page made no request ${n} for /api/entities`)), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    return {
      release: async () => {
        release();
        await done;
        // the answer reached the page: let it read the body and draw
        await p.evaluate(
          () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0)))),
        );
        await p.unroute('**/api/entities');
      },
    };
  };
  const devices = (extra: ReturnType<typeof device0x>[]) =>
    device.publishAsync(
      'zigbee2mqtt/bridge/devices',
      JSON.stringify([
        device0x('Desk Lamp', IKEA_BULB, '0x0017880104e45999'),
        device0x('Hall Plug', INNR_PLUG, '0x000d6f000bbbbbbb'),
        ...extra,
      ]),
      { qos: 1, retain: true },
    );
  const porch = p.locator('[data-entity="light.porch_light"]');
  await lamp(254);
  // 1. the first answer (sent at the page's start) comes last, after a newer one is shown: a light
  // that joined in between stays on the page, and so does a state that changed
  const first = await openHolding(1);
  await tile.filter({ hasText: 'On · 100 %' }).waitFor(); // from the second answer
  await devices([device0x('Porch Light', IKEA_BULB, '0x0017880104e45aaa')]);
  await porch.waitFor(); // a new entity: the page loaded the list again
  await lamp(127);
  await tile.filter({ hasText: 'On · 50 %' }).waitFor(); // live
  await first.release();
  assert.equal(await porch.count(), 1, 'the older answer, without the porch light, was not shown');
  assert.equal(await tile.textContent(), 'On · 50 %');
  await devices([]);
  await porch.waitFor({ state: 'detached' });
  // 2. the newest answer was read before a live change and arrives after it
  const second = await openHolding(2);
  await tile.filter({ hasText: 'On · 50 %' }).waitFor(); // from the first answer
  await lamp(254);
  await tile.filter({ hasText: 'On · 100 %' }).waitFor(); // live
  await second.release();
  assert.equal(await tile.textContent(), 'On · 100 %');
  device.end();
  await context.close();
});

test('Zigbee2MQTT from the devices page: let devices join with a countdown, rename with the bridge’s answer; the recorder’s size', async () => {
  const z = await FakeZigbee2Mqtt.start(t.url, 'zigbee2mqtt', { username: 'admin', password: 'correct horse' });
  z.answers.set('device/rename', (p) => ({
    status: 'error',
    error: `friendly_name '${String(p.to)}' is already in use`,
  }));
  await page.goto(`${t.hub.api!.url}/#/entities`);
  await page.getByRole('button', { name: 'Let devices join' }).click();
  await page
    .getByRole('timer')
    .filter({ hasText: /Joining open: 4:1\d/ })
    .waitFor();
  assert.deepEqual(z.requests.at(-1)!.path, 'permit_join');
  assert.equal(z.requests.at(-1)!.payload.time, 254);
  page.once('dialog', (d) => void d.accept('Hall Plug'));
  await page.locator('[data-device="zigbee2mqtt:0x0017880104e45999"]').getByRole('button', { name: 'Rename' }).click();
  await page
    .locator('[data-device="zigbee2mqtt:0x0017880104e45999"] .answer')
    .filter({ hasText: "Zigbee2MQTT: friendly_name 'Hall Plug' is already in use" })
    .waitFor();
  assert.deepEqual(z.requests.at(-1)!.payload.from, 'Desk Lamp');
  await page
    .locator('.recorder')
    .filter({ hasText: /History: .* in the SQLite file, \d+ recorded states; .* free on the disk/ })
    .waitFor();
  await shot('devices-zigbee');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('devices-zigbee-phone');
  await page.setViewportSize({ width: 1280, height: 800 });
  z.end();
});

test('every page at a phone’s and a desktop’s size (screenshots in test-output/)', async () => {
  const pages = [
    'home',
    'entities',
    'scripts',
    'explorer',
    'automations',
    'notifications',
    'clients',
    'entity/light.desk_lamp',
    'entity/sensor.boiler',
  ];
  for (const [w, h, tag] of [
    [390, 844, 'phone'],
    [1400, 900, 'desktop'],
  ] as const) {
    await page.setViewportSize({ width: w, height: h });
    for (const p of pages) {
      await page.goto(`${t.hub.api!.url}/#/${p}`);
      await page.locator('main > *').first().waitFor();
      // nothing wider than the screen: the page scrolls down, never sideways
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 1, `${p} at ${w} px is ${wide} px too wide`);
      await shot(`page-${p.replace(/[/.]/g, '-')}-${tag}`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('the automations and clients pages show the hub', async () => {
  await page.goto(`${t.hub.api!.url}/#/clients`);
  await page.getByText('(this hub)').waitFor();
  await shot('clients');
  await page.goto(`${t.hub.api!.url}/#/automations`);
  await page.getByRole('button', { name: 'Save & apply' }).waitFor();
  await shot('automations');
});

test('the notifications page: the targets with a test button; a test shows as sent, one the target refuses as failed with its answer', async () => {
  await page.goto(`${t.hub.api!.url}/#/notifications`);
  const phone = page.locator('.targets li').filter({ hasText: 'phone' });
  await phone.getByText('ntfy').waitFor();
  await phone.getByRole('button', { name: 'Send a test' }).click();
  await page.getByText('A test is on its way to phone.').waitFor();
  const sent = page.locator('.outbox li.sent').filter({ hasText: 'to phone' });
  await sent.getByText('Sent').waitFor();
  assert.match(await sent.innerText(), /A test from Smart Home[\s\S]*from api admin/);
  assert.equal(svc.received.filter((m) => m.service === 'ntfy').length, 1);
  // a token Telegram does not know: refused, not retried, the answer on the page
  await page.locator('.targets li').filter({ hasText: 'family' }).getByRole('button', { name: 'Send a test' }).click();
  const failed = page.locator('.outbox li.failed').filter({ hasText: 'to family' });
  await failed.getByText('Failed').waitFor();
  assert.match(await failed.locator('.error').innerText(), /401|Unauthorized|token/i);
  await shot('notifications');
});

test("an entity's named state reads as its description, its metric is a graph of its items; a scene has an Activate button", async () => {
  const api = t.hub.api!.url;
  await page.goto(`${api}/#/entity/sensor.boiler`);
  await page.getByRole('button', { name: 'HEAT' }).click();
  await page.locator('.big-state').filter({ hasText: 'Heating' }).waitFor();
  await page.locator('.metric .graph[data-points="2"]').waitFor();
  assert.equal(await page.locator('.metric h3').innerText(), 'Water');
  await shot('entity-metrics');
  const c = await connect(t.url, { username: 'admin', password: 'correct horse' });
  const got = collect(c);
  await c.subscribeAsync('test/scene', { qos: 1 });
  await page.goto(`${api}/#/entity/scene.romantic`);
  await shot('entity-scene');
  await page.getByRole('button', { name: 'Activate' }).click();
  await got.next(1);
  assert.deepEqual(JSON.parse(got.messages[0]!.payload.toString()), { entityId: 'scene.romantic', args: {} });
  c.end();
});
