// `smart-home run FILE` and `smart-home check FILE...`.
import { readFileSync } from 'node:fs';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { createLogger } from '../log.js';
import { EventBus } from '../events.js';
import { MqttBus } from '../mqtt/bus.js';
import { ScriptEngine, finished } from '../scripts/engine.js';
import { compileOffThread } from '../scripts/compiler/pool.js';
import { ScriptError, codeFrame, formatLocated } from '../scripts/errors.js';
import { diagnose } from '../scripts/library.js';
import { CommanderError } from 'commander';

/** `--set name=value`: JSON values are parsed (`--set n=3`), anything else is a string. */
export function parseSets(sets: string[] = [], flag = '--set'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    const name = i > 0 ? s.slice(0, i) : '';
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
      throw new CommanderError(2, 'smart-home.set', `${flag} "${s}": expected name=value with a JavaScript identifier as the name, e.g. ${flag} actionName=on`);
    }
    const raw = s.slice(i + 1);
    try { out[name] = JSON.parse(raw); } catch { out[name] = raw; }
  }
  return out;
}

export async function runCommand(file: string, opts: ConfigOverrides & { set?: string[] }): Promise<void> {
  const globals = parseSets(opts.set);
  const { config } = loadConfig(opts);
  const tcp = config.broker.listeners.find((l) => l.type === 'tcp');
  const url = opts.broker ?? config.mqtt.url ?? `mqtt://${tcp?.host === '0.0.0.0' ? '127.0.0.1' : tcp?.host ?? '127.0.0.1'}:${tcp?.port ?? 1883}`;
  const log = createLogger(config.log_level === 'info' ? 'warn' : config.log_level);
  const events = new EventBus(log);
  events.on('script.log', (e) => {
    const stream = e.level === 'error' || e.level === 'warn' ? process.stderr : process.stdout;
    stream.write(e.level === 'info' ? `${e.message}\n` : `[${e.level}] ${e.message}\n`);
  });
  // Compile before connecting: a script that cannot run should not need a broker to say so.
  await compileOffThread(file, readFileSync(file, 'utf8'));
  const bus = new MqttBus({
    url, clientId: `smart-home-run-${process.pid}`, username: config.mqtt.username, password: config.mqtt.password,
    publishTimeoutMs: config.mqtt.publish_timeout_ms, connectTimeoutMs: 5000, log: log.child({ module: 'mqtt' }), events,
  });
  await bus.start();
  const engine = new ScriptEngine({ limits: config.scripts, bus, events, log: log.child({ module: 'scripts' }, { level: 'silent' }) }); // script logs are printed above
  await engine.start(); // routes MQTT messages to the script's subscriptions
  let interrupted = false;
  const onSignal = () => { interrupted = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const script = await engine.load(file, { globals });
    // like node: run until nothing is left to do (timers, publishes, subscriptions), or Ctrl-C
    while (!finished(engine, script) && !interrupted) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setImmediate(r));
    if (script.errors > 0) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await engine.stop();
    await bus.stop();
  }
}

export async function checkCommand(files: string[]): Promise<void> {
  let failed = 0;
  for (const file of files) {
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      process.stderr.write(`${file}: cannot read: ${(err as Error).message}\n`);
      failed++;
      continue;
    }
    const problems = await diagnose(file, source);
    for (const p of problems) process.stderr.write(`${formatLocated({ file, line: p.line, col: p.col }, p.message)}\n${codeFrame(source, { file, line: p.line, col: p.col })}\n\n`);
    if (problems.length > 0) failed++;
    else process.stdout.write(`${file}: ok\n`);
  }
  if (failed > 0) {
    process.stderr.write(`${failed} of ${files.length} file(s) with errors\n`);
    process.exitCode = 1;
  }
}
