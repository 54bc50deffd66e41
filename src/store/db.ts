// The one SQLite file (WAL) in the data dir, with numbered schema migrations.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrations } from './migrations.js';

export type Db = Database.Database;

/** The data dir or database cannot be used; the CLI prints it and exits 1. */
export class StoreError extends Error {
  override name = 'StoreError';
}

export function openStore(dataDir: string): Db {
  try {
    mkdirSync(dataDir, { recursive: true });
    if (!statSync(dataDir).isDirectory()) throw new Error('not a directory');
    accessSync(dataDir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new StoreError(`data dir ${dataDir} is not usable: ${(err as Error).message}`);
  }
  return openDatabase(path.join(dataDir, 'smart-home.db'));
}

/** Opens (or creates) a database file, or ':memory:', and brings its schema up to date. */
export function openDatabase(file: string): Db {
  let db: Db | undefined;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
    // only an OS crash or power loss can lose the last transactions.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return db;
  } catch (err) {
    db?.close();
    throw new StoreError(
      `database ${file} cannot be opened: ${(err as Error).message}. ` +
        'Nothing was changed; move the file away to start with an empty store, or restore it from a backup.',
    );
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new Error(
      `schema version ${current} is newer than this smart-home knows (${migrations.length}); upgrade smart-home`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
