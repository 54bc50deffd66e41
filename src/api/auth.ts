// Who is calling: a browser session (httpOnly SameSite=Strict cookie, plus a CSRF token header
// on every state-changing request), a bearer token, or HTTP Basic with a hub user. While the hub
// has no users and the API listens on loopback only, callers are the local admin (the same safe
// default as the broker); from the first user on, every request but /healthz needs credentials.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UserStore } from '../store/users.js';
import type { SessionStore, TokenScope } from '../store/sessions.js';
import type { Logger } from '../log.js';
import { ApiError, ok } from './reply.js';
import { isLoopback } from '../address.js';
import type { PasswordLimiter } from './hub.js';

export const COOKIE = 'smart_home_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Caller {
  name: string;
  admin: boolean;
  via: 'local' | 'session' | 'token' | 'basic';
  csrf?: string;
  secret?: string;
  scope?: TokenScope;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Open to anyone (no credentials). */
    public?: boolean;
    /** Open to users who are not admins (their broker ACL applies to what touches MQTT). Without it, admins only. */
    user?: boolean;
  }
}

/**
 * Whether the route the request was routed to is open to anyone. Decided on the route Fastify
 * matched, never on the raw URL: the router decodes `%61pi` to `api`, so a check on the raw text
 * and routing on the decoded one disagree (the bypass of issue 14). Deny by default: a route is
 * public only when it says so (`config: {public: true}`: the health check, logging in, the UI's
 * own files); a request that matched no route gets the not-found handler, which serves nothing
 * but the UI's index page or a 404.
 */
function isPublic(req: FastifyRequest): boolean {
  const route = req.routeOptions;
  return route.url === undefined || route.config?.public === true;
}

export interface AuthContext {
  users: UserStore;
  sessions: SessionStore;
  log: Logger;
  loopbackOnly: boolean;
  limiter: PasswordLimiter;
}

export class Auth {
  constructor(private readonly ctx: AuthContext) {}

  get open(): boolean {
    return this.ctx.loopbackOnly && this.ctx.users.count() === 0;
  }

