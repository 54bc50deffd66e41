// What triggers, conditions and actions are given, and what a trigger reports.
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { EntityRegistry } from '../entities/registry.js';

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
export type TriggerFactory<C> = (config: C, ctx: AutomationContext, fire: (e: TriggerEvent) => void) => Trigger;

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
