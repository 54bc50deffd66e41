// The entities module: the registry, entities from the config, actions, and the integrations.
import path from 'node:path';
import type { EntityConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { EntityAccess, EntityView } from '../scripts/bindings/entity.js';
import { ActionRunner } from './actions.js';
import { Declared, type NamedState } from './declared.js';
import { EntityError, type EntityRegistry } from './registry.js';
import type { History, HistoryQuery } from './recorder.js';

export interface EntitiesContext {
  registry: EntityRegistry;
  entities: EntityConfig[];
  scriptsDir: string;
  /** The area of a device (an entity without an area of its own is in its device's). */
  deviceArea?: (deviceId: string) => string | undefined;
  /** zigbee2mqtt.base_topic: where a zigbee2mqtt_device entity's messages are. */
  zigbee2mqttBaseTopic?: string;
  runScript: (file: string, entityId: string, action: string, params: Record<string, unknown>) => Promise<void>;
  /** e154's scenes: calls sceneEvent(entityId, args) of a scene entity's script. */
  runScene?: (entityId: string, params: Record<string, unknown>) => Promise<void>;
  confirmTimeoutMs: number;
  log: Logger;
}

export class EntitiesModule implements EntityAccess {
  readonly actions: ActionRunner;
  /** What each entity of the config declares (states, typed attributes and settings, metrics). */
  private readonly declared = new Map<string, Declared>();

  constructor(private readonly ctx: EntitiesContext) {
    for (const e of ctx.entities)
      this.declared.set(e.id, new Declared(e.id, e.states, e.attributes, e.settings, e.metrics));
    this.actions = new ActionRunner({
      registry: ctx.registry,
      scriptsDir: ctx.scriptsDir,
      runScript: ctx.runScript,
      ...(ctx.runScene ? { runScene: ctx.runScene } : {}),
      confirmTimeoutMs: ctx.confirmTimeoutMs,
      log: ctx.log,
    });
  }

  async start(): Promise<void> {
    const { registry } = this.ctx;
    registry.recorder?.start();
    const wanted = new Set(this.ctx.entities.map((e) => e.id));
    for (const e of this.ctx.entities) {
      // a declared attribute's value is its start value, until a script sets it
      const kept = registry.get(e.id)?.attributes ?? {};
      const initial = Object.entries(this.declared.get(e.id)!.initialAttributes()).filter(([k]) => !(k in kept));
      registry.upsert({
        id: e.id,
        name: e.name,
        domain: e.type,
        script: e.script ?? null,
        // a scene is activated (e154's EntityCallScene, the dashboard's button)
        actions: e.actions.length === 0 && e.type === 'scene' && e.script ? ['activate'] : e.actions,
        source: 'config',
        ...(e.area ? { area: e.area } : {}),
        ...(initial.length > 0 ? { attributes: Object.fromEntries(initial) } : {}),
      });
    }
    // entities that were in the config and are no longer
    for (const e of registry.list()) if (e.source === 'config' && !wanted.has(e.id)) registry.remove(e.id);
  }

  async stop(): Promise<void> {
    this.ctx.registry.flush();
    this.ctx.registry.recorder?.stop();
  }

  /** The configured entities that have a script, with its path. */
  entityScripts(): { entityId: string; file: string; subscribeTopic?: string; zigbee2mqttTopic?: string }[] {
    return this.ctx.entities.flatMap((e) =>
      e.script
        ? [
            {
              entityId: e.id,
              file: path.resolve(this.ctx.scriptsDir, e.script),
              ...(e.subscribe_topic ? { subscribeTopic: e.subscribe_topic } : {}),
              ...(e.zigbee2mqtt_device
                ? { zigbee2mqttTopic: `${this.ctx.zigbee2mqttBaseTopic ?? 'zigbee2mqtt'}/${e.zigbee2mqtt_device}` }
                : {}),
            },
          ]
        : [],
    );
  }

  /** Is this file the action script of some entity (then it is not started on its own)? */
  isActionScript(file: string): boolean {
    return this.ctx.entities.some(
      (e) => e.script && path.resolve(this.ctx.scriptsDir, e.script) === path.resolve(file),
    );
  }

  getState(id: string): unknown {
    return this.ctx.registry.require(id).state ?? null;
  }

  /** The entity's settings from the config (e154's EntityGetSettings; a script's changes are kept by the script engine). */
  settings(id: string): Record<string, unknown> {
    this.ctx.registry.require(id);
    return this.declared.get(id)?.settingValues() ?? {};
  }

  /** A script's settings_value, as the entity's typed settings hold them (throws naming a wrong one). */
  checkSettings(id: string, values: Record<string, unknown>): Record<string, unknown> {
    this.ctx.registry.require(id);
    return this.declared.get(id)?.checkSettings(values) ?? values;
  }

  /** e154's EntityGetState: the named state ({name, description, icon}) the entity is in, if it declares states. */
  namedState(id: string): NamedState | null {
    const e = this.ctx.registry.require(id);
    return this.declared.get(id)?.named(e.state) ?? null;
  }

  /** What the config declares of an entity, for the API and the UI (states with their descriptions, metrics). */
  declarations(id: string): { states: NamedState[]; metrics: Declared['metrics'] } | undefined {
    const d = this.declared.get(id);
    return d && (d.states.length > 0 || d.metrics.length > 0) ? { states: d.states, metrics: d.metrics } : undefined;
  }

  /** e154's EntitySetMetric: a point of each item of a declared metric, into the recorder. */
  setMetric(id: string, name: string, values: unknown): void {
    this.ctx.registry.require(id);
    const d = this.declared.get(id);
    if (!d) throw new EntityError('BAD_PARAM', `entity ${id} is not in the config's entities: it has no metrics`);
    const checked = d.checkMetric(name, values);
    const recorder = this.ctx.registry.recorder;
    if (!recorder) throw new EntityError('UNAVAILABLE', 'the recorder is not running: metrics are kept by it');
    recorder.recordMetric(id, name, checked.values, Date.now());
  }

  /** A metric's items over time (each one a history as the recorder answers it). */
  metricHistory(id: string, name: string, query: HistoryQuery): { name: string; items: Record<string, History> } {
    this.ctx.registry.require(id);
    const metric = this.declared.get(id)?.metrics.find((m) => m.name === name);
    if (!metric) throw new EntityError('BAD_PARAM', `entity ${id} has no metric "${name}"`);
    const recorder = this.ctx.registry.recorder;
    if (!recorder) throw new EntityError('UNAVAILABLE', 'the recorder is not running');
    return {
      name,
      items: Object.fromEntries(metric.items.map((i) => [i.name, recorder.metricHistory(id, name, i.name, query)])),
    };
  }

  /** e154's EntityCallScene: the `activate` action of a scene entity (its script's sceneEvent). */
  callScene(id: string, params: Record<string, unknown>, caller: string): Promise<void> {
    const e = this.ctx.registry.require(id);
    if (e.domain !== 'scene')
      throw new EntityError(
        'UNKNOWN_ACTION',
        `entity ${id} is not a scene (give it type: scene and a script with sceneEvent)`,
      );
    return this.actions.call(id, 'activate', params, caller);
  }

  describe(id: string): EntityView {
    const e = this.ctx.registry.require(id);
    return {
      id: e.id,
      name: e.name,
      domain: e.domain,
      state: e.state ?? null,
      attributes: e.attributes,
      available: e.available,
      lastChanged: e.lastChanged ?? null,
      deviceId: e.deviceId ?? null,
    };
  }

  history(id: string, query: { since?: number; until?: number; resolution?: string }): History {
    this.ctx.registry.require(id);
    const recorder = this.ctx.registry.recorder;
    if (!recorder) throw new EntityError('UNAVAILABLE', 'the recorder is not running');
    return recorder.history(id, query as HistoryQuery);
  }

  setState(id: string, state: unknown, attributes?: Record<string, unknown> | null): void {
    const d = this.declared.get(id);
    if (d) {
      d.checkState(state);
      if (attributes) attributes = d.checkAttributes(attributes);
    }
    this.ctx.registry.setState(id, state, attributes);
  }

  callAction(id: string, action: string, params: Record<string, unknown>, caller: string): Promise<void> {
    return this.actions.call(id, action, params, caller);
  }

  /**
   * e154's EntitiesCallAction: the action on every entity of an area (its own, or its device's) that
   * has it; one that has not is skipped, one that fails is reported, the others go on.
   */
  async callInArea(
    area: string,
    action: string,
    params: Record<string, unknown>,
    caller: string,
  ): Promise<{ called: string[]; skipped: string[]; failed: { id: string; error: string }[] }> {
    const want = area.toLowerCase();
    const inArea = this.ctx.registry
      .list()
      .filter((e) => (e.area ?? (e.deviceId ? this.ctx.deviceArea?.(e.deviceId) : undefined))?.toLowerCase() === want);
    const out = { called: [] as string[], skipped: [] as string[], failed: [] as { id: string; error: string }[] };
    await Promise.all(
      inArea.map(async (e) => {
        try {
          await this.actions.call(e.id, action, params, caller);
          out.called.push(e.id);
        } catch (err) {
          if ((err as { code?: string }).code === 'UNKNOWN_ACTION') out.skipped.push(e.id);
          else out.failed.push({ id: e.id, error: (err as Error).message });
        }
      }),
    );
    for (const list of [out.called, out.skipped]) list.sort();
    return out;
  }
}
