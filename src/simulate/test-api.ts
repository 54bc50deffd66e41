// The host side of the test API (src/scripts/guest/testing.ts): home.* and clock.* for a test
// file's sandbox, over one simulated home. The guest is user code: every argument is checked here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '../automations/duration.js';
import { ENTITY_ID } from '../entities/registry.js';
import { filterProblem, publishTopicProblem } from '../mqtt/topic.js';
import type { ScriptExtra } from '../scripts/engine.js';
import type { Published, SimulatedHome } from './home.js';

let bundle: string | undefined;
function testBundle(): string {
  return (bundle ??= readFileSync(fileURLToPath(new URL('../scripts/guest/test.bundle.js', import.meta.url)), 'utf8'));
}

const text = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${what} must be a text, got ${JSON.stringify(v)}`);
  return v;
};

const entityId = (v: unknown, fn: string): string => {
  const id = text(v, `${fn}: the entity id`);
  if (!ENTITY_ID.test(id)) throw new TypeError(`${fn}: "${id}" is not an entity id (domain.name, e.g. light.hall)`);
  return id;
};

const record = (v: unknown, what: string): Record<string, unknown> => {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what} must be an object`);
  return v as Record<string, unknown>;
};

/** A payload as a test reads it: JSON parsed when it is JSON, else its text. */
function decoded(p: Published): unknown {
  const s = p.payload.toString('utf8');
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** A duration for clock.advance: ms, or a text such as '10m', '1h30m', '2d'. */
function ms(v: unknown, fn: string): number {
  // a number is milliseconds, as setTimeout's and Timer.in's (in automations.yaml a bare number is seconds)
  const d =
    typeof v === 'number' ? (Number.isFinite(v) ? v : undefined) : typeof v === 'string' ? parseDuration(v) : undefined;
  if (d === undefined || d < 0)
    throw new TypeError(`${fn}: give a duration such as 5000, '30s', '10m' or '1h', got ${JSON.stringify(v)}`);
  return d;
}

export function testApi(home: SimulatedHome): ScriptExtra {
  // an error's text names the user's scripts, not the simulated home's copies of them
  const shownErrors = (calls: ScriptExtra['asyncCalls']): ScriptExtra['asyncCalls'] =>
    Object.fromEntries(
      Object.entries(calls).map(([name, fn]) => [
        name,
        (args: unknown[]) =>
          fn(args).catch((err: Error) => {
            throw Object.assign(err, { message: home.shown(err.message) });
          }),
      ]),
    );
  return {
    install: { code: testBundle(), filename: 'smart-home:test' },
    calls: {
      'home.device': ([id, spec]) => {
        const s = record(spec, 'home.device: the device');
        home.device(entityId(id, 'home.device'), {
          ...(s.state !== undefined ? { state: s.state } : {}),
          ...(s.attributes !== undefined ? { attributes: record(s.attributes, 'home.device: attributes') } : {}),
          ...(typeof s.name === 'string' ? { name: s.name } : {}),
          ...(typeof s.area === 'string' ? { area: s.area } : {}),
        });
      },
      'home.state': ([id]) => home.hub.registry.get(entityId(id, 'home.state'))?.state ?? null,
      'home.entity': ([id]) => {
        const e = home.hub.registry.get(entityId(id, 'home.entity'));
        return e ? { state: e.state, attributes: e.attributes, available: e.available } : null;
      },
      'home.published': ([topic]) => {
        const t = text(topic, 'home.published: the topic');
        const problem = filterProblem(t);
        if (problem) throw new TypeError(`home.published: ${problem.message}`);
        return home.messages(t).map(decoded);
      },
      'home.messages': ([filter]) => {
        const f = text(filter, 'home.messages: the filter');
        const problem = filterProblem(f);
        if (problem) throw new TypeError(`home.messages: ${problem.message}`);
        return home.messages(f).map((p) => ({ topic: p.topic, payload: decoded(p), qos: p.qos, retain: p.retain }));
      },
      'home.actions': ([id]) => home.actions(id === null ? undefined : entityId(id, 'home.actions')),
      'home.logs': ([script]) =>
        home.logs
          .filter((l) => script === null || l.script === script)
          .map((l) => `${l.level}: ${home.shown(l.message)}`),
      'home.notifications': ([target]) =>
        home.notifications
          .filter((n) => target === null || n.target === target)
          .map(({ target, message, title, priority }) => ({ target, message, title, priority })),
      'home.clear': () => home.clear(),
    },
    asyncCalls: shownErrors({
      'home.publish': async ([topic, payload, opts]) => {
        const t = text(topic, 'home.publish: the topic');
        const problem = publishTopicProblem(t);
        if (problem) throw new TypeError(`home.publish: ${problem.message}`);
        const o = record(opts, 'home.publish: the options');
        const qos = o.qos === undefined ? 0 : o.qos;
        if (qos !== 0 && qos !== 1 && qos !== 2) throw new TypeError('home.publish: qos must be 0, 1 or 2');
        await home.publish(t, Buffer.from(typeof payload === 'string' ? payload : ''), {
          qos,
          retain: o.retain === true,
        });
      },
      'home.set': async ([id, state, attributes]) =>
        home.set(
          entityId(id, 'home.set'),
          state,
          attributes === null ? null : record(attributes, 'home.set: attributes'),
        ),
      'home.call': async ([id, action, params]) =>
        home.call(
          entityId(id, 'home.call'),
          text(action, 'home.call: the action'),
          record(params, 'home.call: params'),
        ),
      'home.run': async ([id]) => home.run(text(id, 'home.run: the automation id')),
      'home.settle': async () => home.settle(),
      'clock.advance': async ([by]) => home.advance(ms(by, 'clock.advance')),
      'clock.set': async ([to]) => {
        const t = typeof to === 'number' ? to : typeof to === 'string' ? Date.parse(to) : Number.NaN;
        if (!Number.isFinite(t))
          throw new TypeError(`clock.set: give a time such as '2026-06-21T22:00:00', got ${JSON.stringify(to)}`);
        if (t < home.clock.now())
          throw new RangeError(
            `clock.set: ${new Date(t).toISOString()} is before the clock (${new Date(home.clock.now()).toISOString()}); time only moves on`,
          );
        await home.advance(t - home.clock.now());
      },
    }),
  };
}
