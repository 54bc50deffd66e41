// Soak (long; `npm run test:long`, bounded by SOAK_MINUTES, default 15): the hub as a real
// process under a mixed load for minutes — MQTT clients that publish QoS 0/1/2 and come and go,
// scripts that answer and keep Storage, automations on MQTT and interval triggers — with the hub's
// RSS and open file descriptors sampled from /proc every few seconds. It reports growth (printed
// and in test-output/soak.json) and checks that nothing acknowledged was lost, descriptors come
// back after the churn, and memory levels off (the last quarter no more than 25 % over the second).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tempDir, removeDir, freePort, connect, serve, sleep } from '../test/helpers.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 15);
const SAMPLE_MS = Math.max(1000, Math.min(10_000, (MINUTES * 60_000) / 60));

function sample(pid: number): { rssMiB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(rssKb / 102.4) / 10, fds: readdirSync(`/proc/${pid}/fd`).length };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

test(`soak: ${MINUTES} min of mixed load; nothing acknowledged lost, descriptors and memory level off`, {
  timeout: (MINUTES + 3) * 60_000,
}, async () => {
  const dir = tempDir('smart-home-soak-');
  const port = await freePort();
  mkdirSync(path.join(dir, 'scripts'));
  for (let i = 0; i < 20; i++) {
    writeFileSync(
      path.join(dir, 'scripts', `worker${i}.js`),
      `
      let n = Storage.get('n') ?? 0;
      Mqtt.subscribe('soak/in/${i % 5}/+', async (m) => {
        n++;
        if (n % 50 === 0) Storage.set('n', n);
        await Mqtt.publish('soak/out/${i}/' + m.params[0], { n, got: m.payload.length }, 1);
      });
      setInterval(() => Mqtt.publish('soak/tick/${i}', String(Date.now()), 0, true), 2000);
    `,
    );
  }
  writeFileSync(
    path.join(dir, 'automations.yaml'),
    `
- id: echo
  mode: queued
  max: 100
  triggers:
    - type: mqtt
      topic: soak/auto/+
  actions:
    - type: publish
      topic: soak/auto-out
      payload: echoed
      qos: 1
- id: heartbeat
  triggers:
    - type: interval
      every: 5s
  actions:
    - type: script
      code: |
        Mqtt.publish('soak/heartbeat', { at: Date.now() }, 1, true);
`,
  );
  const served = await serve(['--data', dir, '--mqtt-port', String(port), '--http-port', '0'], {
    env: { SMART_HOME_LOG_LEVEL: 'warn' },
  });
  const pid = served.child.pid!;
  const samples: { t: number; rssMiB: number; fds: number }[] = [];
  const started = Date.now();
  const end = started + MINUTES * 60_000;

  // the checker: a persistent QoS 1 subscriber that must get every acknowledged message
  const acked = new Set<string>();
  const received = new Set<string>();
  const checker = await connect(served.url, { clientId: 'soak-checker', clean: false }, (c) =>
    c.on('message', (_t, p) => received.add(String(p))),
  );
  await checker.subscribeAsync('soak/check/#', { qos: 1 });

  let published = 0;
  let churned = 0;
  const worker = async (k: number) => {
    while (Date.now() < end) {
      // a client lives for a few seconds, publishes a mix, and leaves (half of them without DISCONNECT)
      const c = await connect(served.url, { clientId: `soak-${k}-${churned++}`, clean: true });
      const until = Date.now() + 2000 + (k % 5) * 1000;
      let i = 0;
      while (Date.now() < until) {
        const id = `${k}-${churned}-${i++}`;
        await c.publishAsync(`soak/check/${k}`, id, { qos: 1 });
        acked.add(id);
        c.publish(`soak/in/${k % 5}/${i}`, 'x'.repeat(i % 200), { qos: (i % 3) as 0 | 1 | 2 });
        if (i % 10 === 0) c.publish(`soak/auto/${k}`, String(i), { qos: 1 });
        published += 2;
        await sleep(20);
      }
      if (k % 2) c.end(true);
      else await c.endAsync();
    }
  };
  const sampler = (async () => {
    while (Date.now() < end) {
      samples.push({ t: Math.round((Date.now() - started) / 1000), ...sample(pid) });
      await sleep(SAMPLE_MS);
    }
  })();
  await Promise.all([...Array.from({ length: 10 }, (_, k) => worker(k)), sampler]);
  await sleep(3000);
  const settled = sample(pid);

  // the checker goes offline and comes back once: its queued messages must come too
  await checker.endAsync();
  const back = await connect(served.url, { clientId: 'soak-checker', clean: false }, (c) =>
    c.on('message', (_t, p) => received.add(String(p))),
  );
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && [...acked].some((id) => !received.has(id))) await sleep(200);
  await back.endAsync();
  served.child.kill('SIGTERM');
  const code = await served.exited;

  const q = Math.max(1, Math.floor(samples.length / 4));
  const second = samples.slice(q, 2 * q);
  const last = samples.slice(-q);
  const report = {
    minutes: MINUTES,
    published,
    clientsChurned: churned,
    ackedChecks: acked.size,
    lost: [...acked].filter((id) => !received.has(id)).length,
    rssMiB: {
      first: samples[0]?.rssMiB,
      secondQuarterMedian: median(second.map((s) => s.rssMiB)),
      lastQuarterMedian: median(last.map((s) => s.rssMiB)),
      max: Math.max(...samples.map((s) => s.rssMiB)),
    },
    fds: { first: samples[0]?.fds, max: Math.max(...samples.map((s) => s.fds)), afterLoad: settled.fds },
    samples,
  };
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/soak.json', JSON.stringify(report, null, 2));
  console.log(`soak: ${JSON.stringify({ ...report, samples: `${samples.length} samples in test-output/soak.json` })}`);
  removeDir(dir);

  assert.equal(code, 0, 'the hub stops cleanly after the soak');
  assert.equal(report.lost, 0, `${report.lost} of ${acked.size} acknowledged QoS 1 messages lost`);
  assert.ok(
    settled.fds <= (samples[0]?.fds ?? 0) + 10,
    `descriptors back after the churn: ${samples[0]?.fds} -> ${settled.fds}`,
  );
  assert.ok(
    report.rssMiB.lastQuarterMedian <= report.rssMiB.secondQuarterMedian * 1.25,
    `RSS levels off: ${report.rssMiB.secondQuarterMedian} -> ${report.rssMiB.lastQuarterMedian} MiB`,
  );
});
