// Scripts: list, read, save (stored even with errors, activated only without), delete, check
// as you type, run again, logs.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ApiError, ok } from '../reply.js';
import { diagnose, ScriptLibrary } from '../../scripts/library.js';

const nameParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\\.(js|ts|coffee)$' } },
} as const;
const sourceBody = {
  type: 'object',
  required: ['source'],
  additionalProperties: false,
  properties: { source: { type: 'string', maxLength: 1_000_000 } },
} as const;

export function scriptRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['scripts'];
  app.get(
    '/api/scripts',
    { config: { user: true }, schema: { tags, summary: 'every script file with its state and diagnostics' } },
    async () => ok(hub.library.list()),
  );
  app.get<{ Params: { name: string } }>(
    '/api/scripts/:name',
    { config: { user: true }, schema: { tags, params: nameParam } },
    async (req) => ok(found(hub.library.read(req.params.name), req.params.name)),
  );
  app.put<{ Params: { name: string }; Body: { source: string } }>(
    '/api/scripts/:name',
    {
      schema: {
        tags,
        summary: 'save a script; it runs if it compiles, otherwise it is stored with its diagnostics',
        params: nameParam,
        body: sourceBody,
      },
    },
    async (req) => ok(await hub.library.save(req.params.name, req.body.source)),
  );
  app.delete<{ Params: { name: string } }>(
    '/api/scripts/:name',
    { schema: { tags, params: nameParam } },
    async (req) => {
      if (!hub.library.remove(req.params.name))
        throw new ApiError(404, 'UNKNOWN_SCRIPT', `no script "${req.params.name}"`);
      return ok({});
    },
  );
  app.post<{ Params: { name: string } }>(
    '/api/scripts/:name/run',
    { schema: { tags, summary: 'run the saved script again from its top level', params: nameParam } },
    async (req) => ok(found(await hub.library.run(req.params.name), req.params.name)),
  );
  app.get<{ Params: { name: string } }>(
    '/api/scripts/:name/logs',
    { config: { user: true }, schema: { tags, params: nameParam } },
    async (req) => ok(hub.scripts.get(req.params.name)?.logs ?? []),
  );
  app.post<{ Body: { name: string; source: string } }>(
    '/api/scripts/check',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'compile and type-check source without saving it (the editor calls this as you type)',
        body: {
          type: 'object',
          required: ['name', 'source'],
          additionalProperties: false,
          properties: { name: nameParam.properties.name, source: sourceBody.properties.source },
        },
      },
    },
    async (req) => {
      ScriptLibrary.checkName(req.body.name);
      return ok(await diagnose(req.body.name, req.body.source));
    },
  );
}

function found<T>(v: T | undefined, name: string): T {
  if (v === undefined) throw new ApiError(404, 'UNKNOWN_SCRIPT', `no script "${name}"`);
  return v;
}
