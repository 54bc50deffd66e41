// The notification outbox (notify_outbox): rows waiting for their target, and the sent and failed
// ones for a while. The worker that delivers them is src/notify/notifier.ts.
import type { Db } from './db.js';

export interface NotifyRow {
  id: number;
  target: string;
  message: string;
  source: string;
  created: number;
  status: string;
  attempts: number;
  next_at: number;
  last_error: string | null;
  done_at: number | null;
}

export class NotifyOutbox {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      insert: db.prepare(
        "INSERT INTO notify_outbox (target, message, source, created, status, attempts, next_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
      ),
      pendingCount: db.prepare("SELECT count(*) AS n FROM notify_outbox WHERE status = 'pending'"),
      head: db.prepare("SELECT * FROM notify_outbox WHERE status = 'pending' AND target = ? ORDER BY id LIMIT 1"),
      pendingTargets: db.prepare("SELECT DISTINCT target FROM notify_outbox WHERE status = 'pending'"),
      retry: db.prepare('UPDATE notify_outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?'),
      done: db.prepare('UPDATE notify_outbox SET status = ?, attempts = ?, last_error = ?, done_at = ? WHERE id = ?'),
      list: db.prepare('SELECT * FROM notify_outbox ORDER BY id DESC LIMIT ?'),
      get: db.prepare('SELECT * FROM notify_outbox WHERE id = ?'),
      prune: db.prepare("DELETE FROM notify_outbox WHERE status != 'pending' AND done_at < ?"),
    };
  }

  /** Committed before it returns (a crash after it keeps the row). */
  add(target: string, message: string, source: string, now: number): number {
    return Number(this.q.insert.run(target, message, source, now, now).lastInsertRowid);
  }

  pending(): number {
    return (this.q.pendingCount.get() as { n: number }).n;
  }

  /** The oldest waiting row of a target (its order is kept: the next waits behind it). */
  head(target: string): NotifyRow | undefined {
    return this.q.head.get(target) as NotifyRow | undefined;
  }

  pendingTargets(): string[] {
    return (this.q.pendingTargets.all() as { target: string }[]).map((r) => r.target);
  }

  retryAt(id: number, attempts: number, at: number, error: string): void {
    if (this.db.open) this.q.retry.run(attempts, at, error, id);
  }

  finish(id: number, status: 'sent' | 'failed', attempts: number, error: string | null, now: number): void {
    if (this.db.open) this.q.done.run(status, attempts, error, now, id);
  }

  list(limit: number): NotifyRow[] {
    return this.q.list.all(limit) as NotifyRow[];
  }

  get(id: number): NotifyRow | undefined {
    return this.q.get.get(id) as NotifyRow | undefined;
  }

  /** Sent and failed rows done before `before` go. */
  prune(before: number): void {
    this.q.prune.run(before);
  }
}
