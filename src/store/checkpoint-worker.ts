// The WAL checkpointer's thread (src/store/checkpointer.ts): its own connection to the hub's SQLite
// file, a PASSIVE checkpoint every interval (it never waits for a lock, and the hub's writers go on
// appending to the WAL meanwhile), each one reported to the main thread with how long it took.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file, { fileMustExist: true });
let timer: NodeJS.Timeout | undefined;

function checkpoint(): void {
  const t0 = performance.now();
  const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
  parentPort!.postMessage({ ms: performance.now() - t0, ...r });
  timer = setTimeout(checkpoint, intervalMs);
}

parentPort!.on('message', (m: string) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort!.close();
});
checkpoint();
