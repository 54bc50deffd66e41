// `smart-home run FILE` and `smart-home check FILE...`.
import { readFileSync } from 'node:fs';
import { loadConfig, overridesFromEnv, type ConfigOverrides } from '../config/load.js';
import { createLogger } from '../log.js';
import { EventBus } from '../events.js';
import { MqttBus } from '../mqtt/bus.js';
import { ScriptEngine } from '../scripts/engine.js';
import { compileOffThread } from '../scripts/compiler/pool.js';
import { codeFrame, formatLocated } from '../scripts/errors.js';
import { diagnose, type Diagnostic } from '../scripts/library.js';
import { parseDuration } from '../automations/duration.js';
import { readHubFile } from './hub-file.js';
import { CommanderError } from 'commander';

/** `--set name=value`: JSON values are parsed (`--set n=3`), anything else is a string. */
export function parseSets(sets: string[] = [], flag = '--set'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    const name = i > 0 ? s.slice(0, i) : '';
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
      throw new CommanderError(
        2,
        'smart-home.set',
        `${flag} "${s}": expected name=value with a JavaScript identifier as the name, e.g. ${flag} actionName=on`,
      );
    }
    const raw = s.slice(i + 1);
    try {
      out[name] = JSON.parse(raw);
    } catch {
      out[name] = raw;
    }
  }
  return out;
}

export async function runCommand(
  file: string,
  opts: ConfigOverrides & { set?: string[]; watch?: boolean; timeout?: string },
): Promise<void> {
  const globals = parseSets(opts.set);
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
  if (timeoutMs === undefined && opts.timeout !== undefined)
    throw new CommanderError(
      2,
      'smart-home.timeout',
      `--timeout "${opts.timeout}": expected a duration, e.g. 30s, 5m or 500ms`,
    );
  const { config } = loadConfig(opts);
  const tcp = config.broker.listeners.find((l) => l.type === 'tcp');
  // the running hub's own address (data/hub.json) unless a broker or port is given here
  // (a broker or port given here, as a flag or SMART_HOME_* variable, wins over it)
  const env = overridesFromEnv(process.env);
  const given = (opts.broker ?? env.broker) !== undefined || (opts.mqttPort ?? env.mqttPort) !== undefined;
  const running = given ? undefined : readHubFile(config.data_dir)?.mqtt;
  const url =
    opts.broker ??
    config.mqtt.url ??
    running ??
    `mqtt://${tcp?.host === '0.0.0.0' ? '127.0.0.1' : (tcp?.host ?? '127.0.0.1')}:${tcp?.port ?? 1883}`;
  const log = createLogger(config.log_level === 'info' ? 'warn' : config.log_level);
  const events = new EventBus(log);
  events.on('script.log', (e) => {
    const stream = e.level === 'error' || e.level === 'warn' ? process.stderr : process.stdout;
    stream.write(e.level === 'info' ? `${e.message}\n` : `[${e.level}] ${e.message}\n`);
  });
  // Compile and type-check before connecting: a script that cannot run (or that the UI would
  // refuse) should not need a broker to say so.
  const source = readFileSync(file, 'utf8');
  await compileOffThread(file, source);
  if (reportProblems(file, source, await diagnose(file, source)) > 0) {
    process.stderr.write(`${file}: not run (fix the errors above; \`smart-home check ${file}\` lists them)\n`);
    process.exitCode = 1;
    return;
  }
  const bus = new MqttBus({
    url,
    clientId: `smart-home-run-${process.pid}`,
    username: config.mqtt.username,
    password: config.mqtt.password,
    publishTimeoutMs: config.mqtt.publish_timeout_ms,
    connectTimeoutMs: 5000,
    log: log.child({ module: 'mqtt' }),
    events,
  });
  try {
    await bus.start();
  } catch (err) {
    const from = opts.broker
      ? '--broker'
      : config.mqtt.url
        ? 'mqtt.url in the config'
        : running
          ? `${config.data_dir}/hub.json (the running hub)`
          : `the config in ${config.data_dir} (no running hub found there)`;
    throw new Error(
      `cannot reach the broker at ${url} (from ${from}): ${(err as Error).message}. Is \`smart-home serve\` running with this data dir? Otherwise pass --broker URL or the same --mqtt-port.`,
    );
  }
  const engine = new ScriptEngine({
    limits: config.scripts,
    bus,
    events,
    log: log.child({ module: 'scripts' }, { level: 'silent' }),
  }); // script logs are printed above
  await engine.start(); // routes MQTT messages to the script's subscriptions
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const script = await engine.load(file, { globals });
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // like node: run until its timers and publishes are done (with --watch: and its subscriptions
    // ended), or until --timeout or Ctrl-C
    const done = () => script.idle && (!opts.watch || (engine.inputs.stats(script.name)?.subscriptions ?? 0) === 0);
    while (!done() && !interrupted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const subscribed = engine.inputs.stats(script.name)?.subscriptions ?? 0;
    if (!opts.watch && !interrupted && subscribed > 0 && Date.now() < deadline) {
      process.stderr.write(
        `${file}: done; its ${subscribed} subscription(s) end here (run with --watch to keep handling messages until it unsubscribes or Ctrl-C)\n`,
      );
    }
    if (Date.now() >= deadline) process.stderr.write(`${file}: stopped after --timeout ${opts.timeout}\n`);
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
    if (reportProblems(file, source, await diagnose(file, source)) > 0) failed++;
    else process.stdout.write(`${file}: ok\n`);
  }
  if (failed > 0) {
    process.stderr.write(`${failed} of ${files.length} file(s) with errors\n`);
    process.exitCode = 1;
  }
}

/** Prints each problem at its line with a code frame; returns how many there were. */
function reportProblems(file: string, source: string, problems: Diagnostic[]): number {
  for (const p of problems)
    process.stderr.write(
      `${formatLocated({ file, line: p.line, col: p.col }, p.message)}\n${codeFrame(source, { file, line: p.line, col: p.col })}\n\n`,
    );
  return problems.length;
}
