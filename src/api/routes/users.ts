// Users (admins only): the same users as the broker.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ok } from '../reply.js';
import { requireAdmin } from '../auth.js';

export function userRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['users'];
  const nameParam = {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', maxLength: 64 } },
  } as const;
  app.get('/api/users', { schema: { tags } }, async (req) => {
    requireAdmin(req);
    return ok(hub.users.list());
  });
  app.post<{ Body: { name: string; password: string; admin?: boolean } }>(
    '/api/users',
    {
      schema: {
        tags,
        body: {
          type: 'object',
          required: ['name', 'password'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 8, maxLength: 1024 },
            admin: { type: 'boolean', default: false },
          },
        },
      },
    },
    async (req, reply) => {
      requireAdmin(req);
      await hub.users.add(req.body.name, req.body.password, req.body.admin ?? false);
      return reply.code(201).send(ok({ name: req.body.name, admin: req.body.admin ?? false }));
    },
  );
  app.delete<{ Params: { name: string } }>('/api/users/:name', { schema: { tags, params: nameParam } }, async (req) => {
    requireAdmin(req);
    hub.users.remove(req.params.name);
    return ok({});
  });
}
