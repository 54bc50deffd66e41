// Users of the broker (and later the API). Passwords are stored as scrypt hashes, never in clear.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Db } from './db.js';

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(pw, salt, len, opts, (e, k) => (e ? reject(e) : resolve(k))));

const PARAMS = { N: 16384, r: 8, p: 1 };
const USER_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

export interface User {
  name: string;
  admin: boolean;
  createdAt: number;
}

export class UserError extends Error {
  override name = 'UserError';
  /** `badInput`: the name or password given is not acceptable (a usage error, exit 2), not a state of the store. */
  constructor(
    message: string,
    readonly badInput = false,
  ) {
    super(message);
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(expected, got);
}

const VERIFIED_TTL_MS = 5 * 60_000;

export class UserStore {
  private readonly verified = new Map<string, number>();
  constructor(private readonly db: Db) {}

  /** Names allow no MQTT wildcards or separators, so a `%u` in an ACL pattern cannot widen it. */
  static checkName(name: string): void {
    if (!USER_NAME.test(name)) {
      throw new UserError(
        `user name "${name}" is not allowed: use 1-64 letters, digits, "_", ".", "@" or "-" (no "/", "+", "#")`,
        true,
      );
    }
  }

  async add(name: string, password: string, admin = false): Promise<void> {
    UserStore.checkName(name);
    if (password.length < 8) throw new UserError('password must be at least 8 characters', true);
    if (this.db.prepare('SELECT 1 FROM users WHERE name = ?').get(name))
      throw new UserError(`user "${name}" already exists`);
    const hash = await hashPassword(password);
    this.db
      .prepare('INSERT INTO users (name, password_hash, admin, created_at) VALUES (?, ?, ?, ?)')
      .run(name, hash, admin ? 1 : 0, Date.now());
  }

  remove(name: string): void {
    const r = this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
    if (r.changes === 0) throw new UserError(`no user "${name}"`);
    // a user created again later under this name must not inherit the old sessions
    this.db.prepare('DELETE FROM api_sessions WHERE user_name = ?').run(name);
  }

  list(): User[] {
    return (
      this.db.prepare('SELECT name, admin, created_at FROM users ORDER BY name').all() as {
        name: string;
        admin: number;
        created_at: number;
      }[]
    ).map((r) => ({ name: r.name, admin: r.admin === 1, createdAt: r.created_at }));
  }

  get(name: string): User | undefined {
    const r = this.db.prepare('SELECT name, admin, created_at FROM users WHERE name = ?').get(name) as
      | { name: string; admin: number; created_at: number }
      | undefined;
    return r && { name: r.name, admin: r.admin === 1, createdAt: r.created_at };
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  /**
   * Checks a password. scrypt costs ~50 ms of CPU on purpose; a device that reconnects (or 2 000
   * that connect at once) should not pay it every time, so a success is remembered for a few
   * minutes, keyed by a SHA-256 of user, password and stored hash (a changed password or a
   * removed user misses the cache). Failures are never cached.
   */
  async verify(name: string, password: string): Promise<boolean> {
    const row = this.db.prepare('SELECT password_hash FROM users WHERE name = ?').get(name) as
      | { password_hash: string }
      | undefined;
    if (!row) {
      await hashPassword(password); // same work whether or not the user exists
      return false;
    }
    const key = createHash('sha256')
      .update(name)
      .update('\0')
      .update(password)
      .update('\0')
      .update(row.password_hash)
      .digest('base64');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return true;
    const ok = await verifyPassword(password, row.password_hash);
    if (ok) {
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(key, Date.now() + VERIFIED_TTL_MS);
    }
    return ok;
  }
}
