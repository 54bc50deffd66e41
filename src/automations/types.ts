// What triggers, conditions and actions are given, and what a trigger reports.
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { EntityRegistry } from '../entities/registry.js';
import type { WaitStore } from '../store/waits.js';
import type { Clock } from '../clock.js';
import type { Sun } from '../sun/sun.js';
import type { RunInfo } from './waits.js';

/** What happened: the `trigger` object scripts see. */
export interface TriggerEvent {
  type: string;
  time: number;
  description: string;
  topic?: string;
  payload?: string;
  json?: unknown;
  params?: string[];
  entity?: string;
  from?: unknown;
  to?: unknown;
  event?: string;
  /** The trigger's script_file (e154's automationTrigger* callbacks), when it has one. */
  scriptFile?: string;
  /** A retained message (an mqtt trigger with `retained: include`). */
  retained?: boolean;
  /** automation_failed: which automation failed, and its error. */
  automation?: string;
  error?: string | null;
}

/** Why a message or an event did not run an automation ("why didn't it run?"). */
export interface NearMiss {
  time: number;
  /** `triggers[0]` or `conditions[1]`. */
  step: string;
  /** What came: the topic, or the trigger's description. */
  what: string;
  reason: string;
}

/** Runs sandboxed code for script conditions and actions (the script engine, passed in). */
export interface ScriptRunner {
  evaluate(
    label: string,
    expression: string,
    globals: Record<string, unknown>,
  ): Promise<{ value?: unknown; error?: string }>;
  run(
    label: string,
    code: string,
    language: 'js' | 'ts' | 'coffee',
    globals: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ error?: string }>;
  /** Calls function `fn` of a script file of the scripts dir (e154's automation callbacks). */
  callFile?(file: string, fn: string, args: unknown[]): Promise<{ value?: unknown; error?: string }>;
  /** Releases what was kept for snippets whose origin ("file:line") is not in `keep`. */
  forget?(keep: string[]): void;
}

export interface AutomationContext {
  /** What waits (delays, for:, wait_for) wait on; the real clock unless a test gives one. */
  clock?: Clock;
  /** Where waits are kept across restarts. */
  waits?: WaitStore;
  /** When a schedule last fired, by `automation triggers[i]`, kept across restarts (the catch-up's memory). */
  fired?: { get(key: string): number | undefined; set(key: string, time: number): void };
  /** When the hub was last seen running before this start (its heartbeat), if it ran before. */
  lastAlive?: number;
  /** The sun over the home (config `home:`); sun triggers and conditions need it. */
  sun?: Sun;
  /** Runs of this automation asleep on the clock now (a delay, a wait_for): they wait, they are not busy. */
  sleeping?: { n: number };
  /** Records a near miss of an automation (kept in a bounded ring per automation). */
  nearMiss?: (automation: string, miss: NearMiss) => void;
  bus: MqttBus;
  events: EventBus;
  registry: EntityRegistry;
  log: Logger;
  scripts: ScriptRunner;
  callAction(entityId: string, action: string, params: Record<string, unknown>, caller: string): Promise<void>;
  /** The notification outbox (src/notify/notifier.ts). */
  notify?: {
    targets: string[];
    send(target: unknown, message: unknown, opts: unknown, source: string): { id: number; done: Promise<unknown> };
  };
}

export interface Trigger {
  start(): Promise<void>;
  stop(): Promise<void>;
}
export type TriggerFactory<C> = (
  config: C,
  ctx: AutomationContext,
  fire: (e: TriggerEvent) => void,
  /** Which automation and trigger this is (`triggers[0]`), for what it keeps across restarts. */
  where?: { automation: string; step: string; onRestart: OnRestart },
) => Trigger;

/** What becomes of waits and missed schedules at a restart (the automation's `on_restart`). */
export type OnRestart = 'resume' | 'skip' | { run_if_missed: number };

export interface ConditionResult {
  result: boolean;
  detail: string;
}
export type ConditionCheck<C> = (
  config: C,
  ctx: AutomationContext,
  trigger: TriggerEvent,
  label: string,
) => Promise<ConditionResult>;

export type ActionStep<C> = (
  config: C,
  ctx: AutomationContext,
  trigger: TriggerEvent,
  signal: AbortSignal,
  label: string,
  run?: RunInfo,
) => Promise<void>;

/** Reads `a.b.c` from a value. */
/**
 * An entity's attribute by path (`brightness`, `color.x`), or, for an entity whose state is a JSON
 * object (set by a script), that path in its state.
 */
export function attributeOf(
  entity: { state: unknown; attributes: Record<string, unknown> } | undefined,
  path: string,
): unknown {
  if (!entity) return undefined;
  const a = pathValue(entity.attributes, path);
  return a !== undefined ? a : pathValue(entity.state, path);
}

export function pathValue(value: unknown, path: string): unknown {
  let v = value;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
