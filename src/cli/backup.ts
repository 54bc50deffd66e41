// `smart-home backup FILE` and `smart-home restore FILE`: the data dir (database, scripts,
// config, automations, secrets) into one archive and back (src/backup/backup.ts).
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { createBackup, restoreBackup } from '../backup/backup.js';
import { readHubFile } from './hub-file.js';

const kib = (n: number) => `${Math.max(1, Math.round(n / 1024)).toLocaleString('en')} KiB`;

export async function backupCommand(file: string, opts: ConfigOverrides): Promise<void> {
  const { config, file: configFile } = loadConfig(opts);
  const r = await createBackup({ dataDir: config.data_dir, ...(configFile ? { configFile } : {}) }, file);
  process.stdout.write(`backed up ${config.data_dir} to ${r.file}: ${r.files} files, ${kib(r.bytes)}\n`);
}

export async function restoreCommand(file: string, opts: ConfigOverrides): Promise<void> {
  const { config } = loadConfig(opts);
  const r = await restoreBackup(file, config.data_dir, readHubFile(config.data_dir) !== undefined);
  process.stdout.write(
    `restored ${r.restored} files of the backup made ${r.manifest.created} into ${config.data_dir}${r.movedAside ? `; what was there is in ${r.movedAside}` : ''}\n`,
  );
}
