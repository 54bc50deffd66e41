// `data/hub.json`: where the running hub listens, written by `serve` when it is ready and removed
// when it stops, so `run` and `action` reach the hub however it was started (--mqtt-port,
// SMART_HOME_HTTP_PORT, a config file) without being told again.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface HubFile {
  pid: number;
  mqtt?: string;
  http?: string;
}

const fileIn = (dataDir: string) => path.join(dataDir, 'hub.json');

export function writeHubFile(dataDir: string, info: Omit<HubFile, 'pid'>): () => void {
  const file = fileIn(dataDir);
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, ...info }, null, 2)}\n`);
  return () => {
    try {
      if (readHubFile(dataDir)?.pid === process.pid) rmSync(file);
    } catch {
      /* gone already */
    }
  };
}

/** The running hub's addresses, if a hub that is still alive wrote them. */
export function readHubFile(dataDir: string): HubFile | undefined {
  let info: HubFile;
  try {
    info = JSON.parse(readFileSync(fileIn(dataDir), 'utf8')) as HubFile;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(info.pid)) return undefined;
  try {
    process.kill(info.pid, 0); // alive?
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return info;
}
