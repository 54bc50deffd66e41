// Runs entity actions: through the entity's script when it has one, else through the integration
// that owns the entity. An integration action resolves when the device reports the new state
// (or at once for an optimistic entity, one without a state topic), and rejects with TIMEOUT or
// the device's own error otherwise.
import path from 'node:path';
import type { Logger } from '../log.js';
import { confirmation, resolveAction, validateParams } from './domains.js';
import { EntityError, type Entity, type EntityRegistry } from './registry.js';

/** What an integration does with an action: send it; `optimistic` when no report will confirm it. */
export type IntegrationAction = (
  entity: Entity,
  action: string,
  params: Record<string, unknown>,
) => Promise<{ optimistic?: boolean } | undefined | void>;

export interface ActionContext {
  registry: EntityRegistry;
  scriptsDir: string;
  runScript: (file: string, entityId: string, action: string, params: Record<string, unknown>) => Promise<void>;
  /** A scene entity's `activate`: its script's sceneEvent(entityId, args) (e154's scenes). */
  runScene?: (entityId: string, params: Record<string, unknown>) => Promise<void>;
  log: Logger;
  /** How long a device has to confirm an action (default 5 s). */
  confirmTimeoutMs?: number;
}

interface Pending {
  entityId: string;
  reject: (err: EntityError) => void;
}

/** An action someone asked for: who (a script, an automation step, an API user), when, and how it went. */
export interface ActionRecord {
  entityId: string;
  action: string;
  caller: string;
  time: number;
  /** `ok`, or the error's code (TIMEOUT, DEVICE_ERROR, ...). */
  result: string;
  params: Record<string, unknown>;
  /** Its place among all the actions asked for since start (1, 2, ...). */
  seq: number;
}

/** How many recent actions are kept (in memory) for the entity page's markers. */
const RECENT = 5000;

export class ActionRunner {
  private readonly integrations = new Map<string, IntegrationAction>();
  private readonly pending = new Set<Pending>();
  private readonly recentCalls: ActionRecord[] = [];
  private seq = 0;

  constructor(private readonly ctx: ActionContext) {}

  /** An integration (by the `source` of its entities) registers how to run their actions. */
  register(source: string, run: IntegrationAction): () => void {
    this.integrations.set(source, run);
    return () => this.integrations.delete(source);
  }

  scriptPath(entity: Entity): string | undefined {
    return entity.script ? path.resolve(this.ctx.scriptsDir, entity.script) : undefined;
  }

  /** The device said no (e.g. Zigbee2MQTT's error log for the device): the waiting actions of these entities fail with it. */
  deviceError(entityIds: string[], message: string): void {
    for (const p of [...this.pending])
      if (entityIds.includes(p.entityId)) p.reject(new EntityError('DEVICE_ERROR', message));
  }

  /** The actions on an entity between `since` and `until`, oldest first (kept in memory, the last 5 000 of all). */
  recent(entityId: string, since = 0, until = Number.MAX_SAFE_INTEGER): ActionRecord[] {
    return this.recentCalls.filter((r) => r.entityId === entityId && r.time >= since && r.time <= until);
  }

  /** The kept actions asked for after the one numbered `seq`, in the order they were asked for. */
  after(seq: number): ActionRecord[] {
    return this.recentCalls.filter((r) => r.seq > seq).sort((a, b) => a.seq - b.seq);
  }

  /** The number of the last action asked for. */
  get lastSeq(): number {
    return this.seq;
  }

  async call(entityId: string, action: string, params: Record<string, unknown> = {}, caller = 'cli'): Promise<void> {
    const record: ActionRecord = {
      entityId,
      action,
      caller,
      time: Date.now(),
      result: 'pending',
      params: { ...params },
      seq: ++this.seq,
    };
    try {
      await this.run(entityId, action, params, caller);
      record.result = 'ok';
    } catch (err) {
      record.result = err instanceof EntityError ? err.code : 'ERROR';
      throw err;
    } finally {
      if (this.ctx.registry.get(entityId)) {
        this.recentCalls.push(record);
        if (this.recentCalls.length > RECENT) this.recentCalls.splice(0, this.recentCalls.length - RECENT);
      }
    }
  }