  async identify(req: FastifyRequest): Promise<Caller | undefined> {
    if (this.open) return { name: 'local', admin: true, via: 'local' };
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer (\S+)$/.exec(header)?.[1];
    if (bearer) return this.fromSecret(bearer, 'token');
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header)?.[1];
    if (basic) {
      const text = Buffer.from(basic, 'base64').toString('utf8');
      const i = text.indexOf(':');
      const name = text.slice(0, i);
      if (i <= 0) return undefined;
      if (!(await this.checkPassword(req.ip, name, text.slice(i + 1), 'HTTP Basic'))) return undefined;
      return { name, admin: this.ctx.users.get(name)?.admin ?? false, via: 'basic' };
    }
    const cookie = req.cookies?.[COOKIE];
    return cookie ? this.fromSecret(cookie, 'session') : undefined;
  }

  private fromSecret(secret: string, kind: 'session' | 'token'): Caller | undefined {
    const s = this.ctx.sessions.verify(secret);
    if (!s || s.kind !== kind) return undefined;
    // a token scoped `user` or `read` acts as a non-admin even when its user is one
    const admin = (this.ctx.users.get(s.user)?.admin ?? false) && (s.scope === undefined || s.scope === 'admin');
    return { name: s.user, admin, via: kind, csrf: s.csrf, secret, scope: s.scope };
  }

  /** The onRequest hook: 401 without credentials, 403 for a cookie request without its CSRF token. */
  async check(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // A web page on another site may send simple requests (and WebSocket upgrades) to this
    // address, with the user's cookie or, in the open local mode, with none needed: whatever
    // changes something, and every WebSocket, must come from our own origin.
    const origin = req.headers.origin;
    const foreign = origin !== undefined && hostOf(origin) !== req.headers.host;
    const badOrigin = () => new ApiError(403, 'BAD_ORIGIN', `requests from ${origin} are not allowed`);
    if (foreign && (!SAFE.has(req.method) || req.headers.upgrade)) throw badOrigin();
    // The open local mode answers only to a loopback Host (no DNS rebinding to reach it).
    if (this.open && !isLoopbackHost(req.headers.host)) {
      throw new ApiError(
        403,
        'BAD_HOST',
        `without users the hub answers only to localhost, not ${req.headers.host ?? '(no Host)'}`,
      );
    }
    req.caller = await this.identify(req);
    if (isPublic(req)) return;
    if (!req.caller) {
      if (req.headers.authorization?.startsWith('Basic ')) reply.header('www-authenticate', 'Basic realm="smart-home"');
      throw new ApiError(401, 'UNAUTHORIZED', 'log in first: POST /api/login, or send "Authorization: Bearer <token>"');
    }
    if (req.caller.via === 'session') {
      if (foreign) throw badOrigin();
      if (!SAFE.has(req.method) && req.headers[CSRF_HEADER] !== req.caller.csrf) {
        throw new ApiError(
          403,
          'CSRF',
          `missing or wrong ${CSRF_HEADER} header (it comes with the session: GET /api/session)`,
        );
      }
    }
    if (req.caller.scope === 'read' && !SAFE.has(req.method))
      throw new ApiError(403, 'READ_ONLY_TOKEN', 'this token may only read (scope "read")');
    // deny by default here too: a route a non-admin may use says so (config.user)
    if (!req.caller.admin && req.routeOptions.config?.user !== true)
      throw new ApiError(403, 'FORBIDDEN', 'only an admin may do this');
  }

  routes(app: FastifyInstance): void {
    app.post<{ Body: { username: string; password: string } }>(
      '/api/login',
      {
        config: { public: true, rateLimit: { max: 10, timeWindow: 60_000 } },
        schema: {
          tags: ['auth'],
          summary: 'log in: sets the session cookie and returns the CSRF token',
          body: {
            type: 'object',
            required: ['username', 'password'],
            additionalProperties: false,
            properties: {
              username: { type: 'string', minLength: 1, maxLength: 64 },
              password: { type: 'string', maxLength: 1024 },
            },
          },
        },
      },
      async (req, reply) => {
        const { username, password } = req.body;
        if (!(await this.checkPassword(req.ip, username, password, 'API login')))
          throw new ApiError(401, 'BAD_CREDENTIALS', 'bad user name or password');
        const { secret, csrf } = this.ctx.sessions.create(username, 'session');
        reply.setCookie(COOKIE, secret, {
          httpOnly: true,
          sameSite: 'strict',
          path: '/',
          secure: req.protocol === 'https',
          maxAge: 7 * 24 * 3600,
        });
        this.ctx.log.info({ username, remote: req.ip }, 'API login');
        return ok({ user: username, admin: this.ctx.users.get(username)?.admin ?? false, csrf });
      },
    );
    app.post(
      '/api/logout',
      { config: { user: true }, schema: { tags: ['auth'], summary: 'end this session' } },
      async (req, reply) => {
        if (req.caller?.via === 'session' && req.caller.secret) this.ctx.sessions.revoke(req.caller.secret);
        reply.clearCookie(COOKIE, { path: '/' });
        return ok({});
      },
    );
    app.get(
      '/api/session',
      {
        config: { public: true },
        schema: {
          tags: ['auth'],
          summary: 'who is logged in (user null when nobody), and whether logging in is needed',
        },
      },
      async (req) =>
        ok({
          user: req.caller?.name ?? null,
          admin: req.caller?.admin ?? false,
          csrf: req.caller?.csrf ?? null,
          loginRequired: !this.open,
        }),
    );
    app.get(
      '/api/tokens',
      {
        config: { user: true },
        schema: { tags: ['auth'], summary: "the caller's bearer tokens (ids, never secrets)" },
      },
      async (req) => ok(this.ctx.sessions.tokens(this.named(req))),
    );
    app.post<{ Body: { label?: string; scope?: TokenScope; expires_in_days?: number } | undefined }>(
      '/api/tokens',
      {
        config: { user: true },
        schema: {
          tags: ['auth'],
          summary:
            'a new bearer token; its secret is shown only in this reply. scope: read (GET only), user (as a non-admin), admin (the default for admins; a non-admin gets at most user); expires_in_days: none by default',
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: {
              label: { type: 'string', maxLength: 100 },
              scope: { type: 'string', enum: ['read', 'user', 'admin'] },
              expires_in_days: { type: 'integer', minimum: 1, maximum: 3650 },
            },
          },
        },
      },
      async (req) => {
        const name = this.named(req);
        const wanted = req.body?.scope ?? (req.caller!.admin ? 'admin' : 'user');
        if (wanted === 'admin' && !req.caller!.admin)
          throw new ApiError(403, 'FORBIDDEN', 'only an admin may create a token with scope "admin"', 'scope');
        const days = req.body?.expires_in_days;
        const token = this.ctx.sessions.create(name, 'token', req.body?.label, {
          scope: wanted,
          expiresAt: days ? Date.now() + days * 86_400_000 : undefined,
        });
        return ok({ token: token.secret, scope: wanted });
      },
    );
    app.delete<{ Params: { id: string } }>(
      '/api/tokens/:id',
      {
        config: { user: true },
        schema: {
          tags: ['auth'],
          params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } },
        },
      },
      async (req) => {
        if (!this.ctx.sessions.revokeToken(this.named(req), req.params.id))
          throw new ApiError(404, 'UNKNOWN_TOKEN', `you have no token ${req.params.id}`);
        return ok({});
      },
    );
  }

  /**
   * A password check that counts: failures per (address, user) and per address, shared with the
   * broker's MQTT logins; past the limit it is refused without checking (429), like MQTT.
   */
  private async checkPassword(address: string, user: string, password: string, via: string): Promise<boolean> {
    const blocked = this.ctx.limiter.blocked(address, user);
    if (blocked) {
      this.ctx.log.warn(
        { username: user, remote: address },
        `${via} refused without checking the password: ${blocked}`,
      );
      throw new ApiError(429, 'TOO_MANY_FAILURES', `too many failed logins: ${blocked}; wait for the window to pass`);
    }
    if (await this.ctx.users.verify(user, password)) {
      this.ctx.limiter.succeed(address, user);
      return true;
    }
    this.ctx.limiter.fail(address, user);
    this.ctx.log.warn({ username: user, remote: address }, `${via} failed`);
    return false;
  }

  private named(req: FastifyRequest): string {
    if (!req.caller || req.caller.via === 'local')
      throw new ApiError(400, 'NO_USERS', 'tokens belong to users: add one first (smart-home user add NAME --admin)');
    return req.caller.name;
  }
}

export function requireAdmin(req: FastifyRequest): void {
  if (!req.caller?.admin) throw new ApiError(403, 'FORBIDDEN', 'only an admin may do this');
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/** A Host header ("127.0.0.1:8080", "[::1]:8080", "localhost") that names this machine. */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  return isLoopback(host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0]!);
}
