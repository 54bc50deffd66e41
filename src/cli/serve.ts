// `smart-home serve`: load the config, build the hub, print where it listens, stop cleanly on SIGINT/SIGTERM.
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { createLogger } from '../log.js';
import { Hub } from '../hub.js';
import { redactUrl } from '../mqtt/topic.js';
import { runningScript } from '../scripts/sandbox.js';
import { writeHubFile } from './hub-file.js';
import { dryRun } from '../simulate/dry-run.js';

const SHUTDOWN_LIMIT_MS = 5000;

export async function serveCommand(opts: ConfigOverrides): Promise<void> {
  const { config, file } = loadConfig(opts);
  const log = createLogger(config.log_level);
  log.info({ config: file ?? '(defaults)', data: config.data_dir }, 'starting');
  const hub = new Hub(config, log, { ...(file ? { configFile: file } : {}), dryRun });
  // A host exception nobody caught ends the process (Node's rule, kept); if a script's sandbox was
  // entered at that moment, that script starts disabled next time instead of crash-looping the hub.
  process.on('uncaughtException', (err) => {
    const script = runningScript();
    if (script) {
      try {
        hub.scripts.disable(script, `the hub crashed while running it: ${err.message}`);
      } catch {
        /* the data dir may be gone */
      }
    }
    process.stderr.write(
      `${err.stack ?? String(err)}\n${script ? `while running script ${script}: it starts disabled next time\n` : ''}`,
    );
    process.exit(1);
  });
  await hub.start();
  const out: string[] = [];
  for (const l of hub.listeners) out.push(`MQTT  ${l.url}`);
  if (config.mqtt.url) out.push(`MQTT  ${redactUrl(config.mqtt.url)} (external broker)`);
  if (hub.api) out.push(`HTTP  ${hub.api.url}`);
  out.push(`DATA  ${config.data_dir}`);
  process.stdout.write(`smart-home ${hub.status().version} ready\n${out.join('\n')}\n`);
  const tcp = hub.listeners.find((l) => l.type === 'tcp');
  const removeHubFile = writeHubFile(config.data_dir, {
    mqtt: config.mqtt.url ? undefined : tcp?.url,
    http: hub.api?.url,
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      log.error(`did not stop within ${SHUTDOWN_LIMIT_MS} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    force.unref();
    removeHubFile();
    hub.stop().then(
      () => {
        process.stdout.write('stopped\n');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
