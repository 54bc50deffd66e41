// Dry runs and replays: one script or one automation of a live hub run in a simulated home that
// holds the live hub's current state (every entity's state and attributes, the retained messages
// its broker keeps), with every side effect recorded, not sent: "this would publish X to Y and
// ask light.hall for turn_on". A replay hands it a message (one from the MQTT explorer) or a past
// run's trigger event, so the current version is checked against the event that went wrong.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Document, parseDocument, isMap, isSeq } from 'yaml';
import { parseDuration } from '../automations/duration.js';
import type { TriggerEvent } from '../automations/types.js';
import type { Run } from '../automations/trace.js';
import type { Hub } from '../hub.js';
import { SimulatedHome } from './home.js';

export interface DryRunRequest {
  /** A script of the scripts dir, by file name (`hall.js`). */
  script?: string;
  /** An automation, by id. */
  automation?: string;
  /** Replay: this message comes in (as from a device) once the script or automation is there. */
  message?: { topic: string; payload: string };
  /** Replay: the trigger event of this past run of the automation. */
  run?: number;
  /** How far the clock moves on after that ('10m'; at most a day): what would happen meanwhile. */
  for?: string | number;
}

export interface DryRunReport {
  target: string;
  /** The live hub's time the dry run started from. */
  at: string;
  published: { topic: string; payload: string; qos: number; retain: boolean }[];
  actions: { entity: string; action: string; params: Record<string, unknown>; result: string }[];
  notifications: { target: string; message: string; title?: string }[];
  logs: string[];
  /** The automation's runs in the dry run, with their steps. */
  runs: Pick<Run, 'status' | 'trigger' | 'steps'>[];
  /** Timers still waiting when it ended (what would happen later still). */
  timersPending: number;
  /** The report in sentences, one per effect. */
  summary: string[];
}

export class DryRunError extends Error {
  override name = 'DryRunError';
  constructor(
    readonly code: 'BAD_REQUEST' | 'UNKNOWN_SCRIPT' | 'UNKNOWN_AUTOMATION' | 'UNKNOWN_RUN' | 'BUSY',
    message: string,
  ) {
    super(message);
  }
}

/** The most retained messages a dry run takes over from the live broker. */
const MAX_RETAINED = 20_000;
const MAX_FOR = 24 * 3600_000;
/** One dry run at a time per hub: each is a whole simulated home in memory. */
const running = new WeakSet<Hub>();

/** automations.yaml with only the automation `id` (its comments and formatting kept). */
function onlyAutomation(text: string, id: string): string | undefined {
  const doc = parseDocument(text);
  if (!isSeq(doc.contents)) return undefined;
  const item = doc.contents.items.find((it) => isMap(it) && String(it.get('id')) === id);
  if (!item) return undefined;
  const one = new Document([]);
  (one.contents as { items: unknown[] }).items.push(item);
  return one.toString();
}

const shown = (payload: string) => (payload.length > 200 ? `${payload.slice(0, 200)}…` : payload);

export async function dryRun(live: Hub, req: DryRunRequest): Promise<DryRunReport> {
  if (Boolean(req.script) === Boolean(req.automation))
    throw new DryRunError('BAD_REQUEST', 'a dry run takes one script or one automation');
  let forMs = 0;
  if (req.for !== undefined) {
    const d = typeof req.for === 'number' ? req.for : parseDuration(req.for);
    if (d === undefined || d < 0 || d > MAX_FOR)
      throw new DryRunError('BAD_REQUEST', `for: give a duration up to 1d, e.g. 10m, got ${JSON.stringify(req.for)}`);
    forMs = d;
  }
  const scriptsDir = path.join(live.dataDir, 'scripts');
  let automationText: string | undefined;
  let event: TriggerEvent | undefined;
  if (req.script !== undefined) {
    if (!/^[\w.-]+\.(js|ts|coffee)$/.test(req.script) || !existsSync(path.join(scriptsDir, req.script)))
      throw new DryRunError('UNKNOWN_SCRIPT', `no script "${req.script}" in ${scriptsDir}`);
  } else {
    const id = req.automation!;
    automationText = onlyAutomation(live.automations.text(), id);
    if (!automationText) throw new DryRunError('UNKNOWN_AUTOMATION', `no automation "${id}" in automations.yaml`);
    if (req.run !== undefined) {
      event = live.automations.pastRun(id, req.run)?.trigger;
      if (!event)
        throw new DryRunError(
          'UNKNOWN_RUN',
          `automation ${id} has no run ${req.run} among its last 100 of each outcome`,
        );
    }
  }
  if (running.has(live)) throw new DryRunError('BUSY', 'another dry run is under way; try again when it is done');
  running.add(live);
  const startedAt = Date.now();
  let home: SimulatedHome | undefined;
  try {
    home = await SimulatedHome.start({
      // the entities come from the live hub as they are (seeded below), not rebuilt by the
      // integrations from retained messages (whose availability rules would judge them anew)
      config: {
        ...live.config,
        zigbee2mqtt: { ...live.config.zigbee2mqtt, enabled: false },
        discovery: { ...live.config.discovery, enabled: false },
        tasmota: { ...live.config.tasmota, enabled: false },
      },
      scriptsDir,
      startScripts: false,
      scriptsShownAs: scriptsDir,
      start: startedAt,
      log: live.log.child({ module: 'dry-run' }),
    });
    // the live hub's present: what its broker keeps, then every entity as it is now
    const retained = live.broker
      ? await live.broker.retained(MAX_RETAINED)
      : live.explorer.snapshot().filter((m) => m.retain);
    for (const m of retained) await home.hub.broker!.inject(m.topic, m.payload, 0, true);
    await home.settle();
    for (const e of live.registry.list()) if (!e.id.startsWith('sun.')) home.seed(e);
    await home.settle();
    home.clear();
    let target: string;
    if (req.script !== undefined) {
      target = `script ${req.script}`;
      await home.hub.scripts.load(path.join(home.scriptsDir, req.script));
      await home.settle();
    } else {
      target = `automation ${req.automation}`;
      const err = await home.hub.automations.reload(automationText);
      if (err) throw new DryRunError('BAD_REQUEST', home.shown(err));
      if (!req.message) {
        home.hub.automations.trigger(
          req.automation!,
          event ?? { description: 'a dry run (as its Run button: its conditions apply)' },
        );
        await home.settle();
      }
    }
    if (req.message) await home.publish(req.message.topic, Buffer.from(req.message.payload));
    if (forMs > 0) await home.advance(forMs);
    return report(home, target, startedAt, req.automation);
  } finally {
    running.delete(live);
    await home?.stop().catch(() => {});
  }
}

