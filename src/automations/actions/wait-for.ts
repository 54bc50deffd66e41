// action step: wait until an entity is in a state (at once if it is) or an MQTT message arrives,
// at most `timeout`; kept across a restart like a delay. On timeout the run goes on, or stops
// (`on_timeout: stop`); the trace says which, and how long it waited.
import { capture } from '../../mqtt/topic.js';
import type { ActionConfig } from '../schema.js';
import { attributeOf, sameJson, type ActionStep } from '../types.js';
import { realClock } from '../../clock.js';
import { persistedWait } from '../waits.js';

type Config = Extract<ActionConfig, { type: 'wait_for' }>;

/** Ends the run there, as `skipped` with the reason (not a failure). */
export class StopRun extends Error {}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export const waitForAction: ActionStep<Config> = async (config, ctx, _trigger, signal, _label, run) => {
  const clock = ctx.clock ?? realClock;
  const begun = clock.now();
  const deadline = run?.resumed?.deadline ?? begun + config.timeout;
  const what = config.state
    ? `${config.state.entity}${config.state.attribute ? ` ${config.state.attribute}` : ''} to be ${JSON.stringify(config.state.state)}`
    : `a message on ${config.mqtt!.topic}${config.mqtt!.payload !== undefined ? ` with ${JSON.stringify(config.mqtt!.payload)}` : ''}`;
  const got = await persistedWait<string>(ctx, run, 'wait_for', deadline, signal, (done) => {
    if (config.state) {
      const { entity, attribute, state } = config.state;
      const check = () => {
        const e = ctx.registry.get(entity);
        if (sameJson(attribute ? attributeOf(e, attribute) : e?.state, state)) done('state');
      };
      const offs = [
        ctx.events.on('entity.stateChanged', (e) => e.entityId === entity && check()),
        ctx.events.on('entity.attributesChanged', (e) => e.entityId === entity && check()),
      ];
      check();
      return () => offs.forEach((off) => off());
    }
    const { topic, payload } = config.mqtt!;
    const off = ctx.events.on('mqtt.message', (m) => {
      if (m.retain || !capture(topic, m.topic)) return;
      if (payload === undefined || m.payload.toString('utf8') === payload) done('message');
    });
    ctx.bus
      .subscribe(topic, 1)
      .catch((err) => ctx.log.warn({ topic, err: (err as Error).message }, 'wait_for: cannot subscribe'));
    return () => {
      off();
      ctx.bus.unsubscribe(topic).catch(() => {});
    };
  });
  const waited = seconds(clock.now() - begun);
  if (got !== 'timeout') {
    if (run) run.detail = `waited ${waited} for ${what}`;
    return;
  }
  const detail = `timed out after ${seconds(config.timeout)} waiting for ${what}`;
  if (config.on_timeout === 'stop') throw new StopRun(`${detail}; the run stops there (on_timeout: stop)`);
  if (run) run.detail = `${detail}; the run goes on`;
};
