// Every place the hub reaches past the documented API of Aedes and its packages, in one file:
// what each seam does, the versions it was checked against (package.json pins them with `~`),
// and the test that proves it still holds. `checkSeams` runs at every broker start and fails
// the start loudly if a seam no longer engages, instead of letting a guarantee lapse silently.
//
// Nothing here patches a module for the whole process: each seam works on one connection, one
// Aedes client or one packet that the broker hands it.
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { matches } from './acl.js';

/** The versions every seam below was read against and tested with. */
export const CHECKED_AGAINST = {
  aedes: '1.2.0',
  'aedes-persistence': '11.0.0',
  'aedes-packet': '4.0.1',
  'mqtt-packet': '9.0.2',
} as const;

export class SeamError extends Error {
  override name = 'SeamError';
}

// ---- Seam 1: PUBACK only once the message is stored ---------------------------------------------
// Aedes answers a QoS 1 PUBLISH with PUBACK first and publishes (stores retained, queues for
// offline sessions) after it, so a crash between the two lost a message the client had been told
// was delivered (test/reliability/crash.test.ts). So, per connection:
// - the broker marks, when it authorizes a QoS 1 PUBLISH, the ones that will be stored (retained,
//   or matching a stored session's subscription): only their PUBACKs wait, the others go at once;
// - the connection's `write` (the stream Aedes writes every packet to) follows the MQTT framing
//   of what Aedes writes and holds a marked PUBACK back;
// - Aedes's documented `published` hook (called once the message is stored and queued) releases it.
// PUBACKs leave in the order their PUBLISHes arrived [MQTT-4.6.0-2]: a queue per connection,
// written from its head while the head is released. QoS 2 needs none of this: Aedes stores the
// incoming PUBLISH and publishes it before it sends PUBREC.
// Tests: test/reliability/crash.test.ts, test/broker/seams.test.ts.

interface Held {
  messageId: number;
  released: boolean;
  bytes: Buffer;
}
type Write = (chunk: unknown, ...rest: unknown[]) => boolean;
const PUBACK = 4;
const TYPE = 0,
  LENGTH = 1,
  BODY = 2;

class PubackHold {
  readonly queue: Held[] = [];
  readonly marked = new Set<number>();
  /** PUBACKs held back and let go (for the start-up check). */
  held = 0;
  released = 0;
  private state = TYPE;
  private length = 0;
  private multiplier = 1;
  private remaining = 0;
  private puback: number[] | undefined;
  /**
   * Following the framing only while a PUBACK is marked or held. Aedes writes a whole packet in
   * one synchronous `writeToStream`, and a mark is made while it handles an incoming PUBLISH,
   * never inside a write: so the stream is at a packet boundary whenever following starts, and
   * it stops at one. Until then writes pass untouched (a QoS 0 fan-out pays nothing).
   */
  following = false;

  constructor(private readonly out: Write) {}

  mark(messageId: number): void {
    if (!this.following) {
      this.following = true;
      this.state = TYPE;
    }
    this.marked.add(messageId);
  }

  private settleFollowing(): void {
    if (this.marked.size === 0 && this.queue.length === 0 && this.state === TYPE && this.puback === undefined)
      this.following = false;
  }

  write(chunk: unknown, rest: unknown[]): boolean {
    try {
      return this.follow(chunk, rest);
    } finally {
      this.settleFollowing();
    }
  }

  private follow(chunk: unknown, rest: unknown[]): boolean {
    // the common case: the middle of a PUBLISH (a topic or payload piece) passes untouched
    if (this.state === BODY && this.puback === undefined) {
      const n =
        typeof chunk === 'string'
          ? Buffer.byteLength(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8')
          : (chunk as Uint8Array).length;
      if (n <= this.remaining) {
        this.remaining -= n;
        if (this.remaining === 0) this.state = TYPE;
        return this.out(chunk, ...rest);
      }
    }
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8')
        : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).length);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    let ok = true;
    let from = 0;
    const pass = (to: number) => {
      if (to > from) ok = this.out(from === 0 && to === buf.length ? buf : buf.subarray(from, to)) && ok;
    };
    let i = 0;
    while (i < buf.length) {
      if (this.state === TYPE) {
        if (buf[i]! >> 4 === PUBACK) {
          pass(i);
          this.puback = [buf[i]!];
        }
        i++;
        this.state = LENGTH;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      if (this.state === LENGTH) {
        const b = buf[i++]!;
        this.puback?.push(b);
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        if ((b & 0x80) !== 0) continue;
        this.remaining = this.length;
        this.state = this.remaining === 0 ? TYPE : BODY;
      } else {
        const take = Math.min(this.remaining, buf.length - i);
        if (this.puback) for (let k = i; k < i + take; k++) this.puback.push(buf[k]!);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = TYPE;
      }
      if (this.state === TYPE && this.puback) {
        this.settle(Buffer.from(this.puback));
        this.puback = undefined;
        from = i;
      }
    }
    if (!this.puback) pass(buf.length);
    if (callback) process.nextTick(callback);
    return ok;
  }

