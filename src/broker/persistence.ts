// Aedes persistence backed by the hub's SQLite file.
//
// Reads are served by aedes-persistence's own in-memory implementation (its tries and queues
// are what aedes is tuned for); every mutation is written through to SQLite synchronously
// before the returned promise resolves, so whatever aedes has acknowledged is on disk.
// On start the memory is rebuilt from the tables. WAL + synchronous=NORMAL: a committed row
// survives kill -9 of the process. It runs aedes-persistence's abstract test suite.
import { serialize, deserialize } from 'node:v8';
import { Readable, Transform } from 'node:stream';
import type { Db } from '../store/db.js';
import { brokerTables, type BrokerTables } from '../store/broker-tables.js';
import { matches } from './acl.js';
import { AedesPacket, AsyncMemoryPersistence, CallBackPersistence as CallBackPersistenceBase } from './aedes-seams.js';

// CommonJS modules without types (aedes-seams.ts names them); the shapes relied on are below.
const AsyncMemory = AsyncMemoryPersistence as new () => MemoryBase;
const CallBackPersistence = CallBackPersistenceBase as new (factory: () => MemoryBase) => unknown;
const Packet = AedesPacket as new (p: object) => StoredPacket;

interface ClientRef {
  id: string;
  conn?: unknown;
}
interface SubRef {
  clientId: string;
}
interface Subscription {
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
  subscriptionIdentifier?: number;
}
export interface StoredPacket {
  cmd?: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain?: boolean;
  dup?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  [k: string]: unknown;
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
  outgoingStream(client: ClientRef): Readable;
}

/**
 * `fn` over each packet of an object stream, dropping those it maps to undefined. Synchronous:
 * Readable.filter()/map() cost a promise per packet, and a new `#` subscriber's retained storm
 * goes through here.
 */
function mapPackets(stream: Readable, fn: (p: StoredPacket) => StoredPacket | undefined): Readable {
  const out = new Transform({
    objectMode: true,
    transform(p: StoredPacket, _enc, done) {
      done(null, fn(p));
    },
  });
  stream.on('error', (err) => out.destroy(err));
  return stream.pipe(out);
}

const startsWild = (pattern: string) => pattern.startsWith('#') || pattern.startsWith('+');

/**
 * The retained messages for one SUBSCRIBE, one copy per matching filter as Aedes sends them,
 * except that a filter starting with a wildcard never matches a `$` topic [MQTT-4.7.2-1]
 * (`#` next to `$TopicA/B` gets `$TopicA/B` once, through the literal filter).
 */
function retainedFor(combi: (patterns: string[]) => Readable, patterns: string[]): Readable {
  const wild = patterns.filter(startsWild);
  const literal = patterns.filter((p) => !startsWild(p));
  const fromWild = () => mapPackets(combi(wild), (p) => (p.topic.startsWith('$') ? undefined : p));
  if (wild.length === 0) return combi(literal);
  if (literal.length === 0) return fromWild();
  return Readable.from(
    (async function* () {
      yield* fromWild();
      yield* combi(literal);
    })(),
  );
}

/** The brokerId of the PUBRELs in a queue: never a real broker's id (see outgoingUpdate). */
const PUBREL_MARK = 'smart-home:pubrel';
const EMPTY = Buffer.alloc(0);

/** The packet's data (a packet Aedes is delivering carries its write callback, which is not data). */
const enc = (p: object): Buffer => {
  const data: Record<string, unknown> = {};
  for (const k in p) {
    const v = (p as Record<string, unknown>)[k];
    if (typeof v !== 'function' && Object.hasOwn(p, k)) data[k] = v;
  }
  return serialize(data);
};
const dec = (b: Buffer): StoredPacket => deserialize(b) as StoredPacket;

type Row = Record<string, unknown>;

export class SqlitePersistence extends AsyncMemory {
  private readonly q: BrokerTables;

  // better-sqlite3's db.transaction(fn) builds four wrapped functions and their properties on every
  // call: made once here, not per flush (about 5 KB of garbage per message on a persistent session).
  private readonly commitBatch: (batch: { fn: () => void }[]) => void;
  private readonly commitOne: (fn: () => void) => void;

