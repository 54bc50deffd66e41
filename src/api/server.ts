// HTTP API (Fastify) and the web UI's files. Every route has a JSON schema for its input; the
// OpenAPI document is at /api/docs/json and its page at /api/docs. Errors a caller can cause are
// 4xx with {status: 'error', error: {code, message, field}}; a 500 is a bug and is logged.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyWebsocket from '@fastify/websocket';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyStatic from '@fastify/static';
import type { Logger } from '../log.js';
import { isLoopback } from '../address.js';
import { EntityError } from '../entities/registry.js';
import { UserError } from '../store/users.js';
import { ScriptNameError } from '../scripts/library.js';
import { VERSION } from '../version.js';
import { ExplorerUnavailable } from '../mqtt/explorer.js';
import type { ApiHub } from './hub.js';
import { Auth } from './auth.js';
import { ApiError, ok } from './reply.js';
import { Metrics } from './metrics.js';
import { EVENTS_OPENAPI, eventRoutes } from './events.js';
import { jsonTooDeep } from '../json-depth.js';
import { scriptRoutes } from './routes/scripts.js';
import { entityRoutes } from './routes/entities.js';
import { deviceRoutes } from './routes/devices.js';
import { automationRoutes } from './routes/automations.js';
import { mqttRoutes } from './routes/mqtt.js';
import { userRoutes } from './routes/users.js';
import { notificationRoutes } from './routes/notifications.js';
import { dryRunRoutes } from './routes/dry-run.js';

export type { ApiHub } from './hub.js';
export interface ApiContext {
  host: string;
  port: number;
  log: Logger;
  hub: ApiHub;
}