  private settle(bytes: Buffer): void {
    const messageId = bytes.length >= 4 ? (bytes[2]! << 8) | bytes[3]! : -1;
    const hold = this.marked.delete(messageId);
    if (!hold && this.queue.length === 0) {
      this.out(bytes);
      return;
    }
    if (hold) this.held++;
    this.queue.push({ messageId, released: !hold, bytes }); // held, or behind one that is
  }

  release(messageId: number): void {
    const held = this.queue.find((h) => !h.released && h.messageId === messageId);
    if (held) {
      held.released = true;
      this.released++;
    }
    while (this.queue.length > 0 && this.queue[0]!.released) this.out(this.queue.shift()!.bytes);
    this.settleFollowing();
  }
}

const holds = new WeakMap<object, PubackHold>();

/** Makes `conn` hold each marked PUBACK Aedes writes to it until its message is stored. */
export function holdPubacks(conn: Duplex): void {
  const out = conn.write.bind(conn) as Write;
  const hold = new PubackHold(out);
  holds.set(conn, hold);
  // (not following: straight through, no arguments array, no scanning)
  conn.write = ((chunk: unknown, a?: unknown, b?: unknown) =>
    hold.following
      ? hold.write(chunk, b !== undefined ? [a, b] : a !== undefined ? [a] : [])
      : out(chunk, a, b)) as Duplex['write'];
}

/** The QoS 1 PUBLISH `messageId` on `conn` will be stored: its PUBACK waits for `published`. */
export function markStored(conn: object, messageId: number): void {
  holds.get(conn)?.mark(messageId);
}

/** For Aedes's `published` hook: `client`'s QoS 1 message is stored; its PUBACK may go. */
export function releaseStored(packet: { qos: number; messageId?: number }, client: { conn?: object } | null): void {
  if (!client?.conn || packet.qos !== 1 || packet.messageId === undefined) return;
  holds.get(client.conn)?.release(packet.messageId);
}

// ---- Seam 2: the granted QoS ---------------------------------------------------------------------
// [MQTT-3.3.5-1] and [MQTT-3.8.4-6]: a message goes to a client at the lower of its published QoS
// and the highest QoS granted to the client's subscriptions that match it. Aedes decides the QoS
// by the one subscription whose handler runs first (a QoS 0 `a/#` next to a QoS 2 `a/+` can win,
// and then the QoS 2 copy is dropped as a duplicate), and downgrades only when a filter equals the
// topic. This wraps the two delivery functions of one Aedes client (`deliver0`, `deliverQoS`,
// set in its constructor, lib/client.js), before it subscribes to anything, to apply the rule.
// Tests: test/broker/conformance.test.ts [MQTT-3.3.5-1], test/scripts/internal-qos.test.ts.

interface DeliverPacket {
  topic: string;
  qos: number;
}
type Deliver = (packet: DeliverPacket, cb: () => void) => void;
interface DeliveringClient {
  subscriptions: Record<string, { qos: number }>;
  deliver0: Deliver;
  deliverQoS: Deliver;
}

/** The highest QoS granted to a subscription matching `topic`, or undefined if none matches. */
export function grantedQos(subscriptions: Record<string, { qos: number }>, topic: string): number | undefined {
  // the common case, one subscription: it is the one that matched, no topic matching needed
  let n = 0;
  let only: { qos: number } | undefined;
  for (const filter in subscriptions) {
    if (++n > 1) break;
    only = subscriptions[filter];
  }
  if (n === 1) return only!.qos;
  let best: number | undefined;
  for (const filter in subscriptions) {
    const qos = subscriptions[filter]!.qos;
    if ((best === undefined || qos > best) && matches(filter, topic)) best = qos;
  }
  return best;
}

/** Applies the granted-QoS rule to one Aedes client (the object `aedes.handle` returned). */
export function applyGrantedQos(aedesClient: unknown): void {
  const client = aedesClient as DeliveringClient;
  if (
    typeof client?.deliver0 !== 'function' ||
    typeof client.deliverQoS !== 'function' ||
    typeof client.subscriptions !== 'object'
  ) {
    throw new SeamError(
      `granted QoS: the Aedes client has no deliver0/deliverQoS/subscriptions (checked against aedes ${CHECKED_AGAINST.aedes}); the granted-QoS rule would not hold`,
    );
  }
  const deliver0 = client.deliver0;
  const deliverQoS = client.deliverQoS;
  const deliver: Deliver = (packet, cb) => {
    const granted = packet.qos > 0 ? grantedQos(client.subscriptions, packet.topic) : undefined;
    if (granted !== undefined) packet.qos = Math.min(packet.qos, granted);
    // (`packet` is the copy Aedes made for this subscription; changing its QoS is safe)
    if (packet.qos > 0) deliverQoS(packet, cb);
    else deliver0(packet, cb);
  };
  client.deliver0 = deliver;
  client.deliverQoS = deliver;
}

