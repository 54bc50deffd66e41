// Automations: list, CRUD (kept in automations.yaml, comments preserved), enable/disable, trigger,
// run traces, the whole file, reload.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { ApiError, ok } from '../reply.js';

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' } },
} as const;

export function automationRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['automations'];
  const a = hub.automations;
  /** The automation's entry in the list; a 404 when there is none. */
  const known = (id: string) => {
    const info = a.list().find((x) => x.id === id);
    if (!info) throw new ApiError(404, 'UNKNOWN_AUTOMATION', `no automation "${id}"`);
    return info;
  };
  /** An automation that can run now: known, enabled and started (anything else is a conflict to resolve, not a server error). */
  const runnable = (id: string) => {
    const info = known(id);
    if (!info.enabled)
      throw new ApiError(
        409,
        'AUTOMATION_DISABLED',
        `automation "${id}" is disabled, so it cannot run: enable it first (POST /api/automations/${id}/enable, or its switch on the Automations page)`,
      );
    // enabled but without a runner: its start failed, or the hub has not started automations yet
    if (!info.running)
      throw new ApiError(
        409,
        'AUTOMATION_NOT_RUNNING',
        info.error
          ? `automation "${id}" could not start, so it cannot run: ${info.error}; fix it in automations.yaml (saving the file starts it again)`
          : `automation "${id}" has not started yet (the hub starts automations once its broker has answered): try again in a moment`,
      );
  };
  const applied = (err: string | undefined) => {
    if (err) throw new ApiError(400, 'INVALID_AUTOMATIONS', err);
    return ok({});
  };
  app.get('/api/automations', { config: { user: true }, schema: { tags } }, async () => ok(a.list()));
  app.get<{ Params: { id: string }; Querystring: { limit?: number; status?: string } }>(
    '/api/automations/:id/runs',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'the last runs with their trace (status=failed: the last failures, kept apart from the successes)',
        params: idParam,
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            status: { type: 'string', enum: ['ok', 'failed', 'skipped', 'cancelled', 'dropped'] },
          },
        },
      },
    },
    async (req) => ok(a.runs(req.params.id, req.query.limit ?? 20, req.query.status)),
  );
  app.get<{ Params: { id: string } }>(
    '/api/automations/:id/near-misses',
    {
      config: { user: true },
      schema: {
        tags,
        summary:
          "why it did not run, lately: messages on its trigger's topic a filter turned away, states other than the awaited one, conditions that were false (newest first, the last 20)",
        params: idParam,
      },
    },
    async (req) => ok(a.nearMisses(req.params.id)),
  );
  app.put<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/api/automations/:id',
    {
      schema: {
        tags,
        summary: 'add or replace an automation (same fields as in automations.yaml)',
        params: idParam,
        body: { type: 'object' },
      },
    },
    async (req) => applied(await a.put({ ...req.body, id: req.params.id })),
  );
  app.delete<{ Params: { id: string } }>('/api/automations/:id', { schema: { tags, params: idParam } }, async (req) => {
    const r = await a.remove(req.params.id);
    if (r === false) throw new ApiError(404, 'UNKNOWN_AUTOMATION', `no automation "${req.params.id}"`);
    return applied(r);
  });
  for (const [verb, on] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/api/automations/:id/${verb}`,
      { config: { user: true }, schema: { tags, params: idParam } },
      async (req) => {
        known(req.params.id);
        await a.setEnabled(req.params.id, on);
        return ok({});
      },
    );
  }
  app.post<{ Params: { id: string } }>(
    '/api/automations/:id/trigger',
    { config: { user: true }, schema: { tags, summary: 'run now (conditions still apply)', params: idParam } },
    async (req) => {
      runnable(req.params.id);
      a.trigger(req.params.id, { description: `run by ${req.caller?.name ?? 'local'} through the API` });
      return ok({});
    },
  );
  // a live replay: the current automation, for real, on a past run's trigger event (a dry one is
  // POST /api/dry-run with run). Admins only: it acts on devices with an event nobody sent now.
  app.post<{ Params: { id: string; run: number } }>(
    '/api/automations/:id/runs/:run/replay',
    {
      schema: {
        tags,
        summary:
          "run the current automation now, for real, on a past run's trigger event (its conditions apply); dry: POST /api/dry-run",
        params: {
          type: 'object',
          required: ['id', 'run'],
          properties: { ...idParam.properties, run: { type: 'integer', minimum: 1 } },
        },
      },
    },
    async (req) => {
      const { id, run } = req.params;
      runnable(id);
      const past = a.pastRun(id, run);
      if (!past)
        throw new ApiError(404, 'UNKNOWN_RUN', `automation ${id} has no run ${run} among its last 100 of each outcome`);
      const { time: _then, ...event } = past.trigger; // now, on the hub's clock
      a.trigger(id, {
        ...event,
        description: `replay of run ${run} by ${req.caller?.name ?? 'local'}: ${past.trigger.description}`,
      });
      return ok({});
    },
  );
  app.get(
    '/api/automations/file',
    { config: { user: true }, schema: { tags, summary: 'automations.yaml as text' } },
    async () => ok({ text: a.text() }),
  );
  app.put<{ Body: { text: string } }>(
    '/api/automations/file',
    {
      schema: {
        tags,
        summary: 'replace automations.yaml; a bad file is refused with its line and changes nothing',
        body: {
          type: 'object',
          required: ['text'],
          additionalProperties: false,
          properties: { text: { type: 'string', maxLength: 1_000_000 } },
        },
      },
    },
    async (req) => applied(await a.save(req.body.text)),
  );
  app.post('/api/automations/reload', { schema: { tags, summary: 'read automations.yaml again' } }, async () =>
    applied(await a.reload()),
  );
}
