// Scheduled backups (config `backup: {every, keep, dir}`): one at start when the newest is older
// than `every` (or there is none), then every `every`; the newest `keep` are kept. A failure is
// logged and tried again at the next time; it never stops the hub.
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { backupName, createBackup, lastBackupTime, pruneBackups } from './backup.js';

export interface BackupSchedule {
  every: number;
  keep: number;
  dir: string;
}

const MAX_TIMER = 2 ** 31 - 1;

export class BackupScheduler {
  private handle?: unknown;
  private stopped = false;
  /** The backup being written, if one is (stop waits for it). */
  private running?: Promise<void>;
  /** Scheduled backups made since start (for tests and /metrics). */
  made = 0;

  constructor(
    private readonly o: {
      schedule: BackupSchedule;
      dataDir: string;
      configFile?: string;
      db: Db;
      clock: Clock;
      log: Logger;
    },
  ) {}

  start(): void {
    const last = lastBackupTime(this.o.schedule.dir);
    this.at(last === undefined ? this.o.clock.now() : last + this.o.schedule.every);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.o.clock.clearTimeout(this.handle);
    await this.running;
  }

  private at(due: number): void {
    if (this.stopped) return;
    const wait = due - this.o.clock.now();
    if (wait <= 0) {
      setImmediate(() => void this.run());
      return;
    }
    this.handle = this.o.clock.setTimeout(
      () => (this.o.clock.now() >= due ? void this.run() : this.at(due)),
      Math.min(wait, MAX_TIMER),
    );
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    const { schedule, log } = this.o;
    const now = this.o.clock.now();
    const file = path.join(schedule.dir, backupName(now));
    this.running = createBackup(
      { dataDir: this.o.dataDir, ...(this.o.configFile ? { configFile: this.o.configFile } : {}), db: this.o.db },
      file,
    )
      .then((r) => {
        this.made++;
        const pruned = pruneBackups(schedule.dir, schedule.keep);
        log.info({ file: r.file, bytes: r.bytes, files: r.files, pruned }, 'backup written');
      })
      .catch((err) =>
        log.error({ file, err: (err as Error).message }, 'scheduled backup failed; trying again at the next time'),
      )
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
    this.at(now + schedule.every);
  }
}
