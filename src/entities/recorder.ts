// The recorder: every state change of every entity (not excluded) into SQLite, written in one
// transaction per event-loop turn; numeric states also into 5-minute and hourly buckets (min, max,
// mean, last), so a year-long graph reads buckets, not rows. Raw rows are kept `keep_days`,
// buckets `keep_statistics_days`; retention runs at start and every hour.
import type { Db } from '../store/db.js';
import { recorderTables, type RecorderTables } from '../store/recorder.js';

export const FIVE_MINUTES = 5 * 60_000;
export const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;

export interface RecorderOptions {
  keepDays: number;
  keepStatisticsDays: number;
  /** Entity id patterns (`*` matches anything): include only these, when given; never the excluded. */
  include: string[];
  exclude: string[];
  /** How many points one history query returns at most. */
  maxPoints: number;
}

export type Resolution = 'raw' | '5m' | '1h';

export interface HistoryQuery {
  since?: number;
  until?: number;
  resolution?: Resolution | 'auto';
}

export type HistoryPoint =
  | { t: number; state: unknown; attributes?: Record<string, unknown> }
  | { t: number; min: number; max: number; mean: number; last: number; count: number };

export interface History {
  entityId: string;
  resolution: Resolution;
  since: number;
  until: number;
  points: HistoryPoint[];
  /** True when there were more points than `maxPoints` (the first ones are returned). */
  truncated: boolean;
}

interface Bucket {
  min: number;
  max: number;
  sum: number;
  last: number;
  count: number;
}

const glob = (p: string) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** The series a metric's item is recorded as. */
export const metricSeries = (entityId: string, metric: string, item: string) => `${entityId}#${metric}.${item}`;

