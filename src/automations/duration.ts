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

/** "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h": a duration as the trace tells it. */
export function describeDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'min'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n} ${u}`)
    .join(' ');
}

/** A duration that may be negative: "-30m" (before), "+1h" or "45m" (after), or seconds. */
export const signedDuration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const neg = typeof v === 'string' ? v.trim().startsWith('-') : v < 0;
  const body = typeof v === 'string' ? v.trim().replace(/^[-+]\s*/, '') : Math.abs(v);
  const ms = parseDuration(body);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not an offset: use e.g. -30m (before), +1h or 45m (after), or a number of seconds`,
    });
    return z.NEVER;
  }
  return neg ? -ms : ms;
});
