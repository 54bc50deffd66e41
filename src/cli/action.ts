// `smart-home action ENTITY ACTION [--param k=v ...]`: asks the running hub (HTTP API) to run it.
import { loadConfig, overridesFromEnv, type ConfigOverrides } from '../config/load.js';
import { parseSets } from './scripts.js';
import { readPassword } from './users.js';
import { readHubFile } from './hub-file.js';
import path from 'node:path';
import type { DryRunReport } from '../simulate/dry-run.js';

export type HubOpts = ConfigOverrides & { param?: string[]; url?: string; user?: string; passwordStdin?: boolean };

/** POSTs `body` to the running hub's API at `path` and returns its `data`; the hub's error message otherwise. */
export async function postToHub(path: string, body: unknown, opts: HubOpts): Promise<unknown> {
  const { config } = loadConfig(opts);
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  // (an address or port given here, as a flag or SMART_HOME_HTTP_PORT, wins over the running hub's)
  const given = opts.url !== undefined || (opts.httpPort ?? overridesFromEnv(process.env).httpPort) !== undefined;
  const running = given ? undefined : readHubFile(config.data_dir)?.http;
  const base = opts.url ?? running ?? `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.user) {
    const password = await readPassword(opts.passwordStdin === true);
    headers.authorization = `Basic ${Buffer.from(`${opts.user}:${password}`).toString('base64')}`;
  }
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (err) {
    throw new Error(
      `cannot reach the hub at ${base}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message} (from ${opts.url ? '--url' : running ? `${config.data_dir}/hub.json, the running hub` : `the config in ${config.data_dir}; no running hub found there`}). Is \`smart-home serve\` running with this data dir? Otherwise pass --url or the same --http-port.`,
    );
  }
  const answer = (await res.json().catch(() => ({}))) as { data?: unknown; error?: { message?: string } };
  if (!res.ok) throw new Error(answer.error?.message ?? `the hub answered ${res.status}`);
  return answer.data;
}

export async function actionCommand(entity: string, action: string, opts: HubOpts): Promise<void> {
  const params = parseSets(opts.param, '--param');
  await postToHub(
    `/api/entities/${encodeURIComponent(entity)}/actions/${encodeURIComponent(action)}`,
    { params },
    opts,
  );
  process.stdout.write(`${entity}: ${action} done\n`);
}

/** `smart-home integration NAME COMMAND [--param k=v ...]`, e.g. `integration zigbee2mqtt permit_join --param time=120`. */
export async function integrationCommand(name: string, command: string, opts: HubOpts): Promise<void> {
  const params = parseSets(opts.param, '--param');
  const data = await postToHub(
    `/api/integrations/${encodeURIComponent(name)}/${encodeURIComponent(command)}`,
    { params },
    opts,
  );
  process.stdout.write(`${name} ${command}: ${JSON.stringify(data ?? {})}\n`);
}

/** Prints a dry run's report: what it would do, one line each. */
function printDryRun(r: DryRunReport): void {
  process.stdout.write(`dry run of ${r.target} against the hub as it is at ${r.at} (nothing was sent):\n`);
  for (const line of r.summary) process.stdout.write(`  ${line}\n`);
  if (r.timersPending > 0)
    process.stdout.write(
      `  (${r.timersPending} timer${r.timersPending > 1 ? 's' : ''} still waiting: --for 10m shows what comes next)\n`,
    );
}

type DryOpts = HubOpts & { for?: string; message?: string };

/** What --for and --message add to a dry run's request. */
function moreOf(opts: DryOpts): { for?: string; message?: { topic: string; payload: string } } {
  const more = opts.for ? { for: opts.for } : {};
  if (opts.message === undefined) return more;
  const eq = opts.message.indexOf('=');
  if (eq <= 0) throw new Error(`--message: give TOPIC=PAYLOAD, e.g. zigbee2mqtt/hall_motion={"occupancy":true}`);
  return { ...more, message: { topic: opts.message.slice(0, eq), payload: opts.message.slice(eq + 1) } };
}

/** `smart-home run FILE --dry-run`: the hub runs its copy of the script in a simulated home of its present. */
export async function dryRunScript(file: string, opts: DryOpts): Promise<void> {
  const { config } = loadConfig(opts);
  const scripts = path.resolve(config.data_dir, 'scripts');
  const abs = path.resolve(file);
  if (path.dirname(abs) !== scripts)
    throw new Error(`--dry-run runs a script of the hub's scripts dir (${scripts}); ${file} is not in it`);
  const body = { script: path.basename(abs), ...moreOf(opts) };
  printDryRun((await postToHub('/api/dry-run', body, opts)) as DryRunReport);
}

/** `smart-home automations --dry-run ID [--replay RUN]`. */
export async function dryRunAutomation(id: string, opts: DryOpts & { replay?: string }): Promise<void> {
  let run: number | undefined;
  if (opts.replay !== undefined) {
    run = Number(opts.replay);
    if (!Number.isInteger(run) || run < 1) throw new Error(`--replay: give a run's number, got ${opts.replay}`);
  }
  const body = { automation: id, ...(run !== undefined ? { run } : {}), ...moreOf(opts) };
  printDryRun((await postToHub('/api/dry-run', body, opts)) as DryRunReport);
}
