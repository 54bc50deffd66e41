// action step: a notification to a target of notify.targets, through the hub's durable outbox.
// The message and title may hold templates (`{{ trigger.json.temperature }}`), rendered on the
// host. The step is done once the notification is stored (the outbox delivers it, across
// restarts); with `wait: true` it waits until the target accepted it, and fails when it did not.
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';
import { compileValue, render, templateVars } from '../templates.js';

type Config = Extract<ActionConfig, { type: 'notify' }>;

const prepared = new WeakMap<
  Config,
  { message: ReturnType<typeof compileValue>; title?: ReturnType<typeof compileValue> }
>();

/** Compiles the step's templates (throws for one outside the subset, naming the field). */
export function prepareNotify(config: Config) {
  let p = prepared.get(config);
  if (!p) {
    p = {
      message: compileValue(config.message),
      title: config.title === undefined ? undefined : compileValue(config.title),
    };
    prepared.set(config, p);
  }
  return p;
}

export const notifyAction: ActionStep<Config> = async (config, ctx, trigger, _signal, label) => {
  if (!ctx.notify) throw new Error('notify: notifications are not available in this run');
  const p = prepareNotify(config);
  const vars = templateVars(trigger);
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const message = text(render(p.message, vars));
  const title = p.title ? text(render(p.title, vars)) : undefined;
  const { done } = ctx.notify.send(
    config.target,
    message,
    { ...(title ? { title } : {}), ...(config.priority ? { priority: config.priority } : {}) },
    `automation ${label}`,
  );
  if (config.wait) await done;
  else done.catch(() => undefined); // its fate is kept in the outbox (and logged)
};
