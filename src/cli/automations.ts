// `smart-home automations`: each automation with its last run, read from the database.
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { openStore } from '../store/db.js';
import { RunTrace } from '../automations/trace.js';
import { AutomationStore } from '../store/automations.js';

export async function automationsCommand(opts: ConfigOverrides & { runs?: string }): Promise<void> {
  const { config } = loadConfig(opts);
  const db = openStore(config.data_dir);
  try {
    const trace = new RunTrace(db);
    const rows = new AutomationStore(db).all();
    if (rows.length === 0)
      process.stdout.write(`no automations (define them in ${config.data_dir}/automations.yaml)\n`);
    for (const r of rows) {
      const def = JSON.parse(r.definition) as {
        name?: string;
        enabled: boolean;
        mode: string;
        triggers: { type: string }[];
      };
      const last = trace.last(r.id);
      const lastText = last
        ? `last run ${new Date(last.started).toISOString()} ${last.status}${last.steps.find((s) => s.error) ? `: ${last.steps.find((s) => s.error)!.error!.split('\n')[0]}` : ''}`
        : 'never run';
      process.stdout.write(
        `${r.id}${def.name ? ` (${def.name})` : ''}  ${def.enabled && r.enabled ? 'enabled' : 'disabled'}  ${def.mode}  triggers: ${def.triggers.map((t) => t.type).join(', ')}  ${lastText}\n`,
      );
      if (opts.runs === r.id) {
        for (const run of trace.runs(r.id)) {
          process.stdout.write(
            `  #${run.id} ${new Date(run.started).toISOString()} ${run.status}  ${run.trigger.description}\n`,
          );
          for (const s of run.steps)
            process.stdout.write(
              `    ${s.kind}[${s.index}] ${s.type}: ${s.result}${s.detail ? ` (${s.detail})` : ''}${s.error ? ` ${s.error.split('\n')[0]}` : ''} ${s.ms.toFixed(1)} ms\n`,
            );
        }
      }
    }
  } finally {
    db.close();
  }
}