/** The UI's build output (npm run build writes it). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const MAX_BODY_DEPTH = 64;
const ENTITY_STATUS: Record<string, number> = {
  UNKNOWN_ENTITY: 404,
  BAD_ID: 400,
  UNKNOWN_ACTION: 400,
  BAD_PARAM: 400,
  ACTION_FAILED: 422,
  UNAVAILABLE: 409,
  DEVICE_ERROR: 502,
  TIMEOUT: 504,
};

export class ApiServer {
  private app?: FastifyInstance;
  private metrics?: Metrics;
  url = '';

  constructor(private readonly ctx: ApiContext) {}

  async start(): Promise<void> {
    const { hub, log } = this.ctx;
    // unknown fields are refused, not silently dropped (Fastify's default strips them)
    const app = Fastify({
      logger: false,
      bodyLimit: 2 * 1024 * 1024,
      ajv: { customOptions: { removeAdditional: false } },
    });
    const auth = new Auth({
      users: hub.users,
      sessions: hub.sessions,
      log,
      loopbackOnly: isLoopback(this.ctx.host),
      limiter: hub.authLimiter,
    });
    await app.register(fastifyCookie);
    await app.register(fastifyRateLimit, { global: false });
    await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'Smart Home API',
          version: VERSION,
          description: 'Every reply is {status, data} or {status, error: {code, message, field}}.',
        },
        components: {
          securitySchemes: {
            session: { type: 'apiKey', in: 'cookie', name: 'smart_home_session' },
            bearer: { type: 'http', scheme: 'bearer' },
          },
        },
        security: [{ session: [] }, { bearer: [] }],
      },
      transformObject: (doc) => {
        const api = (doc as { openapiObject?: { paths?: Record<string, unknown> } }).openapiObject;
        if (api) api.paths = { ...api.paths, '/api/events': EVENTS_OPENAPI };
        return api as never;
      },
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
    app.addHook('onRequest', async (req, reply) => auth.check(req, reply));
    // JSON bodies nested deeper than any request needs are refused before they are parsed
    // (10 000 levels overflowed the parser's stack: a 500); the default parser does the rest.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      if (jsonTooDeep(body as string, MAX_BODY_DEPTH))
        return done(
          new ApiError(400, 'BAD_REQUEST', `the JSON body is nested deeper than ${MAX_BODY_DEPTH} levels`),
          undefined,
        );
      parseJson(req, body as string, done);
    });
    app.setErrorHandler(
      (
        err: Error & {
          statusCode?: number;
          code?: string;
          validation?: { instancePath?: string; params?: Record<string, unknown>; message?: string }[];
          validationContext?: string;
        },
        _req,
        reply,
      ) => {
        const send = (status: number, code: string, message: string, field?: string) =>
          reply.code(status).send({ status: 'error', error: field ? { code, message, field } : { code, message } });
        if (err instanceof ApiError) return send(err.statusCode, err.code, err.message, err.field);
        if (err instanceof EntityError) return send(ENTITY_STATUS[err.code] ?? 400, err.code, err.message);
        if (err instanceof UserError) return send(/^no user/.test(err.message) ? 404 : 400, 'BAD_USER', err.message);
        if (err instanceof ScriptNameError) return send(400, 'BAD_SCRIPT_NAME', err.message, 'name');
        if (err instanceof ExplorerUnavailable) return send(409, 'EXPLORER_OFF', err.message);
        if (err.validation) {
          const v = err.validation[0];
          const field = [
            err.validationContext,
            v?.instancePath?.replace(/^\//, '').replace(/\//g, '.') ||
              v?.params?.missingProperty ||
              v?.params?.additionalProperty,
          ]
            .filter((x) => x !== undefined && x !== '')
            .join('.');
          return send(
            400,
            'BAD_REQUEST',
            `${field}: ${v?.message ?? err.message}${v?.params?.additionalProperty ? ` (${String(v.params.additionalProperty)})` : ''}`,
            field,
          );
        }
        const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
        if (status === 500) log.error({ err }, 'request failed');
        const code = status === 500 ? 'INTERNAL' : status === 429 ? 'RATE_LIMITED' : (err.code ?? 'BAD_REQUEST');
        return send(status, code, status === 500 ? 'internal error (logged)' : err.message);
      },
    );

    app.get('/healthz', { config: { public: true }, schema: { tags: ['system'] } }, async () => ({ status: 'ok' }));
    app.get('/api/status', { config: { user: true }, schema: { tags: ['system'] } }, async () => ok(hub.status()));
    const metrics = (this.metrics = new Metrics(hub));
    app.get(
      '/metrics',
      { config: { user: true }, schema: { tags: ['system'], summary: 'Prometheus metrics' } },
      async (_req, reply) => {
        reply.header('content-type', metrics.registry.contentType);
        // prom-client separates metric families with blank lines; the format needs none
        return (await metrics.registry.metrics()).replace(/\n{2,}/g, '\n');
      },
    );
    auth.routes(app);
    scriptRoutes(app, hub);
    entityRoutes(app, hub);
    deviceRoutes(app, hub);
    automationRoutes(app, hub);
    mqttRoutes(app, hub);
    userRoutes(app, hub);
    notificationRoutes(app, hub);
    dryRunRoutes(app, hub);
    eventRoutes(app, hub);
    // The UI's own files are public (the page then asks to log in); every route the static
    // plugin adds is marked so in its own context.
    await app.register(async (ui) => {
      ui.addHook('onRoute', (route) => {
        route.config = { ...route.config, public: true };
      });
      if (this.hasUi)
        await ui.register(fastifyStatic, { root: WEB_ROOT, prefix: '/', wildcard: false, index: 'index.html' });
      else ui.get('/', async () => ({ status: 'ok', data: { message: 'the web UI is not built: run npm run build' } }));
      // what matched no route: a 404 for the API, else the UI's page (it routes itself)
      ui.setNotFoundHandler((req, reply) => {
        if (req.url.startsWith('/api/') || !this.hasUi)
          return reply.code(404).send({
            status: 'error',
            error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` },
          });
        return reply.sendFile('index.html');
      });
    });

    const addr = await app.listen({ host: this.ctx.host, port: this.ctx.port }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(
        `cannot listen on http ${this.ctx.host}:${this.ctx.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`,
      );
    });
    this.url = addr;
    this.app = app;
    if (!isLoopback(this.ctx.host) && hub.users.count() === 0) {
      log.warn(
        `HTTP listens on ${this.ctx.host} and the hub has no users: every API request is refused until you add one (smart-home user add NAME --admin)`,
      );
    }
  }

  private get hasUi(): boolean {
    return existsSync(`${WEB_ROOT}index.html`);
  }

  async stop(): Promise<void> {
    this.metrics?.stop();
    await this.app?.close();
  }
}