function report(home: SimulatedHome, target: string, startedAt: number, automation?: string): DryRunReport {
  const published = home.messages().map((p) => ({
    topic: p.topic,
    payload: p.payload.toString('utf8'),
    qos: p.qos,
    retain: p.retain,
  }));
  const actions = home.actions().map(({ entity, action, params, result }) => ({ entity, action, params, result }));
  const notifications = home.notifications.map(({ target, message, title }) => ({
    target,
    message,
    ...(title !== undefined ? { title } : {}),
  }));
  const logs = home.logs.map((l) => `${l.level}: ${home.shown(l.message)}`);
  const runs = automation
    ? home.hub.automations
        .runs(automation, 20)
        .reverse()
        .map(({ status, trigger, steps }) => ({ status, trigger, steps }))
    : [];
  // what a run did comes before the step it failed at: "would publish ...", then "would fail at action 2"
  const failed = runs.filter((r) => r.status === 'failed');
  const summary = [
    ...runs.filter((r) => r.status !== 'failed').map((r) => runSentence(target, r)),
    ...published.map(
      (p) =>
        `would publish ${shown(p.payload)} to ${p.topic}${p.retain ? ' (retained)' : ''}${p.qos ? `, QoS ${p.qos}` : ''}`,
    ),
    ...actions.map(
      (a) =>
        `would ask ${a.entity} for ${a.action}${Object.keys(a.params).length ? ` ${JSON.stringify(a.params)}` : ''}${a.result === 'ok' ? '' : `: ${a.result}`}`,
    ),
    ...notifications.map((n) => `would notify ${n.target}: ${shown(n.message)}`),
    ...failed.map((r) => runSentence(target, r)),
    ...logs.filter((l) => l.startsWith('error:')).map((l) => `would fail: ${l.slice(7).split('\n')[0]}`),
  ];
  if (summary.length === 0) summary.push(`${target} would do nothing now`);
  return {
    target,
    at: new Date(startedAt).toISOString(),
    published,
    actions,
    notifications,
    logs,
    runs,
    timersPending: home.clock.pending,
    summary,
  };
}

/**
 * A run in words: "would run: ok (steps: action ok, publish ok)", "would not run: condition 1
 * (state) false: ...". Steps are counted from 1, as a person counts them (the trace and the YAML
 * paths, actions[0], count from 0).
 */
function runSentence(target: string, r: Pick<Run, 'status' | 'steps'>): string {
  const stopped = r.steps.find((s) => s.result === 'false' || s.result === 'error');
  if (r.status === 'skipped' && stopped)
    return `${target} would not run: ${stopped.kind} ${stopped.index + 1} (${stopped.type}) false${stopped.detail ? `: ${stopped.detail}` : ''}`;
  if (r.status === 'failed' && stopped)
    return `${target} would fail at ${stopped.kind} ${stopped.index + 1} (${stopped.type}): ${(stopped.error ?? stopped.detail ?? '').split('\n')[0]}`;
  const steps = r.steps.filter((s) => s.kind === 'action').map((s) => `${s.type} ${s.result}`);
  return `${target} would run: ${r.status}${steps.length ? ` (steps: ${steps.join(', ')})` : ''}`;
}
