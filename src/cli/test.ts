// `smart-home test [FILES]`: the tests next to the scripts, each in a simulated home (src/simulate).
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { createLogger } from '../log.js';
import { runTests } from '../simulate/runner.js';

export async function testCommand(files: string[], opts: ConfigOverrides & { at?: string }): Promise<void> {
  const { config } = loadConfig(opts);
  let start: number | undefined;
  if (opts.at !== undefined) {
    start = Date.parse(opts.at);
    if (!Number.isFinite(start))
      throw new Error(`--at: give a time such as 2026-06-21T22:00:00, got ${JSON.stringify(opts.at)}`);
  }
  // silent unless asked (--log-level): a script's errors reach its test through home.logs and the action's rejection
  const log = createLogger(opts.logLevel ?? 'silent');
  const { failed } = await runTests({
    config,
    files,
    log,
    out: (line) => process.stdout.write(`${line}\n`),
    ...(start !== undefined ? { start } : {}),
  });
  if (failed > 0) process.exitCode = 1;
}
