// The recorder's tables: every recorded state (entity_history) and numeric states downsampled
// into buckets (entity_statistics: min, max, mean, last, count per entity, period and start).
// src/entities/recorder.ts batches the writes per event-loop turn and decides what is kept.
import type { Db } from './db.js';

export type RecorderTables = ReturnType<typeof recorderTables>;

export function recorderTables(db: Db) {
  return {
    insert: db.prepare('INSERT INTO entity_history (entity_id, state, attributes, time) VALUES (?, ?, ?, ?)'),
    // merging a turn's partial bucket into the stored one keeps min, max and the sample mean exact
    bucket: db.prepare(`INSERT INTO entity_statistics (entity_id, period, start, min, max, mean, last, count)
      VALUES (@id, @period, @start, @min, @max, @mean, @last, @count)
      ON CONFLICT (entity_id, period, start) DO UPDATE SET
        min = min(entity_statistics.min, excluded.min),
        max = max(entity_statistics.max, excluded.max),
        mean = (entity_statistics.mean * entity_statistics.count + excluded.mean * excluded.count)
          / (entity_statistics.count + excluded.count),
        last = excluded.last,
        count = entity_statistics.count + excluded.count`),
    raw: db.prepare(`SELECT state, attributes, time FROM entity_history
      WHERE entity_id = ? AND time >= ? AND time <= ? ORDER BY time, id LIMIT ?`),
    buckets: db.prepare(`SELECT start, min, max, mean, last, count FROM entity_statistics
      WHERE entity_id = ? AND period = ? AND start >= ? AND start <= ? ORDER BY start LIMIT ?`),
    dropRaw: db.prepare('DELETE FROM entity_history WHERE time < ?'),
    dropBuckets: db.prepare('DELETE FROM entity_statistics WHERE start < ?'),
    dropEntity: db.prepare('DELETE FROM entity_history WHERE entity_id = ?'),
    dropSeries: db.prepare('DELETE FROM entity_history WHERE entity_id >= ? AND entity_id < ?'),
    rowsPerEntity: db.prepare('SELECT entity_id AS id, count(*) AS rows FROM entity_history GROUP BY entity_id'),
    pageCount: db.prepare('PRAGMA page_count'),
    pageSize: db.prepare('PRAGMA page_size'),
  };
}
