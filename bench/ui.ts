// Issue 17 bench: the dashboard's first paint. A hub with 40 Zigbee2MQTT plugs (200 tiles: a
// switch and four readings each, states retained) is opened in Chromium (playwright-core); the
// time from navigation until every tile shows its state, for Home (the dashboard) and for the
// Devices page in the same run, and the size of the UI's JavaScript and CSS as served.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { startHub } from '../test/helpers.js';
import { device, INNR_PLUG } from '../test/fixtures/zigbee2mqtt.js';
import { connect, medianOf, ROUNDS, table } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PLUGS = 40;

export async function benchUi(): Promise<string> {
  if (!existsSync(CHROMIUM)) return `(skipped: no Chromium at ${CHROMIUM})`;
  const h = await startHub({ zigbee2mqtt: { enabled: true }, http: { enabled: true, port: 0 } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const z = await connect(h.url);
    const plugs = Array.from({ length: PLUGS }, (_, i) =>
      device(`Plug ${i}`, INNR_PLUG, `0x000d6f00000${String(i).padStart(5, '0')}`),
    );
    await z.publishAsync('zigbee2mqtt/bridge/devices', JSON.stringify(plugs), { qos: 1, retain: true });
    while (h.hub.registry.size < PLUGS * 6) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < PLUGS; i++)
      await z.publishAsync(
        `zigbee2mqtt/Plug ${i}`,
        JSON.stringify({ state: 'ON', power: i, voltage: 230, current: 0.1, energy: 1 }),
        { qos: 1, retain: true },
      );
    while (h.hub.registry.get(`sensor.plug_${PLUGS - 1}_power`)?.state !== PLUGS - 1)
      await new Promise((r) => setTimeout(r, 20));
    const tiles = PLUGS * 5;
    const time = async (hash: string, selector: string, count: number) => {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const t0 = performance.now();
      await page.goto(`${h.hub.api!.url}/${hash}`);
      await page.waitForFunction(
        ([sel, n]) =>
          [...document.querySelectorAll(sel as string)].filter((e) => !/—/.test(e.textContent ?? '')).length >=
          (n as number),
        [selector, count] as const,
        { timeout: 60_000, polling: 'raf' },
      );
      const ms = performance.now() - t0;
      await page.close();
      return ms;
    };
    const home: number[] = [];
    const devices: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      home.push(await time('#/home', '.tile .tile-state', tiles));
      devices.push(await time('#/entities', '.card .entity .state', tiles));
    }
    // live: from a device's state message to its tile showing the new value
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${h.hub.api!.url}/#/home`);
    const tile = '[data-entity="sensor.plug_0_power"] .tile-state';
    await page.waitForSelector(tile);
    const live: number[] = [];
    for (let n = 1; n <= 30; n++) {
      await page.evaluate(
        ([sel, want]) => {
          const w = window as unknown as { shown?: Promise<number> };
          w.shown = new Promise<number>((resolve) => {
            const el = document.querySelector(sel as string)!;
            const obs = new MutationObserver(() => {
              if (el.textContent === want) {
                obs.disconnect();
                resolve(Date.now());
              }
            });
            obs.observe(el, { childList: true, characterData: true, subtree: true });
          });
        },
        [tile, `${(1000 + n).toLocaleString('en-US')} W`] as const,
      );
      const sent = Date.now();
      await z.publishAsync(
        'zigbee2mqtt/Plug 0',
        JSON.stringify({ state: 'ON', power: 1000 + n, voltage: 230, current: 0.1, energy: 1 }),
      );
      live.push((await page.evaluate(() => (window as unknown as { shown: Promise<number> }).shown)) - sent);
    }
    await page.close();
    z.end(true);
    const web = path.join(ROOT, 'dist/web');
    const kb = (f: string) =>
      `${(statSync(path.join(web, f)).size / 1024).toFixed(0)} KiB (${(gzipSync(readFileSync(path.join(web, f))).length / 1024).toFixed(0)} KiB gzip)`;
    const editor = readdirSync(path.join(web, 'chunks')).find((f) => f.startsWith('editor-') && f.endsWith('.js'));
    return (
      table(
        ['', 'Home (dashboard)', 'Devices page', 'ratio'],
        [
          [
            'a state message to its tile showing it (ms, median / p95 of 30)',
            `${medianOf(live)} / ${[...live].sort((x, y) => x - y)[Math.floor(live.length * 0.95)]}`,
            '',
            '',
          ],
          [
            `navigation to all ${tiles} tiles showing their state, 390x844 (ms)`,
            medianOf(home),
            medianOf(devices),
            medianOf(
              home.map((x, i) => x / devices[i]!),
              (n) => `${n.toFixed(2)}x`,
            ),
          ],
        ],
      ) +
      `\n\nThe UI as served: app.js ${kb('app.js')}, app.css ${kb('app.css')}, style.css ${kb('style.css')} ; the script editor (CodeMirror) is loaded by the Scripts page only: ${editor ? kb(`chunks/${editor}`) : '?'}.`
    );
  } finally {
    await browser.close();
    await h.stop();
  }
}
