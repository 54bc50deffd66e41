// `smart-home action ENTITY ACTION [--param k=v ...]`: asks the running hub (HTTP API) to run it.
import { loadConfig, overridesFromEnv, type ConfigOverrides } from '../config/load.js';
import { parseSets } from './scripts.js';
import { readPassword } from './users.js';
import { readHubFile } from './hub-file.js';

export async function actionCommand(
  entity: string,
  action: string,
  opts: ConfigOverrides & { param?: string[]; url?: string; user?: string; passwordStdin?: boolean },
): Promise<void> {
  const params = parseSets(opts.param, '--param');
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
    res = await fetch(`${base}/api/entities/${encodeURIComponent(entity)}/actions/${encodeURIComponent(action)}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ params }),
    });
  } catch (err) {
    throw new Error(
      `cannot reach the hub at ${base}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message} (from ${opts.url ? '--url' : running ? `${config.data_dir}/hub.json, the running hub` : `the config in ${config.data_dir}; no running hub found there`}). Is \`smart-home serve\` running with this data dir? Otherwise pass --url or the same --http-port.`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `the hub answered ${res.status}`);
  process.stdout.write(`${entity}: ${action} done\n`);
}
