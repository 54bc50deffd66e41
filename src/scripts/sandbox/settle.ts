// Outcomes of publishes and async host calls, handed to the guest in one call per tick (not one
// per message): ok ids, values, and failures, as the wire's three strings.
import type { SettleFailure } from '../guest/wire.js';

export class SettleBatch {
  private ok: number[] = [];
  private values: [number, unknown][] = [];
  private failed: SettleFailure[] = [];
  private scheduled = false;

  /** `deliver` runs in a microtask after the first outcome of a tick, with the whole batch. */
  constructor(private readonly deliver: (ok: string, failed: string, values: string) => void) {}

  resolved(id: number, value?: unknown): void {
    if (value === undefined) this.ok.push(id);
    else this.values.push([id, value]);
    this.schedule();
  }

  rejected(id: number, code: string, message: string, name?: string): void {
    this.failed.push(name === undefined ? [id, code, message] : [id, code, message, name]);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const ok = this.ok.join(',');
      const failed = this.failed.length ? JSON.stringify(this.failed) : '';
      const values = this.values.length ? JSON.stringify(this.values) : '';
      this.ok = [];
      this.failed = [];
      this.values = [];
      this.deliver(ok, failed, values);
    });
  }
}
