// Scripts the hub crashed on start disabled, and say so (issue 14: a script in data/scripts that
// killed the process crash-looped the hub on every start). Two ways a crash is pinned on a script:
// a marker file names the script whose top level runs while the hub starts (a crash there, of any
// kind, kill -9 and V8 out-of-memory included, leaves the marker behind), and an uncaught host
// exception while a sandbox was entered (Sandbox.running) records that script. Saving or running
// the script again enables it.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Disabled {
  reason: string;
  since: number;
}

export class Quarantine {
  private readonly file: string;
  private readonly marker: string;
  private disabled: Record<string, Disabled>;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'disabled-scripts.json');
    this.marker = path.join(dataDir, '.script-starting');
    this.disabled = this.read();
  }

  private read(): Record<string, Disabled> {
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, Disabled>) : {};
    } catch {
      return {};
    }
  }

  private write(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.disabled, null, 2));
    renameSync(tmp, this.file);
  }

  /** At start: a marker left by the last run means the hub died while that script's top level ran. */
  recoverMarker(): string | undefined {
    if (!existsSync(this.marker)) return undefined;
    let name = '';
    try {
      name = readFileSync(this.marker, 'utf8').trim();
    } catch {
      /* unreadable: nothing to pin */
    }
    rmSync(this.marker, { force: true });
    if (!name) return undefined;
    this.disable(
      name,
      'the hub stopped (crashed or was killed) while the script started; it was disabled so the hub can start',
    );
    return name;
  }

  reasonFor(name: string): Disabled | undefined {
    return this.disabled[name];
  }

  disable(name: string, reason: string): void {
    this.disabled[name] = { reason, since: Date.now() };
    this.write();
  }

  enable(name: string): void {
    if (!this.disabled[name]) return;
    delete this.disabled[name];
    this.write();
  }

  /** Around one script's top level at start (synchronous file writes: they must survive kill -9). */
  starting(name: string): void {
    writeFileSync(this.marker, name);
  }
  started(): void {
    rmSync(this.marker, { force: true });
  }
}
