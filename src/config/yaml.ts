// YAML files validated by a zod schema, with errors located at file:line:col of the offending
// key, unknown keys with a did-you-mean. Shared by the config file and automations.yaml.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node, type Document } from 'yaml';
import type { z } from 'zod';
import { didYouMean } from './suggest.js';
import { secretTag } from './secrets.js';

export class YamlError extends Error {
  override name = 'YamlError';
}

export interface LoadedYaml {
  file: string;
  text: string;
  data: unknown;
  doc: Document;
  lines: LineCounter;
}

export function readYaml(file: string, what: string, text?: string): LoadedYaml {
  let source = text;
  if (source === undefined) {
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      throw new YamlError(`${file}: cannot read ${what}: ${(err as Error).message}`);
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    customTags: [secretTag],
  });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new YamlError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  return { file, text: source, data: doc.toJS(), doc, lines };
}

/** file:line:col of the node at `keyPath` (or of its nearest existing parent). */
export function locate(loaded: LoadedYaml | undefined, keyPath: PropertyKey[]): string {
  if (!loaded) return '(defaults)';
  const { line, col } = position(loaded, keyPath);
  return `${loaded.file}:${line}:${col}`;
}

export function position(
  loaded: LoadedYaml,
  keyPath: PropertyKey[],
  valueStart = false,
): { line: number; col: number } {
  let node: Node | null | undefined = loaded.doc.contents as Node;
  let offset = 0;
  for (const key of keyPath) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown })?.value === key);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value as Node;
      if (valueStart && key === keyPath.at(-1)) offset = node?.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key] as Node;
      offset = node?.range?.[0] ?? offset;
    } else break;
  }
  return loaded.lines.linePos(offset);
}

/** The keys the schema allows at a path, for did-you-mean. */
function knownKeys(schema: z.ZodType, keyPath: PropertyKey[], data: unknown): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let shape: any = schema;
  let value: unknown = data;
  const unwrap = () => {
    while (shape?.def?.innerType) shape = shape.def.innerType;
    if (shape?.def?.type === 'union' && value && typeof value === 'object') {
      // a discriminated union: pick the option whose literal `type` matches the data
      const t = (value as { type?: unknown }).type;
      shape =
        shape.def.options.find((o: { shape?: { type?: { def?: { values?: unknown[] } } } }) =>
          o.shape?.type?.def?.values?.includes(t),
        ) ?? shape;
    }
  };
  for (const k of keyPath) {
    unwrap();
    value = (value as Record<PropertyKey, unknown> | undefined)?.[k as string];
    if (typeof k === 'number') shape = shape?.def?.element;
    else shape = shape?.shape?.[k];
  }
  unwrap();
  if (shape?.def?.type === 'union')
    return [...new Set(shape.def.options.flatMap((o: { shape: object }) => Object.keys(o.shape)))] as string[];
  return shape?.shape ? Object.keys(shape.shape) : [];
}

/** One message per issue, each located, unknown keys with a did-you-mean and the allowed keys. */
export function describeIssues(
  issues: z.core.$ZodIssue[],
  loaded: LoadedYaml | undefined,
  schema: z.ZodType,
  data: unknown,
  prefix: PropertyKey[] = [],
): string {
  return issues
    .map((issue) => {
      const keyPath = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        const parent = keyPath.join('.');
        const known = knownKeys(schema, issue.path, data);
        return issue.keys
          .map(
            (k) =>
              `${locate(loaded, [...keyPath, k])}: unknown key "${parent ? parent + '.' : ''}${k}"${didYouMean(k, known)}; allowed here: ${known.join(', ')}`,
          )
          .join('\n');
      }
      return `${locate(loaded, keyPath)}: ${keyPath.join('.') || '(top level)'}: ${issue.message}`;
    })
    .join('\n');
}
