// Durations in automations: "500ms", "30s", "2m", "1h", "1h30m", or a number of seconds.
import { z } from 'zod';

const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 };

export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return v >= 0 && Number.isFinite(v) ? v * 1000 : undefined;
  const parts = [...v.trim().matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g)];
  if (
    parts.length === 0 ||
    parts
      .map((p) => p[0])
      .join('')
      .replace(/\s/g, '') !== v.replace(/\s/g, '')
  )
    return undefined;
  return parts.reduce((ms, p) => ms + Number(p[1]) * UNIT[p[2]!]!, 0);
}

/** A zod schema for a duration, giving milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not a duration: use e.g. 500ms, 30s, 2m, 1h30m or a number of seconds`,
    });
    return z.NEVER;
  }
  return ms;
});
