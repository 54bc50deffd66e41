// A byte-level MQTT client for conformance and fuzz tests: mqtt-packet builds and parses the
// packets, the test decides exactly what goes on the wire (flags, ids, DUP, order) and sees
// exactly what comes back, which mqtt.js hides or fixes up.
import net from 'node:net';
import { once } from 'node:events';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { sleep } from './helpers.js';

export type AnyPacket = Packet & Record<string, unknown>;

export class RawClient {
  readonly packets: AnyPacket[] = [];
  closed = false;
  private readonly waiters = new Set<() => void>();
  private read = 0;

  private constructor(readonly socket: net.Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => {
      this.packets.push(p as AnyPacket);
      this.wake();
    });
    parser.on('error', () => {
      /* what the broker sent is the broker's business; tests read `packets` */
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const s = net.connect(port, '127.0.0.1');
    const c = new RawClient(s);
    await Promise.race([
      once(s, 'connect'),
      once(s, 'close').then(() => {
        throw new Error('refused');
      }),
    ]);
    return c;
  }

  /** Opens a connection and completes a CONNECT; returns the client and its CONNACK. */
  static async connected(
    port: number,
    connect: Partial<mqttPacket.IConnectPacket> = {},
  ): Promise<{ c: RawClient; connack: AnyPacket }> {
    const c = await RawClient.open(port);
    c.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: `raw-${Math.random().toString(36).slice(2, 10)}`,
      keepalive: 0,
      ...connect,
    });
    const connack = await c.next('connack');
    return { c, connack };
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(packet: object): void {
    this.socket.write(mqttPacket.generate(packet as Packet));
  }
  sendBytes(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.from(bytes as Buffer));
  }

  /** The next packet of this kind not yet returned (bounded wait). */
  async next(cmd: string, timeoutMs = 3000): Promise<AnyPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = this.read; i < this.packets.length; i++) {
        if (this.packets[i]!.cmd === cmd) {
          const p = this.packets[i]!;
          this.packets.splice(i, 1);
          return p;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed)
        throw new Error(
          `no ${cmd} within ${timeoutMs} ms (closed=${this.closed}; got ${this.packets.map((p) => p.cmd).join(',') || 'nothing'})`,
        );
      await new Promise<void>((r) => {
        const w = () => {
          this.waiters.delete(w);
          r();
        };
        this.waiters.add(w);
        setTimeout(w, left);
      });
    }
  }

  /** No packet of this kind arrives within `ms`. */
  async none(cmd: string, ms = 300): Promise<boolean> {
    await sleep(ms);
    return !this.packets.some((p) => p.cmd === cmd);
  }

  /** True when the broker closes the connection within the time (false if it stays open). */
  async closedWithin(ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await sleep(10);
    return this.closed;
  }

  /** Closes the TCP connection without DISCONNECT (like a crash or a lost network). */
  drop(): void {
    this.socket.destroy();
  }

  disconnect(): void {
    this.send({ cmd: 'disconnect' });
    this.socket.end();
  }
}
