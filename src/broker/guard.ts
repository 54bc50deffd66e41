// Sits between a socket and Aedes: follows the MQTT fixed header of every packet and drops the
// connection as soon as a packet declares a length over the limit, before buffering it (Aedes
// and mqtt-packet have no such limit and would buffer up to 256 MiB per client).
import { Duplex } from 'node:stream';

export class PacketTooLarge extends Error {
  override name = 'PacketTooLarge';
}

/** Tracks packet boundaries across chunks; returns an error message for a bad header. */
export class FrameScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxPacketSize: number) {}

  scan(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const b = chunk[i++]!;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        if (++this.lengthBytes > 4) return 'malformed remaining length (more than 4 bytes)';
        if ((b & 0x80) === 0) {
          if (this.length + 1 + this.lengthBytes > this.maxPacketSize) {
            return `packet of ${this.length + 1 + this.lengthBytes} bytes exceeds max_packet_size ${this.maxPacketSize}`;
          }
          this.remaining = this.length;
          this.state = this.remaining === 0 ? 'type' : 'body';
        }
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'type';
      }
    }
    return undefined;
  }
}

export interface SocketLike extends Duplex {
  remoteAddress?: string;
  remotePort?: number;
}

/** A Duplex over `socket` that checks incoming framing; writes pass straight through. */
export class GuardedConnection extends Duplex {
  private readonly scanner: FrameScanner;

  constructor(private readonly socket: SocketLike, maxPacketSize: number, onViolation: (reason: string) => void) {
    super();
    this.scanner = new FrameScanner(maxPacketSize);
    socket.on('data', (chunk: Buffer) => {
      const bad = this.scanner.scan(chunk);
      if (bad) {
        onViolation(bad);
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
  }

  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
  get remotePort(): number | undefined { return this.socket.remotePort; }

  override _read(): void { this.socket.resume(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.destroyed) return cb();
    this.socket.write(chunk, (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void { this.socket.end(() => cb()); }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
