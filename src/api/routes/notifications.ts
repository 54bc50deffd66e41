// Notifications: the outbox (waiting, sent, failed: who sent each, at which line) and a test
// message to a target. Targets are listed by name and type only; their tokens stay in the config.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ApiError, ok } from '../reply.js';
import { NotifyError } from '../../notify/notifier.js';

export function notificationRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['notifications'];
  const n = hub.notifier;
  app.get<{ Querystring: { limit?: number } }>(
    '/api/notifications',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'the latest notifications, newest first, with their status and who sent them',
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
        },
      },
    },
    async (req) => ok(n.list(req.query.limit ?? 50)),
  );
  app.get(
    '/api/notifications/targets',
    { config: { user: true }, schema: { tags, summary: 'the targets declared in the config (names and types)' } },
    async () => ok(n.targets.map((name) => ({ name, type: n.targetType(name) }))),
  );
  app.post<{ Body: { target: string; message: string; title?: string } }>(
    '/api/notifications',
    {
      schema: {
        tags,
        summary: 'send a notification (e.g. a test) through the outbox; answers once it is stored',
        body: {
          type: 'object',
          required: ['target', 'message'],
          additionalProperties: false,
          properties: {
            target: { type: 'string', maxLength: 100 },
            message: { type: 'string', maxLength: 16384 },
            title: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      try {
        const { id, done } = n.send(
          req.body.target,
          req.body.message,
          req.body.title === undefined ? {} : { title: req.body.title },
          `api ${req.caller?.name ?? 'local'}`,
        );
        done.catch(() => undefined); // its fate is in the outbox
        return reply.code(202).send(ok({ id }));
      } catch (err) {
        if (err instanceof NotifyError) throw new ApiError(400, err.code, err.message);
        throw err;
      }
    },
  );
}
