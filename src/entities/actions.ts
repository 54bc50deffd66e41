// Runs entity actions: through the entity's script when it has one, else through the
// integration that owns the entity (e.g. Zigbee2MQTT publishes to the device's set topic).
import path from 'node:path';
import type { Logger } from '../log.js';
import { EntityError, type Entity, type EntityRegistry } from './registry.js';

export type IntegrationAction = (entity: Entity, action: string, params: Record<string, unknown>) => Promise<void>;

export interface ActionContext {
  registry: EntityRegistry;
  scriptsDir: string;
  runScript: (file: string, entityId: string, action: string, params: Record<string, unknown>) => Promise<void>;
  log: Logger;
}

export class ActionRunner {
  private readonly integrations = new Map<string, IntegrationAction>();

  constructor(private readonly ctx: ActionContext) {}

  /** An integration (by the `source` of its entities) registers how to run their actions. */
  register(source: string, run: IntegrationAction): () => void {
    this.integrations.set(source, run);
    return () => this.integrations.delete(source);
  }

  scriptPath(entity: Entity): string | undefined {
    return entity.script ? path.resolve(this.ctx.scriptsDir, entity.script) : undefined;
  }

  async call(entityId: string, action: string, params: Record<string, unknown> = {}, caller = 'cli'): Promise<void> {
    const entity = this.ctx.registry.require(entityId);
    if (entity.actions.length > 0 && !entity.actions.includes(action)) {
      throw new EntityError(
        'UNKNOWN_ACTION',
        `entity ${entityId} has no action "${action}"; its actions: ${entity.actions.join(', ')}`,
      );
    }
    this.ctx.log.info({ entity: entityId, action, params, caller }, 'entity action');
    const file = this.scriptPath(entity);
    // whatever the action's script or integration throws is the action failing, not the hub
    const failed = (err: unknown): never => {
      throw err instanceof EntityError
        ? err
        : new EntityError('ACTION_FAILED', err instanceof Error ? err.message : String(err));
    };
    if (file) return this.ctx.runScript(file, entityId, action, params).catch(failed);
    const integration = this.integrations.get(entity.source);
    if (integration)
      return Promise.resolve()
        .then(() => integration(entity, action, params))
        .catch(failed);
    throw new EntityError(
      'UNKNOWN_ACTION',
      `entity ${entityId} has no script and no integration to run action "${action}"`,
    );
  }
}
