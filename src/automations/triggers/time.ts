// time trigger: a cron expression (5 or 6 fields, via croner) in a time zone. With the
// automation's `on_restart: {run_if_missed: D}`, a time it was due while the hub was down, at most
// D ago, runs once at start (the latest one; never more than one catch-up).
import { Cron } from 'croner';
import type { TriggerConfig } from '../schema.js';
import type { TriggerFactory } from '../types.js';
import { realClock } from '../../clock.js';
import { describeDuration } from '../duration.js';

type Config = Extract<TriggerConfig, { type: 'time' }>;

/** Throws a clear error for a bad expression or time zone (checked when automations load). */
export function checkCron(config: Config): void {
  let next: Date | null;
  try {
    const job = new Cron(config.cron, { timezone: config.timezone, paused: true });
    next = job.nextRun();
    job.stop();
  } catch (err) {
    throw new Error(
      `"${config.cron}"${config.timezone ? ` in ${config.timezone}` : ''} is not a valid schedule: ${(err as Error).message}`,
    );
  }
  // croner takes a one-off time too (an ISO date); one in the past would never run
  if (!next)
    throw new Error(
      `"${config.cron}" never comes again (a date in the past?): it would never run; give a schedule that repeats`,
    );
}

/** The latest time of the schedule in (after, until], or undefined. */
export function lastDue(cron: string, timezone: string | undefined, after: number, until: number): number | undefined {
  const job = new Cron(cron, { timezone, paused: true });
  let found: number | undefined;
  let at = new Date(after);
  // bounded: a schedule every second over a long window stops at the 10 000th time
  for (let i = 0; i < 10_000; i++) {
    const next = job.nextRun(at);
    if (!next || next.getTime() > until) break;
    found = next.getTime();
    at = next;
  }
  job.stop();
  return found;
}

/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer wait is taken in steps. */
const MAX_TIMER = 2 ** 31 - 1;

export const timeTrigger: TriggerFactory<Config> = (config, ctx, fire, where) => {
  // croner computes the times (time zones, DST, L/W/#); the hub's clock keeps them, so a test's
  // clock (smart-home test, test/helpers.ts fakeClock) moves schedules too
  let job: Cron | undefined;
  let handle: unknown;
  const clock = ctx.clock ?? realClock;
  const key = where ? `${where.automation} ${where.step}` : undefined;
  const arm = () => {
    const now = clock.now();
    const next = job?.nextRun(new Date(now));
    if (!next) return;
    const at = next.getTime();
    handle = clock.setTimeout(
      () => {
        if (!job) return;
        if (clock.now() < at) return arm(); // a long wait taken in steps, or woken a little early
        const time = clock.now();
        if (key) ctx.fired?.set(key, time);
        fire({ type: 'time', time, description: `schedule ${config.cron}` });
        arm();
      },
      Math.min(Math.max(0, at - now), MAX_TIMER),
    );
  };
  return {
    async start() {
      job = new Cron(config.cron, { timezone: config.timezone, paused: true });
      arm();
      const policy = where?.onRestart;
      if (!key || typeof policy !== 'object' || ctx.lastAlive === undefined) return;
      // the catch-up: the latest time due in the downtime (after the last run and the last heartbeat), at most run_if_missed ago
      const now = clock.now();
      const since = Math.max(ctx.lastAlive, ctx.fired?.get(key) ?? 0, now - policy.run_if_missed);
      const due = lastDue(config.cron, config.timezone, since, now);
      if (due === undefined) return;
      ctx.fired?.set(key, now);
      fire({
        type: 'time',
        time: now,
        description: `schedule ${config.cron}: the run due at ${new Date(due).toISOString()} was missed while the hub was down; run now, ${describeDuration(now - due)} late (run_if_missed ${describeDuration(policy.run_if_missed)})`,
      });
    },
    async stop() {
      job?.stop();
      job = undefined;
      clock.clearTimeout(handle);
    },
  };
};
