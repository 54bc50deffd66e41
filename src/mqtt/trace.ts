// The bounded message trace: every message the hub publishes, who published it (script and
// line), the result and the ack latency. Rows are buffered and written in one transaction
// per flush so tracing does not cost a disk write per message.
import type { Db } from '../store/db.js';
import { messageTraceTables, type MessageTraceTables } from '../store/message-trace.js';

export interface TraceEntry {
  time: number;
  topic: string;
  size: number;
  qos: number;
  retain: boolean;
  source?: string;
  line?: number;
  col?: number;
  result: 'ok' | 'error';
  error?: string;
  ackMs?: number;
}

export class MessageTrace {
  private pending: TraceEntry[] = [];
  private timer?: NodeJS.Timeout;
  private readonly q: MessageTraceTables;

  constructor(
    private readonly db: Db,
    private readonly maxRows: number,
    private readonly flushMs = 200,
  ) {
    this.q = messageTraceTables(db);
  }

  record(e: TraceEntry): void {
    this.pending.push(e);
    if (this.pending.length >= 1000) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const e of rows) {
        this.q.insert.run(
          e.time,
          e.topic,
          e.size,
          e.qos,
          e.retain ? 1 : 0,
          e.source ?? null,
          e.line ?? null,
          e.col ?? null,
          e.result,
          e.error ?? null,
          e.ackMs ?? null,
        );
      }
      this.q.trim.run(this.maxRows);
    })();
  }

  /** Who last published `topic` successfully with a payload of `size` bytes, if this hub did. */
  lastSource(topic: string, size: number): { script: string; line?: number; col?: number } | undefined {
    this.flush();
    const r = this.q.lastSource.get(topic, size) as
      | { source: string; line: number | null; col: number | null }
      | undefined;
    return r && { script: r.source, line: r.line ?? undefined, col: r.col ?? undefined };
  }

  recent(limit = 100): TraceEntry[] {
    this.flush();
    return (this.q.recent.all(limit) as Record<string, unknown>[]).map(entry);
  }

  /** The hub's publishes to `topic` between `since` and `until`, oldest first. */
  forTopic(topic: string, since: number, until: number, limit = 1000): TraceEntry[] {
    this.flush();
    return (this.q.forTopic.all(topic, since, until, limit) as Record<string, unknown>[]).map(entry);
  }
}

/** A message_trace row as a TraceEntry. */
function entry(r: Record<string, unknown>): TraceEntry {
  return {
    time: r.time as number,
    topic: r.topic as string,
    size: r.size as number,
    qos: r.qos as number,
    retain: r.retain === 1,
    source: (r.source as string | null) ?? undefined,
    line: (r.line as number | null) ?? undefined,
    col: (r.col as number | null) ?? undefined,
    result: r.result as 'ok' | 'error',
    error: (r.error as string | null) ?? undefined,
    ackMs: (r.ack_ms as number | null) ?? undefined,
  };
}