  constructor(private readonly db: Db) {
    super();
    this.q = brokerTables(db);
    this.commitBatch = db.transaction((batch: { fn: () => void }[]) => {
      for (const w of batch) w.fn();
    });
    this.commitOne = db.transaction((fn: () => void) => fn());
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
    for (const [id, list] of subs) {
      this.noteFilters(
        id,
        list.map((x) => x.topic),
      );
      await super.addSubscriptions({ id }, list);
    }
    for (const r of q.outAll.all() as Row[]) {
      this.queued.add(r.client_id as string);
      const stored = dec(r.packet as Buffer);
      const packet = new Packet(stored);
      this.restoring(packet);
      if (r.message_id !== null) packet.messageId = r.message_id as number;
      await super.outgoingEnqueue({ clientId: r.client_id as string }, packet);
      if (r.message_id !== null) await super.outgoingUpdate({ id: r.client_id as string }, packet);
    }
    for (const r of q.inAll.all() as Row[])
      await super.incomingStorePacket({ id: r.client_id as string }, dec(r.packet as Buffer));
    for (const r of q.willAll.all() as Row[])
      await super.putWill({ id: r.client_id as string }, dec(r.packet as Buffer));
  }

  /** A queued packet read back from the table, before it goes into the memory queue. */
  protected restoring(_packet: StoredPacket): void {}

  // [MQTT-4.7.2-1]: a filter starting with a wildcard must not match topics starting with $.
  // The memory implementation's retained lookup does not apply that rule, so filter here.
  override createRetainedStream(pattern: string): Readable {
    return retainedFor((p) => super.createRetainedStreamCombi(p), [pattern]);
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    return retainedFor((p) => super.createRetainedStreamCombi(p), patterns);
  }

  // Group commit: the writes asked for in one turn of the event loop go to SQLite in one
  // transaction at the end of it, in order, and each caller continues (and Aedes acknowledges)
  // only once that transaction is done. One commit per batch instead of one per message. If the
  // batch fails, each write is retried in its own transaction, so one bad write fails only its
  // own caller and never rolls back the others'.
  private pending: { fn: () => void; resolve: () => void; reject: (err: Error) => void }[] = [];
  private scheduled = false;

