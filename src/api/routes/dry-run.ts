// Dry runs and replays (src/simulate/dry-run.ts): one script or automation run against the hub's
// current state in a simulated home; the answer is what it would have done. Nothing is sent.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ApiError, ok } from '../reply.js';
import { DryRunError, type DryRunRequest } from '../../simulate/dry-run.js';

const STATUS: Record<DryRunError['code'], number> = {
  BAD_REQUEST: 400,
  UNKNOWN_SCRIPT: 404,
  UNKNOWN_AUTOMATION: 404,
  UNKNOWN_RUN: 404,
  BUSY: 409,
};

// Admins only: a dry run sees every retained message and entity, whatever a user's ACL hides, and
// runs a script with a message of the caller's choosing.
export function dryRunRoutes(app: FastifyInstance, hub: ApiHub): void {
  app.post<{ Body: DryRunRequest }>(
    '/api/dry-run',
    {
      schema: {
        tags: ['automations', 'scripts'],
        summary:
          "run a script or an automation against the hub's current state, everything it would do recorded and nothing sent; with message or run: a replay of that message or of a past run's trigger",
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            script: { type: 'string', maxLength: 200 },
            automation: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' },
            message: {
              type: 'object',
              required: ['topic', 'payload'],
              additionalProperties: false,
              properties: {
                topic: { type: 'string', minLength: 1, maxLength: 1024 },
                payload: { type: 'string', maxLength: 256 * 1024 },
              },
            },
            run: { type: 'integer', minimum: 1 },
            for: {
              anyOf: [
                { type: 'string', maxLength: 40 },
                { type: 'number', minimum: 0 },
              ],
            },
          },
        },
      },
    },
    async (req) => {
      if (!hub.dryRun) throw new ApiError(501, 'NO_DRY_RUN', 'this hub was started without dry runs');
      try {
        return ok(await hub.dryRun(req.body));
      } catch (err) {
        if (err instanceof DryRunError) throw new ApiError(STATUS[err.code], err.code, err.message);
        throw new ApiError(422, 'DRY_RUN_FAILED', `the dry run failed: ${(err as Error).message}`);
      }
    },
  );
}
