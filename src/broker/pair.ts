// Two connected in-memory Duplex streams (node:stream's duplexPair arrived only in Node 22.6).
import { Duplex } from 'node:stream';

class End extends Duplex {
  other!: End;
  override _read(): void {
    /* data is pushed by the other end */
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.other.push(chunk);
    cb();
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.other.push(null);
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.destroy();
    cb(err);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.other = b;
  b.other = a;
  return [a, b];
}
