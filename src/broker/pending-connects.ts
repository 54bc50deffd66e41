// Connections that have not sent CONNECT yet (issue 14: 1 000 sockets that sent one byte each kept
// every legitimate client out until the connect timeout). A real client sends CONNECT within
// milliseconds of connecting; a slow-loris socket never does. So an address holding many such
// sockets loses its oldest once it is older than YOUNG_MS (a burst of 100 connects from one host,
// accepted before any CONNECT is read, is not punished), once many are pending in all they get a
// short timeout, and a full broker makes room by closing the oldest one. A connection whose
// CONNECT arrived is no longer pending (its authentication may take a while: scrypt).

export interface PendingLimits {
  /** Unfinished connections one address may hold; past it its oldest unfinished one is closed. */
  max_pending_per_address: number;
  /** Past this many unfinished connections in all, they get busy_connect_timeout_ms instead of connect_timeout_ms. */
  busy_pending: number;
  busy_connect_timeout_ms: number;
}

interface Pending {
  address: string;
  since: number;
}

/** A pending connection younger than this is never closed for its address's count. */
const YOUNG_MS = 500;
export interface Closable {
  destroy(): void;
  remoteAddress?: string;
}

export class PendingConnects<S extends Closable> {
  /** In arrival order: the first entry is the oldest. */
  private readonly pending = new Map<S, Pending>();
  private readonly perAddress = new Map<string, number>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly limits: PendingLimits,
    private readonly onEvict: (socket: S, why: string) => void,
    private readonly now = () => Date.now(),
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A new connection from `address`: makes room for it first (per address), then tracks it. */
  add(socket: S): void {
    const address = socket.remoteAddress ?? 'unknown';
    if ((this.perAddress.get(address) ?? 0) >= this.limits.max_pending_per_address) {
      let oldest: [S, Pending] | undefined;
      for (const entry of this.pending)
        if (entry[1].address === address) {
          oldest = entry;
          break;
        }
      if (oldest && this.now() - oldest[1].since >= YOUNG_MS) {
        this.evict(
          oldest[0],
          `more than broker.max_pending_per_address (${this.limits.max_pending_per_address}) connections from ${address} have not sent CONNECT`,
        );
      }
    }
    this.pending.set(socket, { address, since: this.now() });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    if (this.pending.size > this.limits.busy_pending && !this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(50, this.limits.busy_connect_timeout_ms / 4));
      this.sweeper.unref();
    }
  }

  /** CONNECT arrived, or the socket closed. */
  done(socket: S): void {
    const p = this.pending.get(socket);
    if (!p) return;
    this.pending.delete(socket);
    const n = (this.perAddress.get(p.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(p.address, n);
    else this.perAddress.delete(p.address);
    if (this.pending.size <= this.limits.busy_pending && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** The broker is full: closes the oldest unfinished connection; false when there is none. */
  evictOldest(why: string): boolean {
    const oldest = this.pending.keys().next();
    if (oldest.done) return false;
    this.evict(oldest.value, why);
    return true;
  }

  private sweep(): void {
    const limit = this.now() - this.limits.busy_connect_timeout_ms;
    for (const [socket, p] of this.pending) {
      if (p.since > limit || this.pending.size <= this.limits.busy_pending) break;
      this.evict(
        socket,
        `no CONNECT within broker.busy_connect_timeout_ms (${this.limits.busy_connect_timeout_ms} ms) while ${this.pending.size} connections were unfinished`,
      );
    }
  }

  private evict(socket: S, why: string): void {
    this.done(socket);
    this.onEvict(socket, why);
    socket.destroy();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