  private write(fn: () => void): Promise<void> {
    this.writes++;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ fn, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flushNow());
    });
  }

  /** Writes what is pending now (also on shutdown). */
  flushNow(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    if (!this.db.open) {
      for (const w of batch) w.reject(new Error('database closed'));
      return;
    }
    try {
      this.commitBatch(batch);
      for (const w of batch) w.resolve();
    } catch {
      for (const w of batch) {
        try {
          this.commitOne(w.fn);
          w.resolve();
        } catch (err) {
          w.reject(err as Error);
        }
      }
    }
  }

  override async destroy(): Promise<void> {
    this.flushNow();
    await super.destroy();
  }

  override async storeRetained(p: StoredPacket): Promise<void> {
    await super.storeRetained(p);
    const blob = p.payload.length === 0 ? undefined : enc(p);
    await this.write(() => {
      if (blob) this.q.retainedPut.run(p.topic, blob);
      else this.q.retainedDel.run(p.topic);
    });
  }

  // Filters of the sessions stored here (persistent ones: Aedes keeps no others), so the broker
  // can tell cheaply whether a message will be queued for anyone.
  private readonly durable = new Map<string, Set<string>>();

  private noteFilters(clientId: string, add: string[], remove: string[] = []): void {
    const filters = this.durable.get(clientId) ?? new Set<string>();
    for (const f of add) filters.add(f);
    for (const f of remove) filters.delete(f);
    if (filters.size > 0) this.durable.set(clientId, filters);
    else this.durable.delete(clientId);
  }

  /** Whether a QoS > 0 message on `topic` would be queued for a stored session (true when unsure). */
  queuesFor(topic: string): boolean {
    let checked = 0;
    for (const filters of this.durable.values()) {
      for (const filter of filters) {
        if (++checked > 256) return true;
        if (matches(filter.startsWith('$share/') ? filter.split('/').slice(2).join('/') : filter, topic)) return true;
      }
    }
    return false;
  }

  override async addSubscriptions(c: ClientRef, subs: Subscription[]): Promise<void> {
    this.noteFilters(
      c.id,
      subs.map((x) => x.topic),
    );
    await super.addSubscriptions(c, subs);
    const rows = subs.map(({ topic, ...opts }) => [c.id, topic, JSON.stringify(opts)] as const);
    await this.write(() => {
      for (const r of rows) this.q.subPut.run(...r);
    });
  }

  override async removeSubscriptions(c: ClientRef, topics: string[]): Promise<void> {
    this.noteFilters(c.id, [], topics);
    await super.removeSubscriptions(c, topics);
    await this.write(() => {
      for (const t of topics) this.q.subDel.run(c.id, t);
    });
  }

  override async cleanSubscriptions(c: ClientRef): Promise<void> {
    this.durable.delete(c.id);
    await super.cleanSubscriptions(c);
    await this.write(() => this.q.subClean.run(c.id));
  }

  // The clients that may have rows in broker_outgoing: the ones a packet was queued for since the
  // start or at restore (only outgoingEnqueue writes rows). A QoS 1/2 delivery to any other client
  // (a clean session, which Aedes never queues for) finds no row to update or delete, so its
  // outgoingUpdate and outgoingClearMessageId skip SQLite: two write transactions per delivery
  // that changed nothing (issue 22). Only ever grows, so it never wrongly says "no rows".
  private readonly queued = new Set<string>();
  /** Write transactions asked for (each one a group-commit entry), for the tests and the bench. */
  writes = 0;

  override async outgoingEnqueue(sub: SubRef, p: StoredPacket): Promise<void> {
    this.queued.add(sub.clientId);
    await super.outgoingEnqueue(sub, p);
    const row = [sub.clientId, p.brokerId ?? null, p.brokerCounter ?? null, enc(p)] as const;
    await this.write(() => this.q.outPut.run(...row));
  }

  override async outgoingEnqueueCombi(subs: SubRef[], p: StoredPacket): Promise<void> {
    for (const s of subs) this.queued.add(s.clientId); // before any await, as in outgoingEnqueue
    await super.outgoingEnqueueCombi(subs, p);
    if (subs.length === 0) return;
    const blob = enc(p);
    const ids = subs.map((s) => s.clientId);
    await this.write(() => {
      for (const id of ids) this.q.outPut.run(id, p.brokerId ?? null, p.brokerCounter ?? null, blob);
    });
  }

  override async outgoingUpdate(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.outgoingUpdate(c, p);
    if (!this.queued.has(c.id)) return;
    const q = this.q;
    const messageId = p.messageId ?? null;
    const brokerId = p.brokerId ?? null;
    const brokerCounter = p.brokerCounter ?? null;
    await this.write(() => {
      // Same two cases as the memory implementation: a queued publish gets its message id,
      // or the packet holding a message id is replaced (PUBLISH -> PUBREL for QoS 2).
      const byCounter = q.outSetId.run(messageId, c.id, brokerId, brokerCounter);
      if (byCounter.changes > 0) return;
      const row = q.outFindById.get(c.id, messageId) as Row | undefined;
      // (serialized only here: the packet of the common case above carries a callback)
      if (row) q.outReplace.run(brokerId, brokerCounter, messageId, enc(p), row.seq);
    });
  }

  override async outgoingClearMessageId(c: ClientRef, p: StoredPacket): Promise<StoredPacket | undefined> {
    const removed = await super.outgoingClearMessageId(c, p);
    if (!this.queued.has(c.id)) return removed;
    const messageId = p.messageId;
    await this.write(() => {
      const row = this.q.outFindById.get(c.id, messageId) as Row | undefined;
      if (row) this.q.outDelSeq.run(row.seq);
    });
    return removed;
  }

  override async incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.incomingStorePacket(c, p);
    const row = [c.id, p.messageId, enc(p)] as const;
    await this.write(() => this.q.inPut.run(...row));
  }

  override async incomingDelPacket(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.incomingDelPacket(c, p);
    const messageId = p.messageId;
    await this.write(() => this.q.inDel.run(c.id, messageId));
  }

  override async cleanIncoming(c: ClientRef): Promise<void> {
    await super.cleanIncoming(c);
    await this.write(() => this.q.inClean.run(c.id));
  }

  override async putWill(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.putWill(c, p);
    const blob = enc(p);
    await this.write(() => this.q.willPut.run(c.id, blob));
  }

  override async delWill(c: ClientRef): Promise<StoredPacket | undefined> {
    const will = await super.delWill(c);
    await this.write(() => this.q.willDel.run(c.id));
    return will;
  }
}