// ---- Seam 3: dropping a PUBLISH without closing the connection -----------------------------------
// Aedes's `authorizePublish` can only let a PUBLISH through or close the connection. Mosquitto
// acknowledges and drops a client's publish to `$SYS/…`; to do the same, the broker sends the
// packet to a topic under `$smart-home/`, which no filter can reach: a `$` topic matches no
// wildcard filter [MQTT-4.7.2-1], the broker refuses subscriptions to `$smart-home/…`, and
// forwards nothing there. The QoS flow (PUBACK, PUBREC) stays Aedes's own.
// Tests: test/broker/dollar-topics.test.ts.

/** Topics under this first level are the hub's own: never forwarded, never subscribable. */
export const RESERVED_LEVEL = '$smart-home';
const SINK = `${RESERVED_LEVEL}/dropped`;

/** Turns an authorized-looking PUBLISH into one that reaches nobody and stores nothing. */
export function dropPublish(packet: { topic: string; payload: Buffer | string; retain: boolean }): void {
  packet.topic = SINK;
  packet.payload = Buffer.alloc(0);
  packet.retain = false;
}

/** Whether `topicOrFilter` is in the hub's reserved `$smart-home/` space. */
export function isReserved(topicOrFilter: string): boolean {
  return topicOrFilter === RESERVED_LEVEL || topicOrFilter.startsWith(`${RESERVED_LEVEL}/`);
}

// ---- Seam 4: the table of connected clients ------------------------------------------------------
// `aedes.clients` (id -> client) is a public field Aedes's types do not declare (aedes.js).
// Tests: test/broker/client-ownership.test.ts, test/broker/first-user-locks.test.ts.

export function connectedClients<C>(aedes: unknown): Record<string, C | undefined> {
  const clients = (aedes as { clients?: Record<string, C | undefined> } | undefined)?.clients;
  if (aedes !== undefined && (typeof clients !== 'object' || clients === null)) {
    throw new SeamError(`aedes.clients is missing (checked against aedes ${CHECKED_AGAINST.aedes})`);
  }
  return clients ?? {};
}

// ---- Seam 5: aedes-persistence's in-memory store and aedes-packet --------------------------------
// The SQLite persistence (persistence.ts) serves reads from aedes-persistence's own in-memory
// implementation and builds packets with aedes-packet, as Aedes does. Both are CommonJS files
// without types; the shapes relied on are declared in persistence.ts.
// Test: test/broker/persistence-abstract.test.ts (aedes-persistence's own abstract suite).

const require = createRequire(import.meta.url);
export const AsyncMemoryPersistence = require('aedes-persistence/asyncPersistence.js') as unknown;
export const CallBackPersistence = (
  require('aedes-persistence/callBackPersistence.js') as { CallBackPersistence: unknown }
).CallBackPersistence;
export const AedesPacket = require('aedes-packet') as unknown;

// ---- The start-up check --------------------------------------------------------------------------

interface HandlingBroker {
  handle(conn: Duplex): unknown;
  clients?: unknown;
}

/**
 * Proves, on a throw-away in-process connection, that the seams engage on this install of
 * Aedes: a marked PUBACK is held until `published` lets it go, the client can be wrapped for
 * the granted QoS, and the client table is where it is expected. `connect` returns the probe's
 * end and the broker's end of an in-process connection the broker treats as its own.
 */
export async function checkSeams(
  aedes: HandlingBroker,
  connect: () => [Duplex, Duplex],
  timeoutMs = 5000,
): Promise<void> {
  connectedClients(aedes);
  const [probe, brokerSide] = connect();
  holdPubacks(brokerSide);
  applyGrantedQos(aedes.handle(brokerSide));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const seen: string[] = [];
  let wake: () => void = () => {};
  parser.on('packet', (p: mqttPacket.Packet) => {
    seen.push(p.cmd);
    wake();
  });
  probe.on('data', (d: Buffer) => parser.parse(d));
  const until = (cmd: string, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new SeamError(`start-up check: no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      wake = () => {
        if (seen.includes(cmd)) {
          clearTimeout(timer);
          resolve();
        }
      };
      wake();
    });
  const send = (p: object) => probe.write(mqttPacket.generate(p as mqttPacket.Packet));
  try {
    send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: `${RESERVED_LEVEL}-self-check-${process.pid}`,
      keepalive: 0,
    });
    await until('connack', 'CONNACK');
    markStored(brokerSide, 1);
    send({
      cmd: 'publish',
      topic: `${RESERVED_LEVEL}/self-check`,
      payload: Buffer.from('x'),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    });
    await until('puback', 'PUBACK (the PUBACK-after-store seam held it and `published` never let it go)');
    const hold = holds.get(brokerSide)!;
    if (hold.held !== 1 || hold.released !== 1) {
      throw new SeamError(
        `start-up check: PUBACK-after-store is not in force: Aedes wrote the PUBACK without it passing through the connection's hold (held ${hold.held}, released ${hold.released}; checked against aedes ${CHECKED_AGAINST.aedes}, mqtt-packet ${CHECKED_AGAINST['mqtt-packet']})`,
      );
    }
    send({ cmd: 'disconnect' });
  } finally {
    probe.destroy();
  }
}
