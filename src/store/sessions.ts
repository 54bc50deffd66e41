// API sessions (browser, cookie + CSRF token) and bearer tokens (scripts, CLI). The secret is
// handed out once; only its SHA-256 is stored, so a copy of the database logs no one in.
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export type SessionKind = 'session' | 'token';
/** What a token may do: `read` only reads, `user` acts as a non-admin, `admin` as its (admin) user. */
export type TokenScope = 'read' | 'user' | 'admin';
export interface Session {
  user: string;
  kind: SessionKind;
  csrf?: string;
  label?: string;
  createdAt: number;
  expiresAt?: number;
  scope?: TokenScope;
}
export interface TokenInfo {
  id: string;
  label?: string;
  createdAt: number;
  lastUsed?: number;
  scope: TokenScope;
  expiresAt?: number;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export class SessionStore {
  private readonly q;
  constructor(
    private readonly db: Db,
    private readonly sessionMs = 7 * 24 * 3600_000,
  ) {
    this.q = {
      insert: db.prepare(
        'INSERT INTO api_sessions (token_hash, user_name, kind, label, csrf, created_at, expires_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      get: db.prepare(
        'SELECT s.*, u.name AS user_exists FROM api_sessions s LEFT JOIN users u ON u.name = s.user_name WHERE token_hash = ?',
      ),
      touch: db.prepare('UPDATE api_sessions SET last_used = ? WHERE token_hash = ?'),
      remove: db.prepare('DELETE FROM api_sessions WHERE token_hash = ?'),
      removeUser: db.prepare('DELETE FROM api_sessions WHERE user_name = ?'),
      expire: db.prepare('DELETE FROM api_sessions WHERE expires_at IS NOT NULL AND expires_at < ?'),
      tokens: db.prepare(
        "SELECT token_hash, label, created_at, last_used, scope, expires_at FROM api_sessions WHERE user_name = ? AND kind = 'token' ORDER BY created_at",
      ),
      removeToken: db.prepare(
        "DELETE FROM api_sessions WHERE user_name = ? AND kind = 'token' AND substr(token_hash, 1, 16) = ?",
      ),
    };
  }

  /** A new session or token for `user`; returns the secret (shown once) and, for sessions, the CSRF token. */
  create(
    user: string,
    kind: SessionKind,
    label?: string,
    token: { scope?: TokenScope; expiresAt?: number } = {},
  ): { secret: string; csrf?: string } {
    const secret = randomBytes(32).toString('base64url');
    const csrf = kind === 'session' ? randomBytes(24).toString('base64url') : undefined;
    const now = Date.now();
    this.q.expire.run(now);
    this.q.insert.run(
      hash(secret),
      user,
      kind,
      label ?? null,
      csrf ?? null,
      now,
      kind === 'session' ? now + this.sessionMs : (token.expiresAt ?? null),
      kind === 'token' ? (token.scope ?? 'admin') : null,
    );
    return { secret, csrf };
  }

  /** The session a secret belongs to, if it is valid and its user still exists. */
  verify(secret: string): Session | undefined {
    const h = hash(secret);
    const row = this.q.get.get(h) as Record<string, unknown> | undefined;
    if (!row || row.user_exists == null) return undefined;
    const expiresAt = (row.expires_at as number | null) ?? undefined;
    if (expiresAt !== undefined && expiresAt < Date.now()) {
      this.q.remove.run(h);
      return undefined;
    }
    this.q.touch.run(Date.now(), h);
    return {
      user: row.user_name as string,
      kind: row.kind as SessionKind,
      csrf: (row.csrf as string | null) ?? undefined,
      label: (row.label as string | null) ?? undefined,
      createdAt: row.created_at as number,
      expiresAt,
      // tokens made before scopes existed act as their user, as they did
      scope: row.kind === 'token' ? ((row.scope as TokenScope | null) ?? 'admin') : undefined,
    };
  }

  revoke(secret: string): void {
    this.q.remove.run(hash(secret));
  }
  revokeUser(user: string): void {
    this.q.removeUser.run(user);
  }

  /** A user's bearer tokens, each named by the first 16 hex digits of its hash (not the secret). */
  tokens(user: string): TokenInfo[] {
    return (this.q.tokens.all(user) as Record<string, unknown>[]).map((r) => ({
      id: (r.token_hash as string).slice(0, 16),
      label: (r.label as string | null) ?? undefined,
      createdAt: r.created_at as number,
      lastUsed: (r.last_used as number | null) ?? undefined,
      scope: (r.scope as TokenScope | null) ?? 'admin',
      expiresAt: (r.expires_at as number | null) ?? undefined,
    }));
  }

  /** Removes one of `user`'s tokens; false if that user has no such token (another user's included). */
  revokeToken(user: string, id: string): boolean {
    return this.q.removeToken.run(user, id).changes > 0;
  }
}
