// sun condition: after an event (sunset -30m) and/or before one (sunrise). With both it is a window
// that may span midnight: true from the `after` event until the `before` event that follows it
// (after: sunset, before: sunrise is the night). With only `after`: from it until midnight; with
// only `before`: from midnight until it (the home's time zone). Polar days and nights are answered
// by the last time each event happened (up to a year back), not an error.
import type { ConditionConfig } from '../schema.js';
import type { ConditionCheck } from '../types.js';
import { realClock } from '../../clock.js';
import { describeOffset } from '../triggers/sun.js';

type Config = Extract<ConditionConfig, { type: 'sun' }>;

export const sunCondition: ConditionCheck<Config> = async (config, ctx) => {
  const sun = ctx.sun;
  if (!sun) throw new Error('a sun condition needs home: {latitude, longitude} in smart-home.yaml');
  const now = (ctx.clock ?? realClock).now();
  const tz = sun.timezone;
  const day = (t: number) => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date(t));
  const clock = (t: number | null) =>
    t === null
      ? 'not within a year'
      : new Intl.DateTimeFormat('en-GB', {
          timeZone: tz,
          hour: '2-digit',
          minute: '2-digit',
          ...(day(t) === day(now) ? {} : { month: 'short', day: 'numeric' }),
        }).format(new Date(t));
  const name = (e: string, off: number) => `${e}${describeOffset(off)}`;
  const lastAfter = config.after ? sun.last(config.after, now, config.after_offset) : null;
  const lastBefore = config.before ? sun.last(config.before, now, config.before_offset) : null;
  const nextBefore = config.before ? sun.next(config.before, now, config.before_offset) : null;
  let result: boolean;
  if (config.after && config.before) result = (lastAfter ?? -Infinity) > (lastBefore ?? -Infinity);
  else if (config.after) result = lastAfter !== null && day(lastAfter) === day(now);
  else result = nextBefore !== null && day(nextBefore) === day(now);
  const parts = [
    config.after ? `${name(config.after, config.after_offset)} was ${clock(lastAfter)}` : undefined,
    config.before ? `${name(config.before, config.before_offset)} comes ${clock(nextBefore)}` : undefined,
  ].filter(Boolean);
  return { result, detail: `${parts.join('; ')} (now ${clock(now)})` };
};
