// action step: publish a message (strings as is, anything else as JSON; null clears with retain).
// The topic and payload may hold templates (`{{ trigger.json.seq }}`): rendered on the host, with
// no sandbox, compiled once per configured action.
import type { ActionConfig } from '../schema.js';
import type { ActionStep } from '../types.js';
import { compileValue, isLiteral, render, templateVars } from '../templates.js';

type Config = Extract<ActionConfig, { type: 'publish' }>;

interface Prepared {
  topic: ReturnType<typeof compileValue>;
  payload: ReturnType<typeof compileValue>;
  templated: boolean;
}

const prepared = new WeakMap<Config, Prepared>();

/** A template of the action outside the subset, and the field (`topic` or `payload`) it is in. */
export class PublishTemplateError extends Error {
  constructor(
    readonly field: 'topic' | 'payload',
    cause: unknown,
  ) {
    super((cause as Error).message);
  }
}

function compileField(field: 'topic' | 'payload', value: unknown): ReturnType<typeof compileValue> {
  try {
    return compileValue(value as Parameters<typeof compileValue>[0]);
  } catch (err) {
    throw new PublishTemplateError(field, err);
  }
}

/** Compiles the action's templates (throws PublishTemplateError for one outside the subset). */
export function preparePublish(config: Config): Prepared {
  let p = prepared.get(config);
  if (!p) {
    const topic = compileField('topic', config.topic);
    const payload = compileField('payload', config.payload ?? null);
    p = { topic, payload, templated: !isLiteral(topic) || !isLiteral(payload) };
    prepared.set(config, p);
  }
  return p;
}

export const publishAction: ActionStep<Config> = async (config, ctx, trigger, _signal, label) => {
  const p = preparePublish(config);
  const vars = p.templated ? templateVars(trigger) : {};
  const topic = render(p.topic, vars);
  if (typeof topic !== 'string' || topic === '')
    throw new Error(`publish: the topic template "${config.topic}" rendered ${JSON.stringify(topic)}, not a topic`);
  const v = render(p.payload, vars);
  const bytes =
    v === undefined || v === null ? Buffer.alloc(0) : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  await ctx.bus.publish(topic, bytes, { qos: config.qos, retain: config.retain }, { script: label });
};
