// SQLite's online backup of the hub's database (consistent while the hub writes), and the check
// a restore makes of a database before it is put in place.
import Database from 'better-sqlite3';
import type { Db } from './db.js';

/** Copies the database at `source` (or an open one) to `dest`, page by page, while others write. */
export async function backupDatabase(source: string | Db, dest: string): Promise<void> {
  const db = typeof source === 'string' ? new Database(source, { readonly: true, fileMustExist: true }) : source;
  try {
    await db.backup(dest);
  } finally {
    if (typeof source === 'string') db.close();
  }
}

/** SQLite's own check of a database file: 'ok', or what is wrong. */
export function checkDatabase(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
