// Brute-force protection for MQTT logins: failures are counted per (address, user name) and per
// address in a sliding window; past the limit, logins from there are refused at once, without
// checking the password (no scrypt work for an attacker to burn) until the window has passed.
// Per (address, user) so an attacker on another address cannot lock a user out everywhere.

export interface AuthLimits {
  per_user: number;
  per_address: number;
  window_s: number;
}

const MAX_KEYS = 10_000;

export class AuthLimiter {
  private readonly failures = new Map<string, number[]>();

  /** The clock windows are measured on (tests move it instead of waiting out a window). */
  now: () => number;

  constructor(
    private readonly limits: AuthLimits,
    now = () => Date.now(),
  ) {
    this.now = now;
  }

  /** Why a login from `address` as `user` is refused without checking it, or undefined. */
  blocked(address: string, user: string): string | undefined {
    if (this.count(`${address}|${user}`) >= this.limits.per_user)
      return `${this.limits.per_user} failed logins for "${user}" from ${address} within ${this.limits.window_s} s`;
    if (this.count(address) >= this.limits.per_address)
      return `${this.limits.per_address} failed logins from ${address} within ${this.limits.window_s} s`;
    return undefined;
  }

  fail(address: string, user: string): void {
    this.add(`${address}|${user}`);
    this.add(address);
  }

  succeed(address: string, user: string): void {
    this.failures.delete(`${address}|${user}`);
  }

  private count(key: string): number {
    const list = this.failures.get(key);
    if (!list) return 0;
    const since = this.now() - this.limits.window_s * 1000;
    while (list.length && list[0]! <= since) list.shift();
    if (list.length === 0) this.failures.delete(key);
    return list.length;
  }

  private add(key: string): void {
    if (!this.failures.has(key) && this.failures.size >= MAX_KEYS) {
      // bounded: forget the oldest key (Map keeps insertion order)
      this.failures.delete(this.failures.keys().next().value!);
    }
    const list = this.failures.get(key) ?? [];
    list.push(this.now());
    this.failures.set(key, list);
  }
}
