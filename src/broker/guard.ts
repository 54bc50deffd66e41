// Sits between a socket and Aedes: follows the MQTT fixed header of every packet and drops the
// connection as soon as a packet declares a length over the limit, before buffering it (Aedes
// and mqtt-packet have no such limit and would buffer up to 256 MiB per client).
import type { Duplex } from 'node:stream';

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

/**
 * Checks the framing of everything Aedes reads from `socket`, as it reads it: Aedes pulls data
 * with `read()` on 'readable', so wrapping `read` sees each chunk before the MQTT parser buffers
 * it, and a packet that declares a length over the limit drops the connection at its header.
 * Writes go to the socket untouched. (A Duplex wrapper did the same and halved throughput: every
 * packet Aedes wrote went through a second stream; see bench/RESULTS.md.)
 */
export function guardSocket<S extends SocketLike>(
  socket: S,
  maxPacketSize: number,
  onViolation: (reason: string) => void,
): S {
  const scanner = new FrameScanner(maxPacketSize);
  const read = socket.read.bind(socket);
  let first = true;
  socket.read = ((size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk === null || socket.destroyed) return chunk;
    if (first) {
      first = false;
      const level = connectLevel(chunk);
      if (level !== undefined && ![3, 4, 5].includes(level & 0x7f)) {
        // [MQTT-3.1.2-2]: answer CONNACK 0x01 (unacceptable protocol level), then close. mqtt-packet
        // rejects such a CONNECT as a parse error, so Aedes would close without a CONNACK.
        onViolation(`unsupported protocol level ${level & 0x7f}`);
        socket.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
        return null;
      }
    }
    const bad = scanner.scan(chunk);
    if (!bad) return chunk;
    onViolation(bad);
    socket.destroy();
    return null;
  }) as S['read'];
  return socket;
}

/** The protocol level of a CONNECT at the start of `chunk`, when the chunk holds it. */
export function connectLevel(chunk: Uint8Array): number | undefined {
  if (chunk[0] !== 0x10) return undefined;
  let i = 1;
  while (i < chunk.length && i <= 4 && (chunk[i]! & 0x80) !== 0) i++;
  i++; // past the last remaining-length byte
  if (i + 2 > chunk.length) return undefined;
  const nameLength = (chunk[i]! << 8) | chunk[i + 1]!;
  const at = i + 2 + nameLength;
  return at < chunk.length ? chunk[at] : undefined;
}

/**
 * A subscriber that stops reading must not stall anyone else (issue 14). Aedes waits for 'drain'
 * whenever a write reports backpressure, and with enough such waits in flight its message
 * pipeline stops for every client. So this connection's writes report none: its data waits in
 * the socket's own buffer. Over `softBytes` it must make progress (the buffer back under it)
 * within `timeoutMs`, as a client reading a burst of retained messages does; over 8 × softBytes,
 * or without progress, it is a slow consumer and is dropped (a persistent session keeps its
 * QoS 1/2 messages for when it comes back).
 */
export function boundWrites<S extends SocketLike>(
  socket: S,
  softBytes: number,
  timeoutMs: number,
  onSlow: (buffered: number, why: string) => void,
): S {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let timer: NodeJS.Timeout | undefined;
  const drop = (why: string) => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (socket.destroyed) return;
    onSlow(socket.writableLength, why);
    socket.destroy();
  };
  socket.on('drain', () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
  });
  socket.on('close', () => {
    if (timer) clearTimeout(timer);
  });
  socket.write = ((...args: unknown[]) => {
    if (socket.destroyed) return write(...args);
    write(...args);
    const buffered = socket.writableLength;
    if (buffered > 8 * softBytes) drop(`more than 8 × the allowance (${8 * softBytes} bytes) waiting to be read`);
    else if (buffered > softBytes && !timer)
      timer = setTimeout(() => {
        if (socket.writableLength > softBytes)
          drop(`over the allowance (${softBytes} bytes) for ${timeoutMs} ms without reading`);
        else timer = undefined;
      }, timeoutMs);
    return true;
  }) as S['write'];
  return socket;
}