export class Recorder {
  private readonly q: RecorderTables;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  private rows: [string, string, string, number][] = [];
  /** This turn's partial buckets, by `entity\0period\0start`. */
  private buckets = new Map<string, Bucket>();
  private flushing: NodeJS.Immediate | undefined;
  private retention: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly opts: RecorderOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.q = recorderTables(db);
    this.include = opts.include.map(glob);
    this.exclude = opts.exclude.map(glob);
  }

  start(): void {
    this.retain();
    this.retention = setInterval(() => this.retain(), HOUR);
    this.retention.unref();
  }

  stop(): void {
    clearInterval(this.retention);
    this.flush();
  }

  records(entityId: string): boolean {
    if (this.exclude.some((r) => r.test(entityId))) return false;
    return this.include.length === 0 || this.include.some((r) => r.test(entityId));
  }

  /** Records a state (and its attributes) at `time`; numbers also go into their buckets. */
  record(entityId: string, state: unknown, attributes: Record<string, unknown>, time: number, checked = false): void {
    if (!checked && !this.records(entityId)) return;
    this.rows.push([entityId, JSON.stringify(state ?? null), JSON.stringify(attributes), time]);
    if (typeof state === 'number' && Number.isFinite(state)) {
      for (const period of [FIVE_MINUTES, HOUR]) {
        const start = time - (time % period);
        const key = `${entityId}\0${period}\0${start}`;
        const b = this.buckets.get(key);
        if (b) {
          b.min = Math.min(b.min, state);
          b.max = Math.max(b.max, state);
          b.sum += state;
          b.last = state;
          b.count++;
        } else this.buckets.set(key, { min: state, max: state, sum: state, last: state, count: 1 });
      }
    }
    this.flushing ??= setImmediate(() => this.flush());
  }

  /**
   * e154's EntitySetMetric: each item of the metric is a series of its own (`entity#metric.item`),
   * kept and downsampled like a numeric state; recorded when the entity is.
   */
  recordMetric(entityId: string, metric: string, values: Record<string, number>, time: number): void {
    if (!this.records(entityId)) return;
    for (const [item, v] of Object.entries(values))
      this.record(metricSeries(entityId, metric, item), v, {}, time, true);
  }

  metricHistory(entityId: string, metric: string, item: string, query: HistoryQuery = {}): History {
    return this.history(metricSeries(entityId, metric, item), query);
  }

  flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (this.rows.length === 0 && this.buckets.size === 0) return;
    const rows = this.rows;
    const buckets = this.buckets;
    this.rows = [];
    this.buckets = new Map();
    this.db.transaction(() => {
      for (const r of rows) this.q.insert.run(...r);
      for (const [key, b] of buckets) {
        const [id, period, start] = key.split('\0');
        this.q.bucket.run({
          id,
          period: Number(period),
          start: Number(start),
          min: b.min,
          max: b.max,
          mean: b.sum / b.count,
          last: b.last,
          count: b.count,
        });
      }
    })();
  }

  /** Deletes raw rows older than keep_days and buckets older than keep_statistics_days; nothing else. */
  retain(now = this.now()): { rows: number; buckets: number } {
    this.flush();
    const rows = this.q.dropRaw.run(now - this.opts.keepDays * DAY).changes;
    const buckets = this.q.dropBuckets.run(now - this.opts.keepStatisticsDays * DAY).changes;
    return { rows, buckets };
  }

  forget(entityId: string): void {
    this.flush();
    this.q.dropEntity.run(entityId);
    this.q.dropSeries.run(`${entityId}#`, `${entityId}$`); // its metrics ('$' sorts right after '#')
  }

  /**
   * History between `since` and `until` (default: the last 24 h). `auto` reads raw rows for up to
   * two days that are still kept, 5-minute buckets up to 30 days, hourly buckets beyond.
   */
  history(entityId: string, query: HistoryQuery = {}): History {
    this.flush();
    const until = query.until ?? this.now();
    const since = query.since ?? until - DAY;
    const max = this.opts.maxPoints;
    const auto = (query.resolution ?? 'auto') === 'auto';
    let resolution: Resolution;
    if (auto) {
      const span = until - since;
      const rawKept = since >= this.now() - this.opts.keepDays * DAY;
      resolution = span <= 2 * DAY && rawKept ? 'raw' : span <= 30 * DAY ? '5m' : '1h';
    } else resolution = query.resolution as Resolution;
    let points: HistoryPoint[] = [];
    if (resolution === 'raw') {
      points = (
        this.q.raw.all(entityId, since, until, max + 1) as { state: string; attributes: string; time: number }[]
      ).map((r) => ({
        t: r.time,
        state: JSON.parse(r.state),
        attributes: JSON.parse(r.attributes) as Record<string, unknown>,
      }));
      // a chatty number has more rows than a graph can use: its 5-minute buckets instead
      if (auto && points.length > max && typeof (points[0] as { state?: unknown }).state === 'number')
        resolution = '5m';
    }
    if (resolution !== 'raw') {
      const period = resolution === '5m' ? FIVE_MINUTES : HOUR;
      points = (
        this.q.buckets.all(entityId, period, since - (since % period), until, max + 1) as {
          start: number;
          min: number;
          max: number;
          mean: number;
          last: number;
          count: number;
        }[]
      ).map((b) => ({ t: b.start, min: b.min, max: b.max, mean: b.mean, last: b.last, count: b.count }));
    }
    const truncated = points.length > max;
    return { entityId, resolution, since, until, points: truncated ? points.slice(0, max) : points, truncated };
  }

  /** The database's size and the rows each entity has, for the UI's warning before the disk fills. */
  usage(): { bytes: number; rows: Record<string, number> } {
    this.flush();
    const pages = (this.q.pageCount.get() as { page_count: number }).page_count;
    const size = (this.q.pageSize.get() as { page_size: number }).page_size;
    const rows: Record<string, number> = {};
    for (const r of this.q.rowsPerEntity.all() as { id: string; rows: number }[]) rows[r.id] = r.rows;
    return { bytes: pages * size, rows };
  }
}