  private async run(entityId: string, action: string, params: Record<string, unknown>, caller: string): Promise<void> {
    const entity = this.ctx.registry.require(entityId);
    const file = this.scriptPath(entity);
    // whatever the action's script or integration throws is the action failing, not the hub
    const failed = (err: unknown): never => {
      throw err instanceof EntityError
        ? err
        : new EntityError('ACTION_FAILED', err instanceof Error ? err.message : String(err));
    };
    if (file) {
      if (entity.actions.length > 0 && !entity.actions.includes(action)) throw this.unknown(entity, action);
      this.ctx.log.info({ entity: entityId, action, params, caller }, 'entity action');
      if (entity.domain === 'scene' && action === 'activate' && this.ctx.runScene)
        return this.ctx.runScene(entityId, params).catch(failed);
      return this.ctx.runScript(file, entityId, action, params).catch(failed);
    }
    const integration = this.integrations.get(entity.source);
    if (!integration)
      throw new EntityError(
        'UNKNOWN_ACTION',
        `entity ${entityId} has no script and no integration to run action "${action}"`,
      );
    const domainAction = resolveAction(entity, action);
    const name = domainAction ?? action;
    if (!entity.actions.includes(name)) throw this.unknown(entity, action);
    if (domainAction) validateParams(entity, domainAction, params);
    if (!entity.available)
      throw new EntityError('UNAVAILABLE', `${entityId} is unavailable (its device is offline); nothing was sent`);
    this.ctx.log.info({ entity: entityId, action: name, params, caller }, 'entity action');
    const confirmed = domainAction ? confirmation(entity, domainAction) : () => true;
    return this.sendAndConfirm(entity, name, params, integration, confirmed).catch(failed);
  }

  private unknown(entity: Entity, action: string): EntityError {
    return new EntityError(
      'UNKNOWN_ACTION',
      `entity ${entity.id} has no action "${action}"; its actions: ${entity.actions.join(', ') || 'none'}`,
    );
  }

  private sendAndConfirm(
    entity: Entity,
    action: string,
    params: Record<string, unknown>,
    integration: IntegrationAction,
    confirmed: ((now: Entity, params: Record<string, unknown>, before: Entity) => boolean) | undefined,
  ): Promise<void> {
    const timeoutMs = this.ctx.confirmTimeoutMs ?? 5000;
    return new Promise<void>((resolve, reject) => {
      let last: Entity | undefined;
      let timer: NodeJS.Timeout | undefined;
      const pending: Pending = { entityId: entity.id, reject: (err) => finish(err) };
      // listening before sending: a device may answer before the publish is acknowledged
      const off = this.ctx.registry.onReport(entity.id, (now) => {
        last = now;
        if (confirmed?.(now, params, entity)) finish();
      });
      const finish = (err?: EntityError) => {
        off();
        clearTimeout(timer);
        this.pending.delete(pending);
        if (err) reject(err);
        else resolve();
      };
      this.pending.add(pending);
      integration(entity, action, params).then(
        (r) => {
          if (!this.pending.has(pending)) return; // already confirmed or failed
          if (!confirmed || r?.optimistic || entity.attributes.optimistic === true) return finish();
          timer = setTimeout(() => {
            const reported = last ?? this.ctx.registry.get(entity.id);
            finish(
              new EntityError(
                'TIMEOUT',
                `${entity.id} did not confirm ${action} within ${timeoutMs / 1000} s` +
                  (reported ? ` (it reports ${JSON.stringify(reported.state)})` : ''),
              ),
            );
          }, timeoutMs);
        },
        (err: unknown) => {
          finish(err instanceof EntityError ? err : new EntityError('ACTION_FAILED', (err as Error).message));
        },
      );
    });
  }
}
