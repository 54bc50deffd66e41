// Devices (with their entities) and the integrations' own commands, e.g. Zigbee2MQTT's permit_join.
import type { FastifyInstance } from 'fastify';
import { EntityError } from '../../entities/registry.js';
import type { ApiHub } from '../hub.js';
import { ok } from '../reply.js';

const str = { type: 'string', maxLength: 200 } as const;

export function deviceRoutes(app: FastifyInstance, hub: ApiHub): void {
  const tags = ['devices'];
  app.get('/api/devices', { config: { user: true }, schema: { tags } }, async () =>
    ok(hub.devices.list().map((d) => ({ ...d, entities: hub.registry.ofDevice(d.id).map((e) => e.id) }))),
  );
  app.get<{ Params: { id: string } }>(
    '/api/devices/:id',
    { config: { user: true }, schema: { tags, params: { type: 'object', required: ['id'], properties: { id: str } } } },
    async (req) => {
      const d = hub.devices.get(req.params.id);
      if (!d) throw new EntityError('UNKNOWN_ENTITY', `no device "${req.params.id}"`);
      return ok({ ...d, entities: hub.registry.ofDevice(d.id) });
    },
  );
  app.put<{ Params: { id: string }; Body: { area: string | null } }>(
    '/api/devices/:id/area',
    {
      schema: {
        tags,
        summary: "set a device's area (room); null clears it",
        params: { type: 'object', required: ['id'], properties: { id: str } },
        body: {
          type: 'object',
          required: ['area'],
          properties: { area: { type: ['string', 'null'], maxLength: 100 } },
        },
      },
    },
    async (req) => {
      if (!hub.devices.get(req.params.id)) throw new EntityError('UNKNOWN_ENTITY', `no device "${req.params.id}"`);
      hub.devices.setArea(req.params.id, req.body.area ?? undefined);
      return ok(hub.devices.get(req.params.id));
    },
  );
  app.get('/api/integrations', { config: { user: true }, schema: { tags } }, async () =>
    ok(
      [...hub.integrations].map(([name, i]) => ({
        name,
        status: i.status?.() ?? {},
        commands: Object.entries(i.commands ?? {}).map(([c, cmd]) => ({
          name: c,
          summary: cmd.summary,
          params: cmd.params,
        })),
      })),
    ),
  );
  app.post<{ Params: { name: string; command: string }; Body: { params?: Record<string, unknown> } | undefined }>(
    '/api/integrations/:name/:command',
    {
      schema: {
        tags,
        summary: "run an integration's command (zigbee2mqtt: permit_join, rename, remove) and return its answer",
        params: { type: 'object', required: ['name', 'command'], properties: { name: str, command: str } },
        body: { type: ['object', 'null'], properties: { params: { type: 'object' } }, additionalProperties: false },
      },
    },
    async (req) => {
      const integration = hub.integrations.get(req.params.name);
      if (!integration)
        throw new EntityError(
          'UNKNOWN_ENTITY',
          `no integration "${req.params.name}" is enabled; enabled: ${[...hub.integrations.keys()].join(', ') || 'none'}`,
        );
      const cmd = integration.commands?.[req.params.command];
      if (!cmd)
        throw new EntityError(
          'UNKNOWN_ACTION',
          `${req.params.name} has no command "${req.params.command}"; it has ${Object.keys(integration.commands ?? {}).join(', ') || 'none'}`,
        );
      return ok(await cmd.run(req.body?.params ?? {}));
    },
  );
}
