// The durable outbox: mqtt.js's outgoing store kept in SQLite. mqtt.js puts every QoS 1/2
// publish there before sending it (and while disconnected, instead of sending it), replaces it
// with the PUBREL at PUBREC, deletes it at PUBACK/PUBCOMP, and on every connect sends what is
// left, in order. Kept in SQLite, what a script published survives a broker restart, a network
// outage and a `kill -9` of the hub, and goes out when the broker is back.
import { Readable } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { UniqueMessageIdProvider, type IStore, type MqttClient } from 'mqtt';
import type { Db } from '../store/db.js';
import { outboxTable, type OutboxTable } from '../store/outbox.js';

type Done = (err?: Error) => void;
type PacketDone = (err?: Error, packet?: Packet) => void;

export class SqliteOutbox implements IStore {
  private readonly q: OutboxTable;

  /** `client` keeps the outboxes of the hub's client and of each bridge apart in one table. */
  constructor(
    db: Db,
    private readonly protocolVersion: 4 | 5 = 4,
    private readonly client = 'hub',
  ) {
    this.q = outboxTable(db);
  }

  /** Messages waiting for the broker's acknowledgement (sent or not yet sent). */
  get size(): number {
    return (this.q.count.get(this.client) as { n: number }).n;
  }

  /** An mqtt.js packet-id provider that will not hand out the ids still waiting here (after a restart). */
  messageIdProvider(): UniqueMessageIdProvider {
    const ids = new UniqueMessageIdProvider();
    for (const r of this.q.ids.all(this.client) as { message_id: number }[]) ids.register(r.message_id);
    return ids;
  }

  put(packet: Packet, cb: Done): this {
    try {
      const id = (packet as { messageId?: number }).messageId;
      if (id === undefined) throw new Error('outbox: packet without a message id');
      this.q.put.run(this.client, id, mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
    } catch (err) {
      cb(err as Error);
      return this;
    }
    cb();
    return this;
  }

  get(packet: Pick<Packet, 'messageId'>, cb: PacketDone): this {
    const row = this.q.get.get(this.client, packet.messageId) as { packet: Buffer } | undefined;
    if (!row) cb(new Error('missing packet'));
    else cb(undefined, this.decode(row.packet));
    return this;
  }

  del(packet: Pick<Packet, 'messageId'>, cb: PacketDone): this {
    const row = this.q.get.get(this.client, packet.messageId) as { packet: Buffer } | undefined;
    if (!row) {
      cb(new Error('missing packet'));
      return this;
    }
    this.q.del.run(this.client, packet.messageId);
    cb(undefined, this.decode(row.packet));
    return this;
  }

  createStream(): ReturnType<IStore['createStream']> {
    const rows = (this.q.all.all(this.client) as { packet: Buffer }[]).map((r) => this.decode(r.packet));
    let i = 0;
    // mqtt.js types it as readable-stream's Readable; it only reads, waits for 'readable' and 'end', destroys
    return new Readable({
      objectMode: true,
      read() {
        this.push(i < rows.length ? rows[i++] : null);
      },
    }) as unknown as ReturnType<IStore['createStream']>;
  }

  close(cb: Done): void {
    cb();
  }

  private decode(bytes: Buffer): Packet {
    const parser = mqttPacket.parser({ protocolVersion: this.protocolVersion });
    let out: Packet | undefined;
    parser.on('packet', (p) => {
      out = p;
    });
    parser.on('error', (err) => {
      throw err;
    });
    parser.parse(bytes);
    if (!out) throw new Error('outbox: unreadable packet');
    return out;
  }
}

/**
 * Ends an mqtt.js client: a graceful end waits for unacknowledged messages, but a broker that
 * never answers must not hold the shutdown, so the stream is destroyed after `forceMs` (mqtt.js
 * ignores a second end() while the first is pending).
 */
export function endClient(c: MqttClient, forceMs = 2000): Promise<void> {
  return new Promise<void>((r) => {
    const force = setTimeout(() => {
      c.stream?.destroy();
      r();
    }, forceMs);
    c.end(false, {}, () => {
      clearTimeout(force);
      r();
    });
  });
}
