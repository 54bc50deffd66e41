// Aedes persistence backed by the hub's SQLite file.
//
// Reads are served by aedes-persistence's own in-memory implementation (its tries and queues
// are what aedes is tuned for); every mutation is written through to SQLite synchronously
// before the returned promise resolves, so whatever aedes has acknowledged is on disk.
// On start the memory is rebuilt from the tables. WAL + synchronous=NORMAL: a committed row
// survives kill -9 of the process. It runs aedes-persistence's abstract test suite.
import { createRequire } from 'node:module';
import { serialize, deserialize } from 'node:v8';
import type { Readable } from 'node:stream';
import type { Db } from '../store/db.js';
import { matches } from './acl.js';

const require = createRequire(import.meta.url);
// CommonJS modules without types; the shapes we rely on are declared below.
const AsyncMemory = require('aedes-persistence/asyncPersistence.js') as new () => MemoryBase;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: new (factory: () => MemoryBase) => unknown;
};
const Packet = require('aedes-packet') as new (p: object) => StoredPacket;

interface ClientRef { id: string }
interface SubRef { clientId: string }
interface Subscription { topic: string; qos: number; rh?: number; rap?: boolean; nl?: boolean; subscriptionIdentifier?: number }
export interface StoredPacket {
  cmd?: string; topic: string; payload: Buffer; qos: number; retain?: boolean; dup?: boolean;
  messageId?: number; brokerId?: string; brokerCounter?: number; [k: string]: unknown;
}
interface MemoryBase {
  setup(broker: { id: string }): Promise<void>;
  storeRetained(p: StoredPacket): Promise<void>;
  addSubscriptions(c: ClientRef, subs: Subscription[]): Promise<void>;
  removeSubscriptions(c: ClientRef, topics: string[]): Promise<void>;
  cleanSubscriptions(c: ClientRef): Promise<void>;
  outgoingEnqueue(sub: SubRef, p: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: SubRef[], p: StoredPacket): Promise<void>;
  outgoingUpdate(c: ClientRef, p: StoredPacket): Promise<void>;
  outgoingClearMessageId(c: ClientRef, p: StoredPacket): Promise<StoredPacket | undefined>;
  incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void>;
  incomingDelPacket(c: ClientRef, p: StoredPacket): Promise<void>;
  cleanIncoming(c: ClientRef): Promise<void>;
  putWill(c: ClientRef, p: StoredPacket): Promise<void>;
  delWill(c: ClientRef): Promise<StoredPacket | undefined>;
  destroy(): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

function withoutDollarTopics(stream: Readable, patterns: string[]): Readable {
  const dollarOk = patterns.filter((p) => !p.startsWith('#') && !p.startsWith('+'));
  const allowed = (topic: string) => !topic.startsWith('$') || dollarOk.some((p) => matches(p, topic));
  return stream.filter((p: StoredPacket) => allowed(p.topic), { concurrency: 1 });
}

const enc = (p: object): Buffer => serialize({ ...p });
const dec = (b: Buffer): StoredPacket => deserialize(b) as StoredPacket;

function statements(db: Db) {
  return {
    retainedPut: db.prepare('INSERT OR REPLACE INTO broker_retained (topic, packet) VALUES (?, ?)'),
    retainedDel: db.prepare('DELETE FROM broker_retained WHERE topic = ?'),
    retainedAll: db.prepare('SELECT packet FROM broker_retained'),
    subPut: db.prepare('INSERT OR REPLACE INTO broker_subscriptions (client_id, topic, options) VALUES (?, ?, ?)'),
    subDel: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND topic = ?'),
    subClean: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
    subAll: db.prepare('SELECT client_id, topic, options FROM broker_subscriptions ORDER BY rowid'),
    outPut: db.prepare('INSERT INTO broker_outgoing (client_id, broker_id, broker_counter, message_id, packet) VALUES (?, ?, ?, NULL, ?)'),
    outSetId: db.prepare('UPDATE broker_outgoing SET message_id = ? WHERE client_id = ? AND broker_id = ? AND broker_counter = ?'),
    outFindById: db.prepare('SELECT seq FROM broker_outgoing WHERE client_id = ? AND message_id = ? ORDER BY seq LIMIT 1'),
    outReplace: db.prepare('UPDATE broker_outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, packet = ? WHERE seq = ?'),
    outDelSeq: db.prepare('DELETE FROM broker_outgoing WHERE seq = ?'),
    outAll: db.prepare('SELECT client_id, message_id, packet FROM broker_outgoing ORDER BY seq'),
    inPut: db.prepare('INSERT OR REPLACE INTO broker_incoming (client_id, message_id, packet) VALUES (?, ?, ?)'),
    inDel: db.prepare('DELETE FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
    inClean: db.prepare('DELETE FROM broker_incoming WHERE client_id = ?'),
    inAll: db.prepare('SELECT client_id, packet FROM broker_incoming'),
    willPut: db.prepare('INSERT OR REPLACE INTO broker_wills (client_id, packet) VALUES (?, ?)'),
    willDel: db.prepare('DELETE FROM broker_wills WHERE client_id = ?'),
    willAll: db.prepare('SELECT client_id, packet FROM broker_wills'),
  };
}

type Row = Record<string, unknown>;

export class SqlitePersistence extends AsyncMemory {
  private readonly q: ReturnType<typeof statements>;

  constructor(private readonly db: Db) {
    super();
    this.q = statements(db);
  }

  override async setup(broker: { id: string }): Promise<void> {
    await super.setup(broker);
    await this.restore();
  }

  /** Rebuild the in-memory indexes from the tables (through the base class, so nothing is re-written). */
  private async restore(): Promise<void> {
    const q = this.q;
    for (const r of q.retainedAll.all() as Row[]) await super.storeRetained(dec(r.packet as Buffer));
    const subs = new Map<string, Subscription[]>();
    for (const r of q.subAll.all() as Row[]) {
      const list = subs.get(r.client_id as string) ?? [];
      list.push({ topic: r.topic as string, ...JSON.parse(r.options as string) });
      subs.set(r.client_id as string, list);
    }
    for (const [id, list] of subs) await super.addSubscriptions({ id }, list);
    for (const r of q.outAll.all() as Row[]) {
      const stored = dec(r.packet as Buffer);
      const packet = new Packet(stored);
      if (r.message_id !== null) packet.messageId = r.message_id as number;
      await super.outgoingEnqueue({ clientId: r.client_id as string }, packet);
      if (r.message_id !== null) await super.outgoingUpdate({ id: r.client_id as string }, packet);
    }
    for (const r of q.inAll.all() as Row[]) await super.incomingStorePacket({ id: r.client_id as string }, dec(r.packet as Buffer));
    for (const r of q.willAll.all() as Row[]) await super.putWill({ id: r.client_id as string }, dec(r.packet as Buffer));
  }

  // [MQTT-4.7.2-1]: a filter starting with a wildcard must not match topics starting with $.
  // The memory implementation's retained lookup does not apply that rule, so filter here.
  override createRetainedStream(pattern: string): Readable {
    return withoutDollarTopics(super.createRetainedStream(pattern), [pattern]);
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    return withoutDollarTopics(super.createRetainedStreamCombi(patterns), patterns);
  }

  override async storeRetained(p: StoredPacket): Promise<void> {
    await super.storeRetained(p);
    if (p.payload.length === 0) this.q.retainedDel.run(p.topic);
    else this.q.retainedPut.run(p.topic, enc(p));
  }

  override async addSubscriptions(c: ClientRef, subs: Subscription[]): Promise<void> {
    await super.addSubscriptions(c, subs);
    this.db.transaction(() => {
      for (const { topic, ...opts } of subs) this.q.subPut.run(c.id, topic, JSON.stringify(opts));
    })();
  }

  override async removeSubscriptions(c: ClientRef, topics: string[]): Promise<void> {
    await super.removeSubscriptions(c, topics);
    this.db.transaction(() => { for (const t of topics) this.q.subDel.run(c.id, t); })();
  }

  override async cleanSubscriptions(c: ClientRef): Promise<void> {
    await super.cleanSubscriptions(c);
    this.q.subClean.run(c.id);
  }

  override async outgoingEnqueue(sub: SubRef, p: StoredPacket): Promise<void> {
    await super.outgoingEnqueue(sub, p);
    this.q.outPut.run(sub.clientId, p.brokerId ?? null, p.brokerCounter ?? null, enc(p));
  }

  override async outgoingEnqueueCombi(subs: SubRef[], p: StoredPacket): Promise<void> {
    await super.outgoingEnqueueCombi(subs, p);
    const blob = enc(p);
    this.db.transaction(() => {
      for (const s of subs) this.q.outPut.run(s.clientId, p.brokerId ?? null, p.brokerCounter ?? null, blob);
    })();
  }

  override async outgoingUpdate(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.outgoingUpdate(c, p);
    const q = this.q;
    this.db.transaction(() => {
      // Same two cases as the memory implementation: a queued publish gets its message id,
      // or the packet holding a message id is replaced (PUBLISH -> PUBREL for QoS 2).
      const byCounter = q.outSetId.run(p.messageId ?? null, c.id, p.brokerId ?? null, p.brokerCounter ?? null);
      if (byCounter.changes > 0) return;
      const row = q.outFindById.get(c.id, p.messageId) as Row | undefined;
      if (row) q.outReplace.run(p.brokerId ?? null, p.brokerCounter ?? null, p.messageId ?? null, enc(p), row.seq);
    })();
  }

  override async outgoingClearMessageId(c: ClientRef, p: StoredPacket): Promise<StoredPacket | undefined> {
    const removed = await super.outgoingClearMessageId(c, p);
    const row = this.q.outFindById.get(c.id, p.messageId) as Row | undefined;
    if (row) this.q.outDelSeq.run(row.seq);
    return removed;
  }

  override async incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.incomingStorePacket(c, p);
    this.q.inPut.run(c.id, p.messageId, enc(p));
  }

  override async incomingDelPacket(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.incomingDelPacket(c, p);
    this.q.inDel.run(c.id, p.messageId);
  }

  override async cleanIncoming(c: ClientRef): Promise<void> {
    await super.cleanIncoming(c);
    this.q.inClean.run(c.id);
  }

  override async putWill(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.putWill(c, p);
    this.q.willPut.run(c.id, enc(p));
  }

  override async delWill(c: ClientRef): Promise<StoredPacket | undefined> {
    const will = await super.delWill(c);
    this.q.willDel.run(c.id);
    return will;
  }
}

/** The callback-style wrapper aedes expects around an async persistence. */
export function createSqlitePersistence(db: Db): unknown {
  return new CallBackPersistence(() => new SqlitePersistence(db));
}
