// A hub that died on a script starts with that script disabled and says so (issue 14: a script in
// data/scripts that took the process down crash-looped the hub on every start). Here the hub is
// killed (-9) while a script's top level runs at start: the marker it leaves pins the script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, cleanEnv, serve, tempDir, removeDir, roundTrip, waitFor } from '../helpers.js';
import { ApiClient } from '../api/client.js';

test('killed while a script starts: the next start disables that script, says why, and runs the rest', async () => {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'scripts'));
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    'log_level: info\nscripts:\n  cpu_limit_ms: 600000\nhttp:\n  port: 0\nbroker:\n  listeners: [{ type: tcp, host: 127.0.0.1, port: 0 }]\n',
  );
  writeFileSync(
    path.join(dir, 'scripts', 'a-fine.js'),
    "Mqtt.subscribe('fine/ping', (m) => Mqtt.publish('fine/pong', m.payload));\n",
  );
  writeFileSync(path.join(dir, 'scripts', 'b-spin.js'), "console.log('about to spin');\nfor (;;) {}\n");
  const args = ['serve', '--data', dir, '--config', path.join(dir, 'smart-home.yaml')];
  const first = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  first.stdout!.on('data', (d) => {
    out += d;
  });
  let exited = false;
  first.once('exit', () => {
    exited = true;
  });
  // the hub's own marker names the script whose top level is running (its log cannot flush: the
  // thread is spinning)
  const marker = path.join(dir, '.script-starting');
  await waitFor(
    () => exited || (existsSync(marker) && readFileSync(marker, 'utf8') === 'b-spin.js'),
    20_000,
    'b-spin.js to be starting',
  );
  assert.equal(exited, false, out);
  const gone = new Promise((r) => first.once('exit', r));
  first.kill('SIGKILL');
  await gone;

  const second = await serve(args.slice(1));
  try {
    assert.match(
      second.stdout() + second.stderr(),
      /the hub stopped while script b-spin\.js was starting: it is disabled/,
    );
    await roundTrip(second.url); // the broker serves, and the hub is up
    const api = new ApiClient(/HTTP {2}(\S+)/.exec(second.stdout())![1]!);
    const scripts = (await api.get('/api/scripts')).body.data as {
      name: string;
      active: boolean;
      diagnostics: { message: string }[];
    }[];
    const spin = scripts.find((s) => s.name === 'b-spin.js')!;
    assert.equal(spin.active, false);
    assert.match(
      spin.diagnostics.map((d) => d.message).join('\n'),
      /^disabled: the hub stopped \(crashed or was killed\) while the script started/m,
    );
    assert.equal(scripts.find((s) => s.name === 'a-fine.js')!.active, true, 'the other script runs');
    // fixed and saved, it runs again
    const saved = await api.put('/api/scripts/b-spin.js', { source: "console.log('fixed');\n" });
    assert.equal(saved.body.data.active, true);
    assert.deepEqual(saved.body.data.diagnostics, []);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
    removeDir(dir);
  }
});
