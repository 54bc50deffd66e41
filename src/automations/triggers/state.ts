// state trigger: an entity's state changed, optionally from/to values, optionally held `for` a
// while. A pending `for` is kept across a restart (src/store/waits.ts): after one, if the entity is
// still in that state, it fires at the original deadline (a late one at once, as `on_restart` allows).
import type { TriggerConfig } from '../schema.js';
import { attributeOf, sameJson, type TriggerEvent, type TriggerFactory } from '../types.js';
import { realClock } from '../../clock.js';
import { describeDuration } from '../duration.js';

type Config = Extract<TriggerConfig, { type: 'state' }>;

export const stateTrigger: TriggerFactory<Config> = (config, ctx, fire, where) => {
  const clock = ctx.clock ?? realClock;
  let off: (() => void) | undefined;
  let pending: { timer: unknown; row?: number } | undefined;
  let offAttributes: (() => void) | undefined;
  /** With `attribute`: its last value, to tell a change of it from a change of something else. */
  let last: unknown;
  const current = () => {
    const e = ctx.registry.get(config.entity);
    return config.attribute ? attributeOf(e, config.attribute) : e?.state;
  };
  const cancel = () => {
    if (!pending) return;
    clock.clearTimeout(pending.timer);
    if (pending.row !== undefined) ctx.waits?.remove(pending.row);
    pending = undefined;
  };
  /** Fires `event` at `deadline` unless the state changes first; the wait is stored meanwhile. */
  const hold = (event: TriggerEvent, deadline: number, note: string, row?: number) => {
    row ??=
      where && ctx.waits
        ? ctx.waits.add({
            automation: where.automation,
            kind: 'state_for',
            step: where.step,
            event: JSON.stringify(event),
            started: event.time,
            deadline,
          })
        : undefined;
    const p: { timer: unknown; row?: number } = { timer: undefined, row };
    const due = () => {
      const left = deadline - clock.now();
      if (left > 0) {
        p.timer = clock.setTimeout(due, Math.min(left, 2 ** 31 - 1));
        return;
      }
      if (p.row !== undefined) ctx.waits?.remove(p.row);
      pending = undefined;
      fire({ ...event, time: clock.now(), description: `${event.description} and stayed for ${config.for} ms${note}` });
    };
    pending = p;
    due();
  };
  /** A `for` that was pending when the hub stopped: held on if the entity is still in that state. */
  const resume = () => {
    if (!where || !ctx.waits || config.for === undefined) return;
    for (const row of ctx.waits.of(where.automation)) {
      if (row.kind !== 'state_for' || row.step !== where.step) continue;
      const event = JSON.parse(row.event) as TriggerEvent;
      const late = clock.now() - row.deadline;
      const policy = where.onRestart;
      const still = sameJson(current(), event.to);
      if (!still || pending || policy === 'skip' || (typeof policy === 'object' && late > policy.run_if_missed)) {
        ctx.waits.remove(row.id);
        continue;
      }
      const when = late > 0 ? `${describeDuration(late)} late` : `${describeDuration(-late)} to go`;
      hold(event, row.deadline, ` (resumed after restart, ${when})`, row.id);
    }
  };
  return {
    async start() {
      last = config.attribute ? current() : undefined;
      const changed = (e: { entityId: string; oldState?: unknown; newState?: unknown }) => {
        if (e.entityId !== config.entity) return;
        let from: unknown = e.oldState;
        let to: unknown = e.newState;
        if (config.attribute) {
          from = last;
          to = current();
          if (sameJson(from, to)) return; // another attribute changed
          last = to;
        }
        // leaving the awaited state cancels a pending `for`
        if (pending && where)
          ctx.nearMiss?.(where.automation, {
            time: clock.now(),
            step: where.step,
            what: config.entity,
            reason: `${config.entity} changed to ${JSON.stringify(to)} before it had stayed ${describeDuration(config.for ?? 0)}`,
          });
        cancel();
        const miss = (reason: string) =>
          where &&
          ctx.nearMiss?.(where.automation, { time: clock.now(), step: where.step, what: config.entity, reason });
        if (config.from !== undefined && !sameJson(from, config.from))
          return miss(
            `${config.entity} changed from ${JSON.stringify(from)}, wants from ${JSON.stringify(config.from)}`,
          );
        if (config.to !== undefined && !sameJson(to, config.to))
          return miss(`${config.entity} changed to ${JSON.stringify(to)}, wants ${JSON.stringify(config.to)}`);
        const event = {
          type: 'state',
          time: clock.now(),
          description: `${config.entity} changed from ${JSON.stringify(from)} to ${JSON.stringify(to)}`,
          entity: config.entity,
          from,
          to,
        };
        if (config.for === undefined) return fire(event);
        hold(event, event.time + config.for, '');
      };
      off = ctx.events.on('entity.stateChanged', changed);
      // an attribute can change while the state stays (a light dimmed while on)
      if (config.attribute) offAttributes = ctx.events.on('entity.attributesChanged', changed);
      resume();
    },
    async stop() {
      off?.();
      offAttributes?.();
      // the stored wait stays: a shutdown resumes it, any other stop removes the automation's waits
      if (pending) clock.clearTimeout(pending.timer);
      pending = undefined;
    },
  };
};
