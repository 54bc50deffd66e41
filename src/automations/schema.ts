// The automation schema: triggers, conditions, actions, mode. One list of each kind's names:
// the discriminated unions below, matched by the registries in triggers/, conditions/, actions/.
import { z } from 'zod';
import { duration, signedDuration } from './duration.js';
import { SUN_EVENTS } from '../sun/sun.js';

const sunEvent = z.enum(SUN_EVENTS);

const entityId = z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z0-9_]+$/, 'must be an entity id like light.hall');
const jsonValue: z.ZodType<unknown> = z.unknown();

export const triggerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('mqtt'),
    topic: z.string().min(1),
    /** Fire only when the payload (text) equals this. */
    payload: z.string().optional(),
    /** Fire only when the JSON payload has these values at these paths, e.g. {occupancy: true} or {"state.value": 1}. */
    json: z.record(z.string(), jsonValue).optional(),
    /** A retained message (one the broker keeps and hands to each new subscriber, e.g. at start) is not an event unless `include`. */
    retained: z.enum(['ignore', 'include']).default('ignore'),
    /** e154's trigger script: its automationTrigger*(msg) runs first; false stops the run. */
    script_file: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('time'),
    cron: z.string().min(1),
    timezone: z.string().optional(),
    /** e154's trigger script: its automationTrigger*(msg) runs first; false stops the run. */
    script_file: z.string().min(1).optional(),
  }),
  z.strictObject({ type: z.literal('interval'), every: duration }),
  z.strictObject({
    type: z.literal('state'),
    entity: entityId,
    /** Compare this attribute of the state object (e.g. "state" for {"state":"ON"}) instead of the whole state. */
    attribute: z.string().optional(),
    from: jsonValue.optional(),
    to: jsonValue.optional(),
    for: duration.optional(),
    /** e154's trigger script: its automationTrigger*(msg) runs first; false stops the run. */
    script_file: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('sun'),
    /** sunrise, sunset, dawn and dusk (civil twilight: 6° below the horizon), noon (highest). */
    event: sunEvent,
    /** Before (-30m) or after (+1h) the event. */
    offset: signedDuration.default(0),
  }),
  z.strictObject({
    type: z.literal('system'),
    /** started, stopping, or automation_failed: another automation's run failed (to be told of it). */
    event: z.enum(['started', 'stopping', 'automation_failed']),
    /** e154's trigger script: its automationTrigger*(msg) runs first; false stops the run. */
    script_file: z.string().min(1).optional(),
  }),
]);

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'must be a time of day like 18:00 or 06:30:00');

export const conditionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('state'), entity: entityId, attribute: z.string().optional(), state: jsonValue }),
  z.strictObject({
    type: z.literal('time'),
    after: clock.optional(),
    before: clock.optional(),
    weekdays: z.array(weekday).optional(),
    timezone: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('sun'),
    /** After this event (with after_offset) and, with before, until that one: a window that may span midnight. */
    after: sunEvent.optional(),
    after_offset: signedDuration.default(0),
    before: sunEvent.optional(),
    before_offset: signedDuration.default(0),
  }),
  z.strictObject({
    type: z.literal('script'),
    /** A sandboxed expression; or script_file, whose automationCondition(entityId) decides (e154's). */
    expression: z.string().min(1).optional(),
    script_file: z.string().min(1).optional(),
  }),
]);

export const actionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('action'),
    entity: entityId,
    action: z.string().min(1),
    params: z.record(z.string(), jsonValue).optional(),
  }),
  z.strictObject({
    type: z.literal('publish'),
    topic: z.string().min(1),
    payload: jsonValue.optional(),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
    retain: z.boolean().default(false),
  }),
  z.strictObject({
    type: z.literal('script'),
    /** Code; or script_file, whose automationAction(entityId) runs (e154's). */
    code: z.string().min(1).optional(),
    script_file: z.string().min(1).optional(),
    language: z.enum(['js', 'ts', 'coffee']).default('js'),
  }),
  z.strictObject({ type: z.literal('delay'), for: duration }),
  z.strictObject({
    type: z.literal('wait_for'),
    /** Until the entity is in this state (or its attribute has this value); at once if it already is. */
    state: z.strictObject({ entity: entityId, attribute: z.string().optional(), state: jsonValue }).optional(),
    /** Until a message arrives on this topic (a retained one does not count), optionally with this payload. */
    mqtt: z.strictObject({ topic: z.string().min(1), payload: z.string().optional() }).optional(),
    timeout: duration,
    /** What happens when the time is up first: the run goes on, or stops there. */
    on_timeout: z.enum(['continue', 'stop']).default('continue'),
  }),
  z.strictObject({
    type: z.literal('notify'),
    /** A target of notify.targets in smart-home.yaml. */
    target: z.string().min(1),
    message: z.string().min(1).max(16384),
    title: z.string().max(256).optional(),
    priority: z.enum(['min', 'low', 'default', 'high', 'urgent']).optional(),
    /** Wait until the target accepted it (default: done once it is in the outbox). */
    wait: z.boolean().default(false),
  }),
]);

export const automationSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-"'),
  name: z.string().optional(),
  enabled: z.boolean().default(true),
  mode: z.enum(['single', 'queued', 'restart', 'parallel']).default('single'),
  /** For queued: runs waiting; for parallel: runs at once. */
  max: z.number().int().min(1).max(1000).default(10),
  /**
   * After a restart: `resume` a run that was waiting (a delay, a wait_for) at its original deadline, late
   * ones at once; `skip` it; or `{run_if_missed: 30m}`: resume what is at most that late, and run once a
   * schedule (time trigger) that fell in the downtime at most that long ago.
   */
  on_restart: z
    .union([z.enum(['resume', 'skip']), z.strictObject({ run_if_missed: duration })], {
      error: 'must be resume, skip or {run_if_missed: <duration>} (e.g. {run_if_missed: 30m})',
    })
    .default('resume'),
  triggers: z.array(triggerSchema).min(1),
  conditions: z.array(conditionSchema).default([]),
  actions: z.array(actionSchema).min(1),
});

export const automationsFileSchema = z.array(automationSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((a, i) => {
    if (seen.has(a.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate automation id "${a.id}"` });
    seen.add(a.id);
    a.conditions.forEach((c, j) => {
      if (c.type === 'sun' && !c.after && !c.before)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'conditions', j],
          message: 'a sun condition needs after:, before: or both',
        });
    });
    a.actions.forEach((x, j) => {
      if (x.type === 'wait_for' && !x.state === !x.mqtt)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'actions', j],
          message: 'wait_for needs one of state: {entity, state} or mqtt: {topic}',
        });
    });
  });
});

export type Automation = z.infer<typeof automationSchema>;
export type TriggerConfig = z.infer<typeof triggerSchema>;
export type ConditionConfig = z.infer<typeof conditionSchema>;
export type ActionConfig = z.infer<typeof actionSchema>;
