// `!secret name` in smart-home.yaml and automations.yaml, read from secrets.yaml in the data dir
// (Home Assistant's convention). A value is put in place when the file is loaded; the files keep
// the reference, so the API (which serves automations.yaml as text) never shows a value, and every
// value is registered so the log sink writes "[secret]" instead of it, whatever logs it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, type Scalar } from 'yaml';
import { readYaml, type LoadedYaml } from './yaml.js';

/** What `!secret name` parses to until the secrets are put in. */
export class SecretRef {
  constructor(readonly name: string) {}
  toJSON(): string {
    return `!secret ${this.name}`;
  }
}

/** The yaml library's custom tag for `!secret name` (a plain scalar: the name). */
export const secretTag = {
  tag: '!secret',
  identify: (v: unknown) => v instanceof SecretRef,
  resolve: (name: string) => new SecretRef(name.trim()),
  stringify: (item: Scalar) => (item.value as SecretRef).name,
};

export class SecretsError extends Error {
  override name = 'SecretsError';
}

/** The file's name/value pairs ({} when there is none). Values are strings, numbers or booleans. */
export interface Secrets {
  file: string;
  values: Map<string, string | number | boolean>;
}

export function loadSecrets(dataDir: string): Secrets {
  const file = path.join(dataDir, 'secrets.yaml');
  const values = new Map<string, string | number | boolean>();
  if (!existsSync(file)) return { file, values };
  let loaded: LoadedYaml;
  try {
    loaded = readYaml(file, 'the secrets file');
  } catch (err) {
    throw new SecretsError((err as Error).message);
  }
  const { doc, lines } = loaded;
  if (doc.contents === null) return { file, values };
  if (!isMap(doc.contents))
    throw new SecretsError(
      `${file}:1:1: the secrets file must be a mapping of names to values, like "telegram_token: 123:abc"`,
    );
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    const at = lines.linePos((pair.key as Scalar | null)?.range?.[0] ?? 0);
    const where = `${file}:${at.line}:${at.col}`;
    if (typeof key !== 'string' || key === '') throw new SecretsError(`${where}: a secret's name must be a word`);
    const v = isScalar(pair.value) ? pair.value.value : undefined;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new SecretsError(
        `${where}: secret "${key}" must be a single value (text or a number), not a list or mapping`,
      );
    values.set(key, v);
  }
  return { file, values };
}

/**
 * Puts the secrets in place of every SecretRef in `data` (in place); `where(keyPath)` locates a
 * reference for the error when a name is missing.
 */
export function resolveSecrets(data: unknown, secrets: Secrets, where: (keyPath: PropertyKey[]) => string): void {
  const walk = (node: unknown, keyPath: PropertyKey[]): unknown => {
    if (node instanceof SecretRef) {
      const value = secrets.values.get(node.name);
      if (value === undefined) {
        const known = [...secrets.values.keys()];
        throw new SecretsError(
          `${where(keyPath)}: !secret ${node.name}: no secret "${node.name}" in ${secrets.file}${known.length ? ` (it has: ${known.join(', ')})` : existsSync(secrets.file) ? ' (it is empty)' : ' (there is no such file; create it with a line like "' + node.name + ': the-value")'}`,
        );
      }
      registerSecret(String(value));
      return value;
    }
    if (Array.isArray(node)) node.forEach((v, i) => (node[i] = walk(v, [...keyPath, i])));
    else if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node)) (node as Record<string, unknown>)[k] = walk(v, [...keyPath, k]);
    return node;
  };
  walk(data, []);
}

// The values put in place in this process: the log sink hides them (see src/log.ts).
const known = new Set<string>();

export function registerSecret(value: string): void {
  // a very short value ("1", "on") would turn every log line into noise and hides nothing
  if (value.length >= 4) known.add(value);
}

/** `line` with every registered secret value (also as JSON escapes it) replaced by [secret]. */
export function hideSecrets(line: string): string {
  if (known.size === 0) return line;
  let out = line;
  for (const v of known) {
    if (out.includes(v)) out = out.split(v).join('[secret]');
    const escaped = JSON.stringify(v).slice(1, -1);
    if (escaped !== v && out.includes(escaped)) out = out.split(escaped).join('[secret]');
  }
  return out;
}
