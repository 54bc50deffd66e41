// Entities: list, one, history, call an action.
import type { FastifyInstance } from 'fastify';
import type { ApiHub } from '../hub.js';
import { statfs } from 'node:fs/promises';
import type { Resolution } from '../../entities/recorder.js';
import { EntityError } from '../../entities/registry.js';
import { ok } from '../reply.js';

/** A time from the query string: ISO or milliseconds since the epoch. */
function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t))
    throw new EntityError('BAD_PARAM', `${name} must be an ISO time or milliseconds, got "${v}"`);
  return t;
}

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const;

export function entityRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['entities'];
  // an entity of the config with named states or metrics carries them (the UI shows a state's description)
  const withDeclared = <E extends { id: string }>(e: E) => {
    const declared = hub.entities.declarations(e.id);
    return declared ? { ...e, declared } : e;
  };
  app.get('/api/entities', { config: { user: true }, schema: { tags } }, async () =>
    ok(hub.registry.list().map(withDeclared)),
  );
  app.get<{ Params: { id: string } }>(
    '/api/entities/:id',
    { config: { user: true }, schema: { tags, params: idParam } },
    async (req) => ok(withDeclared(hub.registry.require(req.params.id))),
  );
  app.get<{ Params: { id: string; name: string }; Querystring: { since?: string; until?: string } }>(
    '/api/entities/:id/metrics/:name',
    {
      config: { user: true },
      schema: {
        tags,
        summary: "a metric's items over time (e154's EntitySetMetric), each as /history answers",
        params: {
          type: 'object',
          required: ['id', 'name'],
          properties: { id: { type: 'string', maxLength: 200 }, name: { type: 'string', maxLength: 64 } },
        },
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', maxLength: 40 }, until: { type: 'string', maxLength: 40 } },
          additionalProperties: false,
        },
      },
    },
    async (req) =>
      ok(
        hub.entities.metricHistory(req.params.id, req.params.name, {
          since: time(req.query.since, 'since'),
          until: time(req.query.until, 'until'),
        }),
      ),
  );
  app.get<{
    Params: { id: string };
    Querystring: { since?: string; until?: string; resolution?: Resolution | 'auto' };
  }>(
    '/api/entities/:id/history',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'recorded states (raw) or 5-minute / hourly buckets (min, max, mean, last) between since and until',
        params: idParam,
        querystring: {
          type: 'object',
          properties: {
            since: {
              type: 'string',
              maxLength: 40,
              description: 'ISO time or milliseconds; default 24 h before until',
            },
            until: { type: 'string', maxLength: 40, description: 'ISO time or milliseconds; default now' },
            resolution: { type: 'string', enum: ['auto', 'raw', '5m', '1h'] },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      hub.registry.require(req.params.id);
      return ok(
        hub.recorder.history(req.params.id, {
          since: time(req.query.since, 'since'),
          until: time(req.query.until, 'until'),
          resolution: req.query.resolution,
        }),
      );
    },
  );
  app.get<{ Querystring: { ids: string; since?: string; until?: string; resolution?: Resolution | 'auto' } }>(
    '/api/history',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'the history of several entities at once (the dashboard’s sparklines), keyed by entity id',
        querystring: {
          type: 'object',
          required: ['ids'],
          properties: {
            ids: { type: 'string', maxLength: 100_000, description: 'entity ids, comma-separated (at most 500)' },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            resolution: { type: 'string', enum: ['auto', 'raw', '5m', '1h'] },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const ids = req.query.ids.split(',').filter(Boolean);
      if (ids.length > 500) throw new EntityError('BAD_PARAM', `ids: at most 500 entities at once, got ${ids.length}`);
      const q = {
        since: time(req.query.since, 'since'),
        until: time(req.query.until, 'until'),
        resolution: req.query.resolution,
      };
      return ok(
        Object.fromEntries(ids.filter((id) => hub.registry.get(id)).map((id) => [id, hub.recorder.history(id, q)])),
      );
    },
  );
  app.get('/api/dashboard', { config: { user: true }, schema: { tags } }, async () => ok(hub.dashboard.get()));
  app.put<{ Body: { hidden: string[]; order: string[] } }>(
    '/api/dashboard',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'which entities the dashboard leaves out, and their order',
        body: {
          type: 'object',
          required: ['hidden', 'order'],
          properties: {
            hidden: { type: 'array', maxItems: 10_000, items: { type: 'string', maxLength: 200 } },
            order: { type: 'array', maxItems: 10_000, items: { type: 'string', maxLength: 200 } },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => ok(hub.dashboard.set(req.body)),
  );
  app.get(
    '/api/recorder',
    { config: { user: true }, schema: { tags, summary: "the recorder's size, rows per entity, free disk" } },
    async () => {
      const usage = hub.recorder.usage();
      const disk = await statfs(hub.dataDir).catch(() => undefined);
      const free = disk ? disk.bavail * disk.bsize : undefined;
      return ok({ ...usage, freeBytes: free, lowDisk: free !== undefined && free < 1024 ** 3 });
    },
  );
  app.get<{ Params: { id: string }; Querystring: { since?: string; until?: string } }>(
    '/api/entities/:id/actions',
    {
      config: { user: true },
      schema: {
        tags,
        summary: 'the actions asked of an entity (by scripts, automation steps, API users), with how each went',
        params: idParam,
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', maxLength: 40 }, until: { type: 'string', maxLength: 40 } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const entity = hub.registry.require(req.params.id);
      const since = time(req.query.since, 'since') ?? 0;
      const until = time(req.query.until, 'until') ?? Date.now();
      const asked = hub.entities.actions.recent(entity.id, since, until);
      // publishes by scripts and automations straight to the device's command topics, with file:line
      const topics = hub.integrations.get(entity.source)?.commandTopics?.(entity) ?? [];
      const published = topics.flatMap((topic) =>
        hub.trace
          .forTopic(topic, since, until)
          .filter((t) => t.source && !t.source.startsWith('entity '))
          .map((t) => ({
            entityId: entity.id,
            action: `publish to ${topic}`,
            caller: t.line ? `${t.source}:${t.line}` : t.source!,
            time: t.time,
            result: t.result === 'ok' ? 'ok' : (t.error ?? 'ERROR'),
          })),
      );
      return ok([...asked, ...published].sort((a, b) => a.time - b.time));
    },
  );
  app.put<{ Params: { id: string }; Body: { area: string | null } }>(
    '/api/entities/:id/area',
    {
      schema: {
        tags,
        summary: "set an entity's own room (over its device's); null gives it its device's again",
        params: idParam,
        body: {
          type: 'object',
          required: ['area'],
          properties: { area: { type: ['string', 'null'], maxLength: 100 } },
        },
      },
    },
    async (req) => {
      hub.registry.require(req.params.id);
      return ok(hub.registry.upsert({ id: req.params.id, area: req.body.area || null }));
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
