// Backups: one .tar.gz with the database (SQLite's online backup, so a running hub keeps writing),
// the scripts, the config, automations.yaml and secrets.yaml, and a manifest with each file's size
// and SHA-256. A restore checks all of it (the archive whole, every hash, the database's own
// integrity check) before it touches the data dir, refuses a data dir a hub is running on, and
// moves what was there aside (never deletes it). Scheduled backups keep the newest `keep`.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VERSION } from '../version.js';
import { backupDatabase, checkDatabase } from '../store/backup.js';
import type { Db } from '../store/db.js';

export const DB_FILE = 'smart-home.db';
/** Besides the database: what a backup holds from the data dir. */
const FILES = ['smart-home.yaml', 'automations.yaml', 'secrets.yaml'];
const SCRIPTS = 'scripts';
const FORMAT = 'smart-home-backup';

export class BackupError extends Error {
  override name = 'BackupError';
}

interface Manifest {
  format: string;
  version: number;
  hub: string;
  created: string;
  files: { path: string; bytes: number; sha256: string }[];
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function walk(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p, base);
    return e.isFile() ? [path.relative(base, p)] : [];
  });
}

export interface BackupSource {
  dataDir: string;
  /** The config file in use, when it is not smart-home.yaml in the data dir. */
  configFile?: string;
  /** The hub's own open database (a scheduled backup); else the file is opened read-only. */
  db?: Db;
}

/** Writes the archive to `out` (via a temporary name, so a failure leaves no half file). */
export async function createBackup(
  src: BackupSource,
  out: string,
): Promise<{ file: string; bytes: number; files: number }> {
  const dbFile = path.join(src.dataDir, DB_FILE);
  if (!src.db && !existsSync(dbFile))
    throw new BackupError(`no database in ${src.dataDir} (${DB_FILE}); is --data right?`);
  const staging = mkdtempSync(path.join(os.tmpdir(), 'smart-home-backup-'));
  const partial = `${out}.partial`;
  try {
    await backupDatabase(src.db ?? dbFile, path.join(staging, DB_FILE));
    const files = [DB_FILE];
    const config = src.configFile ?? path.join(src.dataDir, 'smart-home.yaml');
    for (const name of FILES) {
      const from = name === 'smart-home.yaml' ? config : path.join(src.dataDir, name);
      if (!existsSync(from)) continue;
      cpSync(from, path.join(staging, name));
      files.push(name);
    }
    const scripts = path.join(src.dataDir, SCRIPTS);
    if (existsSync(scripts)) {
      cpSync(scripts, path.join(staging, SCRIPTS), { recursive: true });
      files.push(...walk(path.join(staging, SCRIPTS)).map((f) => path.join(SCRIPTS, f)));
    }
    const manifest: Manifest = {
      format: FORMAT,
      version: 1,
      hub: VERSION,
      created: new Date().toISOString(),
      files: files.map((f) => ({
        path: f,
        bytes: statSync(path.join(staging, f)).size,
        sha256: sha256(path.join(staging, f)),
      })),
    };
    writeFileSync(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    const tar = await import('tar'); // loaded by a backup, not by every hub's start
    await tar.c({ gzip: true, file: partial, cwd: staging, portable: true }, ['manifest.json', ...files]);
    renameSync(partial, out);
    return { file: out, bytes: statSync(out).size, files: files.length };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err instanceof BackupError ? err : new BackupError(`backup failed: ${(err as Error).message}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Unpacks and checks an archive into a temporary dir; throws a BackupError saying what is wrong. */
export async function verifyBackup(file: string): Promise<{ dir: string; manifest: Manifest }> {
  if (!existsSync(file)) throw new BackupError(`${file}: no such file`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'smart-home-restore-'));
  const fail = (why: string): never => {
    rmSync(dir, { recursive: true, force: true });
    throw new BackupError(`${file}: ${why}; nothing was restored`);
  };
  try {
    // only plain files and dirs, inside the archive's root (tar refuses absolute paths and ..)
    const tar = await import('tar');
    await tar.x({
      file,
      cwd: dir,
      strict: true,
      filter: (_p, e) => 'type' in e && (e.type === 'File' || e.type === 'Directory'),
    });
  } catch (err) {
    return fail(`is not a whole backup archive (${(err as Error).message})`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return fail('has no manifest.json: it is not a backup made by smart-home backup');
  }
  if (manifest.format !== FORMAT || manifest.version !== 1)
    return fail(`is a ${manifest.format ?? 'unknown'} v${manifest.version}, not a ${FORMAT} v1`);
  for (const f of manifest.files ?? []) {
    const p = path.join(dir, f.path);
    if (!existsSync(p)) return fail(`${f.path} is missing from it (truncated?)`);
    if (statSync(p).size !== f.bytes || sha256(p) !== f.sha256)
      return fail(`${f.path} is not the file that was backed up (its checksum differs)`);
  }
  if (!manifest.files.some((f) => f.path === DB_FILE)) return fail(`it holds no ${DB_FILE}`);
  const integrity = checkDatabase(path.join(dir, DB_FILE));
  if (integrity !== 'ok') return fail(`its database is damaged (${integrity})`);
  return { dir, manifest };
}

/**
 * Puts a checked archive in place in `dataDir`; what was there is moved to
 * `dataDir/before-restore-<time>/`. `running` says whether a hub runs on that dir (then: refused).
 */
export async function restoreBackup(
  file: string,
  dataDir: string,
  running: boolean,
): Promise<{ restored: number; movedAside?: string; manifest: Manifest }> {
  if (running)
    throw new BackupError(
      `a hub is running on ${dataDir}: stop it first (a restore replaces its database under it); nothing was restored`,
    );
  const { dir, manifest } = await verifyBackup(file);
  try {
    mkdirSync(dataDir, { recursive: true });
    const ours = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, ...FILES, SCRIPTS];
    const present = ours.filter((f) => existsSync(path.join(dataDir, f)));
    let aside: string | undefined;
    if (present.length > 0) {
      aside = path.join(dataDir, `before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      mkdirSync(aside);
      for (const f of present) renameSync(path.join(dataDir, f), path.join(aside, f));
    }
    for (const f of [DB_FILE, ...FILES, SCRIPTS])
      if (existsSync(path.join(dir, f))) cpSync(path.join(dir, f), path.join(dataDir, f), { recursive: true });
    return { restored: manifest.files.length, ...(aside ? { movedAside: aside } : {}), manifest };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const STAMP = /^smart-home-(\d{8}-\d{6})\.tar\.gz$/;

/** `smart-home-20261202-180000.tar.gz` for a time. */
export function backupName(t: number): string {
  const iso = new Date(t).toISOString();
  return `smart-home-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}.tar.gz`;
}

/** The scheduled backups in `dir`, oldest first. */
export function scheduledBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => STAMP.test(f))
    .sort();
}

/** Deletes all but the newest `keep` scheduled backups; returns the ones deleted. */
export function pruneBackups(dir: string, keep: number): string[] {
  const all = scheduledBackups(dir);
  const gone = all.slice(0, Math.max(0, all.length - keep));
  for (const f of gone) rmSync(path.join(dir, f), { force: true });
  return gone;
}

/** When the newest scheduled backup was made (from its name), or undefined. */
export function lastBackupTime(dir: string): number | undefined {
  const newest = scheduledBackups(dir).at(-1);
  const m = newest ? STAMP.exec(newest) : null;
  if (!m) return undefined;
  const s = m[1]!;
  return Date.parse(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
  );
}
