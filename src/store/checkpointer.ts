// Checkpointing the WAL off the hot path (issue 22). SQLite's automatic checkpoint runs inside the
// COMMIT that takes the WAL past 1 000 pages, on whichever thread commits: for the hub that is the
// event loop, in the middle of the broker's group commit, copying 4 MB into the database file and
// syncing it (measured: several checkpoints a second, each 1-11 ms, at 1 000 QoS 1 msg/s to a
// persistent session). Here the main connection's automatic checkpoint is off and a worker thread
// with its own connection checkpoints every `intervalMs`. Durability is unchanged: a commit is in the
// WAL (synchronous=NORMAL) before anyone is told it is done; the checkpoint only moves it into the
// main file. If the worker fails or exits, the automatic checkpoint is switched back on, so the WAL
// never grows without bound.
//
// The thread costs about 9 MiB of RSS, and a home hub at rest writes a few rows a second, for
// which SQLite's own checkpoint (every 1 000 pages, minutes apart) is no pause anyone feels. So by
// default (`store.checkpoint_thread: auto`) the thread starts once the hub writes in earnest: the
// main connection's row changes are sampled every second, and the first second with
// BUSY_CHANGES_PER_SECOND or more starts it, for the rest of the hub's run.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { Db } from './db.js';

const WORKER = new URL('./checkpoint-worker.js', import.meta.url);
/** SQLite's own default for wal_autocheckpoint (pages), restored when the worker is gone. */
export const AUTO_CHECKPOINT_PAGES = 1000;
/** Row changes in one second that start the thread in `auto` mode (a QoS 1 message to a persistent session is about two). */
export const BUSY_CHANGES_PER_SECOND = 500;

export interface CheckpointReport {
  ms: number;
  /** Frames in the WAL, and how many of them are in the database file now. */
  log: number;
  checkpointed: number;
  busy: number;
}

export class Checkpointer {
  private worker?: Worker;
  private stopping = false;
  /** Checkpoints done by the worker, and the last one's report. */
  checkpoints = 0;
  last?: CheckpointReport;
  private readonly listeners = new Set<(r: CheckpointReport) => void>();
  private watching?: NodeJS.Timeout;
  private changesAt = 0;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    if (this.db.memory || this.worker) return;
    this.stopping = false;
    let w: Worker;
    try {
      w = new Worker(WORKER, {
        workerData: { file: this.db.name, intervalMs: this.intervalMs },
        // it only runs a PRAGMA: a small heap, so it costs little and cannot grow
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2, stackSizeMb: 1 },
      });
    } catch (err) {
      // no thread: the hub still starts, with SQLite's own checkpoints
      this.log.warn(
        { err: (err as Error).message },
        'the WAL checkpoint thread cannot start: SQLite checkpoints on commit',
      );
      return;
    }
    this.db.pragma('wal_autocheckpoint = 0');
    this.worker = w;
    w.unref();
    w.on('message', (r: CheckpointReport) => {
      this.checkpoints++;
      this.last = r;
      for (const fn of this.listeners) fn(r);
    });
    w.on('error', (err) => this.lost(`failed: ${err.message}`));
    w.on('exit', (code) => this.lost(`exited with code ${code}`));
  }

  /**
   * `auto` mode: SQLite's own checkpoint until a second with BUSY_CHANGES_PER_SECOND row changes
   * or more on the main connection; then the thread, for good.
   */
  startWhenBusy(everyMs = 1000): void {
    if (this.db.memory || this.worker || this.watching) return;
    this.changesAt = this.changes();
    this.watching = setInterval(() => this.sample(), everyMs);
    this.watching.unref();
  }

  /** One sample of `auto` mode (the timer's, or a test's): starts the thread when the writes since the last one call for it. */
  sample(): void {
    if (!this.db.open) return;
    const now = this.changes();
    const busy = now - this.changesAt >= BUSY_CHANGES_PER_SECOND;
    this.changesAt = now;
    if (!busy) return;
    clearInterval(this.watching);
    this.watching = undefined;
    this.log.info('the hub writes in earnest: the WAL is checkpointed by a thread of its own from now on');
    this.start();
  }

  private changesStmt?: { get(): unknown };
  private changes(): number {
    this.changesStmt ??= this.db.prepare('SELECT total_changes() AS n');
    return (this.changesStmt.get() as { n: number }).n;
  }

  /** Called with every checkpoint's report; returns the function that stops it. */
  onCheckpoint(fn: (r: CheckpointReport) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Whether the worker is checkpointing (false: SQLite's automatic checkpoint is on). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private lost(why: string): void {
    if (!this.worker) return;
    this.worker = undefined;
    this.restoreAuto();
    if (!this.stopping)
      this.log.warn(
        { why },
        `the WAL checkpoint thread ${why}: SQLite's automatic checkpoint is back on (commits may pause for it again); a restart of the hub starts the thread again`,
      );
  }

  private restoreAuto(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  }

  async stop(): Promise<void> {
    clearInterval(this.watching);
    this.watching = undefined;
    const w = this.worker;
    if (!w) return;
    this.stopping = true;
    w.ref(); // the wait for its exit keeps the process alive (an idle thread does not)
    const exited = new Promise((r) => w.once('exit', r));
    w.postMessage('stop');
    await exited; // its exit handler (lost) has switched SQLite's own checkpoint back on
  }

  /** For the tests: the thread dies as if it had crashed. */
  async crashForTest(): Promise<void> {
    this.worker?.ref();
    await this.worker?.terminate();
  }
}
