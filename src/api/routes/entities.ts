// Entities: list, one, history, call an action.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ok } from '../reply.js';

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const;

export function entityRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['entities'];
  app.get('/api/entities', { config: { user: true }, schema: { tags } }, async () => ok(hub.registry.list()));
  app.get<{ Params: { id: string } }>(
    '/api/entities/:id',
    { config: { user: true }, schema: { tags, params: idParam } },
    async (req) => ok(hub.registry.require(req.params.id)),
  );
  app.get<{ Params: { id: string } }>(
    '/api/entities/:id/history',
    { config: { user: true }, schema: { tags, params: idParam } },
    async (req) => {
      hub.registry.require(req.params.id);
      return ok(hub.registry.history(req.params.id));
    },
  );
  app.post<{ Params: { id: string; action: string }; Body: { params?: Record<string, unknown> } | undefined }>(
    '/api/entities/:id/actions/:action',
    {
      config: { user: true },
      schema: {
        tags,
        summary: "run one of the entity's actions",
        params: {
          type: 'object',
          required: ['id', 'action'],
          properties: { id: { type: 'string', maxLength: 200 }, action: { type: 'string', maxLength: 100 } },
        },
        body: { type: ['object', 'null'], properties: { params: { type: 'object' } }, additionalProperties: false },
      },
    },
    async (req) => {
      await hub.entities.actions.call(
        req.params.id,
        req.params.action,
        req.body?.params ?? {},
        `api:${req.caller?.name ?? 'local'}`,
      );
      return ok({ entity: req.params.id, action: req.params.action });
    },
  );
}
