// What every integration needs: ids from names, bounded JSON from devices, warnings that a
// chatty broken device cannot flood the log with, and marking an entity whose device sent nonsense.
import type { Logger } from '../../log.js';
import type { EntityRegistry } from '../registry.js';

export function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'device'
  );
}

/** `wanted`, or `wanted_2`, `wanted_3` ... when an entity already has that id. */
export function freeId(registry: EntityRegistry, wanted: string): string {
  let id = wanted;
  for (let n = 2; registry.get(id); n++) id = `${wanted}_${n}`;
  return id;
}

/** Parses a device's JSON, refusing more than `maxBytes` (a state message is a few hundred bytes). */
export function parseJson(topic: string, payload: Buffer, maxBytes: number): unknown {
  if (payload.length > maxBytes)
    throw new Error(`${topic}: ${payload.length} bytes is more than the ${maxBytes} this topic may carry; ignored`);
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new Error(`malformed JSON on ${topic}: ${(err as Error).message}`);
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Logs each kind of problem of a topic at most once per `everyMs`, with how many were left out. */
export class Warnings {
  private readonly last = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(topic: string, reason: string, fields: Record<string, unknown> = {}): void {
    const key = `${topic}\0${reason.slice(0, 60)}`;
    const seen = this.last.get(key);
    const t = this.now();
    if (seen && t - seen.at < this.everyMs) {
      seen.skipped++;
      return;
    }
    if (this.last.size > 10_000) this.last.clear();
    this.last.set(key, { at: t, skipped: 0 });
    this.log.warn({ topic, ...fields, ...(seen?.skipped ? { repeated: seen.skipped } : {}) }, reason);
  }
}

/** Marks an entity whose device sent something it could not use; it keeps its last good state. */
export function markProblem(registry: EntityRegistry, entityId: string, problem: string | undefined): void {
  const e = registry.get(entityId);
  if (!e || (e.attributes.problem ?? undefined) === problem) return;
  registry.setState(entityId, e.state, { problem: problem ?? null });
}
