// Config file + SMART_HOME_* env + flags -> one validated Config. Precedence: flags > env > file > defaults.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { configSchema, type Config } from './schema.js';
import { didYouMean } from './suggest.js';
import { readYaml, describeIssues, locate, type LoadedYaml } from './yaml.js';
import { loadSecrets, resolveSecrets } from './secrets.js';
import { compileTemplate } from '../templates/jinja.js';

/** A mistake the user can fix in the config; the CLI prints it and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Flags the CLI accepts; each has an SMART_HOME_* twin. */
export interface ConfigOverrides {
  config?: string;
  data?: string;
  mqttPort?: number;
  httpPort?: number;
  broker?: string;
  logLevel?: string;
}

const ENV_KEYS: Record<string, keyof ConfigOverrides> = {
  SMART_HOME_CONFIG: 'config',
  SMART_HOME_DATA: 'data',
  SMART_HOME_MQTT_PORT: 'mqttPort',
  SMART_HOME_HTTP_PORT: 'httpPort',
  SMART_HOME_BROKER: 'broker',
  SMART_HOME_LOG_LEVEL: 'logLevel',
};
export const ENV_NAMES = Object.keys(ENV_KEYS);

export function overridesFromEnv(env: NodeJS.ProcessEnv): ConfigOverrides {
  const out: ConfigOverrides = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SMART_HOME_') || value === undefined) continue;
    const key = ENV_KEYS[name];
    if (!key) {
      const hint = didYouMean(name, ENV_NAMES);
      throw new ConfigError(`unknown environment variable ${name}${hint}; known: ${ENV_NAMES.join(', ')}`);
    }
    if (key === 'mqttPort' || key === 'httpPort') out[key] = parsePort(value, name);
    else out[key] = value;
  }
  return out;
}

export function parsePort(value: string, where: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new ConfigError(`${where}: "${value}" is not a port number (0-65535)`);
  return n;
}

function readConfigFile(file: string): LoadedYaml {
  let loaded: LoadedYaml;
  try {
    loaded = readYaml(file, 'config file');
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const data = loaded.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(
      `${file}:1:1: the config must be a mapping of keys (like "broker:"), got ${Array.isArray(data) ? 'a list' : typeof data}`,
    );
  }
  return { ...loaded, data };
}

/**
 * Which file to read: --config, else smart-home.yaml in the data dir (--data, or the default
 * ./data: `npm start` passes no --data), else in cwd; none is fine.
 */
function findConfigFile(o: ConfigOverrides, cwd: string): { file: string; inDataDir: boolean } | undefined {
  if (o.config) {
    const f = path.resolve(cwd, o.config);
    if (!existsSync(f)) throw new ConfigError(`${f}: config file not found (given by --config / SMART_HOME_CONFIG)`);
    return { file: f, inDataDir: false };
  }
  const inData = path.resolve(cwd, o.data ?? DEFAULT_DATA_DIR, 'smart-home.yaml');
  if (existsSync(inData)) return { file: inData, inDataDir: true };
  const inCwd = path.resolve(cwd, 'smart-home.yaml');
  return existsSync(inCwd) ? { file: inCwd, inDataDir: false } : undefined;
}

const DEFAULT_DATA_DIR = './data';

export interface LoadedConfig {
  config: Config;
  file?: string;
}

export function loadConfig(
  flags: ConfigOverrides,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): LoadedConfig {
  const o = { ...overridesFromEnv(env), ...stripUndefined(flags) };
  const found = findConfigFile(o, cwd);
  const file = found?.file;
  const loaded = file ? readConfigFile(file) : undefined;
  const raw = (loaded?.data ?? {}) as Record<string, unknown>;
  // a file found in the data dir lives there: that dir is the data dir unless the file says otherwise
  const fileSetsDataDir = raw.data_dir !== undefined;
  const base = file ? path.dirname(file) : cwd;
  if (loaded && typeof raw.data_dir !== 'string' && fileSetsDataDir)
    throw new ConfigError(`${locate(loaded, ['data_dir'])}: data_dir must be a path (it cannot be a !secret)`);
  const dataDir = o.data
    ? path.resolve(cwd, o.data)
    : found?.inDataDir && !fileSetsDataDir
      ? path.dirname(file!)
      : path.resolve(base, (raw.data_dir as string | undefined) ?? DEFAULT_DATA_DIR);
  if (loaded && loaded.text.includes('!secret')) {
    try {
      resolveSecrets(raw, loadSecrets(dataDir), (keyPath) => locate(loaded, keyPath));
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(describeIssues(result.error.issues, loaded, configSchema, raw));
  }
  const config = result.data;
  for (const [name, source] of Object.entries(config.notify.templates)) {
    try {
      compileTemplate(source);
    } catch (err) {
      throw new ConfigError(
        `${locate(loaded, ['notify', 'templates', name])}: notify.templates.${name}: ${(err as Error).message}`,
      );
    }
  }
  // Relative paths in the file are relative to the file; from flags, to cwd.
  config.data_dir = dataDir;
  if (o.logLevel) {
    const lvl = configSchema.shape.log_level.safeParse(o.logLevel);
    if (!lvl.success)
      throw new ConfigError(
        `--log-level: "${o.logLevel}" is not one of fatal, error, warn, info, debug, trace, silent`,
      );
    config.log_level = lvl.data;
  }
  if (o.broker !== undefined) {
    if (!/^(mqtts?|wss?):\/\//.test(o.broker))
      throw new ConfigError(`--broker: "${o.broker}" must start with mqtt://, mqtts://, ws:// or wss://`);
    config.mqtt.url = o.broker;
  }
  if (o.mqttPort !== undefined) {
    const tcp = config.broker.listeners.find((l) => l.type === 'tcp');
    if (tcp) tcp.port = o.mqttPort;
    else config.broker.listeners.unshift({ type: 'tcp', host: '127.0.0.1', port: o.mqttPort });
  }
  if (o.httpPort !== undefined) config.http.port = o.httpPort;
  for (const l of config.broker.listeners) {
    if (l.type === 'tls') {
      l.cert = path.resolve(base, l.cert);
      l.key = path.resolve(base, l.key);
      if (l.ca) l.ca = path.resolve(base, l.ca);
    }
  }
  if (config.broker.acl_file) config.broker.acl_file = path.resolve(base, config.broker.acl_file);
  return { config, file };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