/**
 * What the broker uses: the storage above plus two rules of delivery, kept out of SqlitePersistence
 * (which returns packets exactly as given, as aedes-persistence's suite asks).
 * [MQTT-3.3.1-1]: a PUBLISH sent again must carry DUP=1. What Aedes resends when a session
 * resumes comes from `outgoingStream`, and a queued PUBLISH that already has a packet id was sent.
 */
export class BrokerPersistence extends SqlitePersistence {
  /** Counter for the PUBRELs the queues hold (see outgoingUpdate). */
  private pubrels = 0;

  constructor(
    db: Db,
    private readonly keepsIncoming: (client: ClientRef) => boolean = () => false,
  ) {
    super(db);
  }

  /**
   * The hub's own connection uses a clean session, but its QoS 1/2 publishes wait in a durable
   * outbox that resends them after a crash with the same packet ids. For QoS 2 the broker's half
   * of those flows (the PUBLISH it stored before PUBREC) must survive the clean connect too, or a
   * resent PUBLISH that had already been published is published again (crash matrix: a QoS 2
   * duplicate). So that client's inbound QoS 2 state is kept; its subscriptions are not.
   */
  override async cleanIncoming(c: ClientRef): Promise<void> {
    if (this.keepsIncoming(c)) return;
    await super.cleanIncoming(c);
  }

  override outgoingStream(client: ClientRef): Readable {
    return mapPackets(super.outgoingStream(client), (p) =>
      p.cmd === 'publish' && p.messageId != null && !p.dup
        ? Object.assign(Object.create(Object.getPrototypeOf(p) as object) as StoredPacket, p, { dup: true })
        : p,
    );
  }

  /**
   * aedes-persistence's memory queue matches a packet by (brokerId, brokerCounter) before it looks
   * at message ids, and a PUBREL from Aedes has neither: with two QoS 2 flows in flight, the
   * second PUBREL matched the first one already stored (undefined === undefined) and overwrote
   * its message id. The first flow was never released, the second PUBREL was written twice, and
   * an mqtt.js subscriber lost a message. So a PUBREL goes in as its own copy, with a mark no
   * PUBLISH has and a counter of its own. (The storage class keeps the packets as given, as
   * aedes-persistence's suite asks; this is the broker's use of it.)
   */
  override async outgoingUpdate(c: ClientRef, p: StoredPacket): Promise<void> {
    if (p.cmd !== 'pubrel' || p.brokerId !== undefined) return super.outgoingUpdate(c, p);
    try {
      await super.outgoingUpdate(c, {
        cmd: 'pubrel',
        topic: '',
        payload: EMPTY,
        qos: 1,
        messageId: p.messageId,
        brokerId: PUBREL_MARK,
        brokerCounter: ++this.pubrels,
      });
    } catch (err) {
      // a second PUBREC for a flow already released: its PUBREL is stored, nothing to replace
      if ((err as Error).message !== 'no such packet') throw err;
    }
  }

  protected override restoring(packet: StoredPacket): void {
    if (packet.cmd === 'pubrel') {
      packet.brokerId = PUBREL_MARK;
      packet.brokerCounter = ++this.pubrels;
    }
  }
}

/** The callback-style wrapper aedes expects around an async persistence. */
export function createSqlitePersistence(
  db: Db,
  keepsIncoming?: (client: ClientRef) => boolean,
): { aedes: unknown; store: BrokerPersistence } {
  const store = new BrokerPersistence(db, keepsIncoming);
  return { aedes: new CallBackPersistence(() => store), store };
}
