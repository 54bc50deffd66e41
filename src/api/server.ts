// HTTP API (Fastify): health, status, entities and their actions, scripts. The full API, its
// session auth and the UI come later; until then, once a user exists every /api request needs
// HTTP Basic auth with a broker user (the same safe default as the broker).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import type { UserStore } from '../store/users.js';
import type { EntityRegistry } from '../entities/registry.js';
import { EntityError } from '../entities/registry.js';
import type { ActionRunner } from '../entities/actions.js';
import type { ScriptInfo } from '../scripts/engine.js';
import type { AutomationsModule } from '../automations/module.js';

/** What the API needs from the hub: narrow, so the API never reaches into modules. */
export interface ApiHub {
  users: UserStore;
  registry: EntityRegistry;
  entities: { actions: ActionRunner };
  scripts: { list(): ScriptInfo[] };
  automations: Pick<AutomationsModule, 'list' | 'runs' | 'setEnabled' | 'trigger' | 'reload'>;
  status(): Record<string, unknown>;
}

export interface ApiContext { host: string; port: number; log: Logger; hub: ApiHub }

const STATUS: Record<string, number> = { UNKNOWN_ENTITY: 404, BAD_ID: 400, UNKNOWN_ACTION: 400, ACTION_FAILED: 422 };

export class ApiServer {
  private app?: FastifyInstance;
  url = '';

  constructor(private readonly ctx: ApiContext) {}

  async start(): Promise<void> {
    const { hub } = this.ctx;
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
    app.addHook('onRequest', async (req, reply) => this.authenticate(req, reply));
    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
      if (err instanceof EntityError) return reply.code(STATUS[err.code] ?? 400).send({ status: 'error', error: { code: err.code, message: err.message } });
      const code = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
      if (code === 500) this.ctx.log.error({ err }, 'request failed');
      return reply.code(code).send({ status: 'error', error: { code: err.code ?? 'ERROR', message: err.message } });
    });
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/api/status', async () => ({ status: 'ok', data: hub.status() }));
    app.get('/api/scripts', async () => ({ status: 'ok', data: hub.scripts.list() }));
    app.get('/api/entities', async () => ({ status: 'ok', data: hub.registry.list() }));
    app.get<{ Params: { id: string } }>('/api/entities/:id', async (req) => ({ status: 'ok', data: hub.registry.require(req.params.id) }));
    app.get<{ Params: { id: string } }>('/api/entities/:id/history', async (req) => {
      hub.registry.require(req.params.id);
      return { status: 'ok', data: hub.registry.history(req.params.id) };
    });
    app.post<{ Params: { id: string; action: string }; Body: { params?: Record<string, unknown> } | undefined }>(
      '/api/entities/:id/actions/:action',
      { schema: { body: { type: ['object', 'null'], properties: { params: { type: 'object' } }, additionalProperties: false } } },
      async (req) => {
        await hub.entities.actions.call(req.params.id, req.params.action, req.body?.params ?? {}, 'api');
        return { status: 'ok', data: { entity: req.params.id, action: req.params.action } };
      },
    );
    app.get('/api/automations', async () => ({ status: 'ok', data: hub.automations.list() }));
    app.get<{ Params: { id: string }; Querystring: { limit?: number } }>('/api/automations/:id/runs', async (req) => ({ status: 'ok', data: hub.automations.runs(req.params.id, Number(req.query.limit ?? 20)) }));
    app.post<{ Params: { id: string } }>('/api/automations/:id/enable', async (req) => { await hub.automations.setEnabled(req.params.id, true); return { status: 'ok' }; });
    app.post<{ Params: { id: string } }>('/api/automations/:id/disable', async (req) => { await hub.automations.setEnabled(req.params.id, false); return { status: 'ok' }; });
    app.post<{ Params: { id: string } }>('/api/automations/:id/trigger', async (req) => { hub.automations.trigger(req.params.id); return { status: 'ok' }; });
    app.post('/api/automations/reload', async (_req, reply) => {
      const err = await hub.automations.reload();
      return err ? reply.code(400).send({ status: 'error', error: { code: 'INVALID_AUTOMATIONS', message: err } }) : { status: 'ok' };
    });
    const addr = await app.listen({ host: this.ctx.host, port: this.ctx.port }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot listen on http ${this.ctx.host}:${this.ctx.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`);
    });
    this.url = addr;
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }

  private async authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (req.url === '/healthz' || this.ctx.hub.users.count() === 0) return;
    const header = req.headers.authorization ?? '';
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    if (m) {
      const text = Buffer.from(m[1]!, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i > 0 && (await this.ctx.hub.users.verify(text.slice(0, i), text.slice(i + 1)))) return;
    }
    reply.header('www-authenticate', 'Basic realm="smart-home"');
    await reply.code(401).send({ status: 'error', error: { code: 'UNAUTHORIZED', message: 'this hub has users: authenticate with one of them' } });
  }
}
