// The command line as a user runs it: exit codes, messages, ready lines, users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli, serve, tempDir, removeDir, freePort, connect } from '../helpers.js';

test('--version prints the version and exits 0; --help lists the commands', async () => {
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  for (const cmd of ['serve', 'run', 'check', 'user']) assert.match(h.stdout, new RegExp(`\\b${cmd}\\b`));
});

test('an unknown command or option is a usage error: exit 2', async () => {
  const r = await runCli(['serv']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'serv'/);
  assert.match(r.stderr, /serve/);
  const p = await runCli(['serve', '--mqtt-port', 'x']);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /--mqtt-port: "x" is not a port number/);
});

test('serve prints where it listens, and SIGTERM stops it with exit 0', async () => {
  const dir = tempDir();
  const port = await freePort();
  const s = await serve(['--data', dir, '--mqtt-port', String(port), '--http-port', '0']);
  assert.equal(s.url, `mqtt://127.0.0.1:${port}`);
  assert.match(s.stdout(), /HTTP {2}http:\/\/127\.0\.0\.1:\d+/);
  assert.ok(existsSync(path.join(dir, 'smart-home.db')));
  const c = await connect(s.url);
  c.end();
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  removeDir(dir);
});

test('a bad config file: exit 2, the message names file, line and key, nothing is written', async () => {
  const dir = tempDir();
  const data = path.join(dir, 'data');
  writeFileSync(path.join(dir, 'smart-home.yaml'), 'broker:\n  max_conections: 10\n');
  const r = await runCli(['serve', '--data', data], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /smart-home\.yaml:2:3: unknown key "broker\.max_conections" \(did you mean "max_connections"\?\)/,
  );
  assert.ok(!existsSync(data), 'the data dir was not created');
  removeDir(dir);
});

test('a listener on a non-loopback address without users is refused at startup (exit 2) unless allow_anonymous', async () => {
  const dir = tempDir();
  // 0.0.0.0 is checked before anything listens: no socket is opened on another address.
  writeFileSync(
    path.join(dir, 'smart-home.yaml'),
    'broker:\n  listeners:\n    - type: tcp\n      host: 0.0.0.0\n      port: 1883\n',
  );
  const r = await runCli(['serve', '--data', path.join(dir, 'data')], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /tcp:\/\/0\.0\.0\.0:1883 is reachable from the network but no user is configured/);
  assert.match(r.stderr, /smart-home user add NAME/);
  removeDir(dir);
});

test('a corrupt database: exit 1, the message names the file, the file is left as it was', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'smart-home.db');
  const garbage = Buffer.from("this is not an SQLite database, but somebody's data".repeat(100));
  writeFileSync(db, garbage);
  const r = await runCli(['serve', '--data', dir, '--mqtt-port', '0', '--http-port', '0']);
  assert.equal(r.code, 1);
  assert.ok(r.stderr.includes(`database ${db} cannot be opened`), r.stderr);
  assert.deepEqual(readFileSync(db), garbage);
  removeDir(dir);
});

test('a data dir that is not a directory: exit 1 naming the path', async () => {
  const dir = tempDir();
  const notDir = path.join(dir, 'file');
  writeFileSync(notDir, 'x');
  const r = await runCli(['serve', '--data', notDir, '--mqtt-port', '0']);
  assert.equal(r.code, 1);
  assert.ok(r.stderr.includes(`data dir ${notDir} is not usable`), r.stderr);
  removeDir(dir);
});

test('user add (password from stdin), list, remove; bad names and short passwords refused', async () => {
  const dir = tempDir();
  const add = await runCli(['user', 'add', 'alice', '--password-stdin', '--data', dir], { input: 'correct horse\n' });
  assert.equal(add.code, 0, add.stderr);
  const list = await runCli(['user', 'list', '--data', dir]);
  assert.equal(list.stdout.trim(), 'alice');
  const dup = await runCli(['user', 'add', 'alice', '--password-stdin', '--data', dir], { input: 'another one\n' });
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /user "alice" already exists/);
  const bad = await runCli(['user', 'add', 'a/#', '--password-stdin', '--data', dir], { input: 'whatever123\n' });
  assert.equal(bad.code, 2, 'a bad name is a usage error');
  assert.match(bad.stderr, /user name "a\/#" is not allowed/);
  const short = await runCli(['user', 'add', 'bob', '--password-stdin', '--data', dir], { input: 'short\n' });
  assert.match(short.stderr, /at least 8 characters/);
  assert.equal(short.code, 2);
  const rm = await runCli(['user', 'remove', 'alice', '--data', dir]);
  assert.equal(rm.code, 0);
  assert.match((await runCli(['user', 'list', '--data', dir])).stdout, /no users/);
  removeDir(dir);
});

test('with a user configured, serve refuses anonymous clients and accepts the user', async () => {
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  await runCli(['user', 'add', 'alice', '--password-stdin', '--data', dir], { input: 'correct horse\n' });
  const s = await serve(['--data', dir, '--mqtt-port', '0', '--http-port', '0']);
  try {
    await assert.rejects(connect(s.url), /Not authorized/);
    const c = await connect(s.url, { username: 'alice', password: 'correct horse' });
    c.end();
    assert.ok(!s.stderr().includes('correct horse'), 'the password is never logged');
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
    removeDir(dir);
  }
});
