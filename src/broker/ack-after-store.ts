// PUBACK only once the message is stored. Aedes answers a QoS 1 PUBLISH with PUBACK first and
// publishes (stores retained, queues for offline sessions) after it, so a crash between the two
// lost a message the client had been told was delivered (found by test/reliability/crash.test.ts:
// the last few acknowledged messages missing after kill -9). Aedes offers no hook there, so:
// - the broker marks, when it authorizes a QoS 1 PUBLISH, the ones that will be stored (retained,
//   or matching a stored session's subscription): only their PUBACKs wait, the others (nothing to
//   lose in a crash) go out at once, as before;
// - Aedes writes every packet through mqtt-packet's `writeToStream` (looked up at each call, on
//   the one shared module object): a marked PUBACK to a registered connection is held back;
// - the broker's `publish` is wrapped: when Aedes is done with a client's QoS 1 message (stored
//   and queued), that message's PUBACK is released.
// PUBACKs leave in the order their PUBLISHes arrived [MQTT-4.6.0-2]: a queue per connection,
// written from its head while the head is released. QoS 2 needs none of this: Aedes stores the
// incoming PUBLISH and publishes it before it sends PUBREC.
import mqttPacket from 'mqtt-packet';

type Write = typeof mqttPacket.writeToStream;
interface Held { messageId: number; released: boolean; send: () => void }
interface Connection { queue: Held[]; marked: Set<number> }

const connections = new WeakMap<object, Connection>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const writeToStream: Write = mqttPacket.writeToStream.bind(mqttPacket);
  (mqttPacket as { writeToStream: Write }).writeToStream = ((packet, stream, opts) => {
    const conn = packet.cmd === 'puback' ? connections.get(stream) : undefined;
    if (!conn) return writeToStream(packet, stream, opts);
    const messageId = (packet as { messageId?: number }).messageId ?? -1;
    const hold = conn.marked.delete(messageId);
    if (!hold && conn.queue.length === 0) return writeToStream(packet, stream, opts);
    // held, or behind one that is: it waits its turn
    conn.queue.push({ messageId, released: !hold, send: () => writeToStream(packet, stream, opts) });
    return true;
  }) as Write;
}

/** Registers a connection whose marked PUBACKs wait for their message to be stored. */
export function holdPubacks(conn: object): void {
  install();
  connections.set(conn, { queue: [], marked: new Set() });
}

/** The QoS 1 PUBLISH `messageId` on `conn` will be stored: its PUBACK waits for it. */
export function markStored(conn: object, messageId: number): void {
  connections.get(conn)?.marked.add(messageId);
}

/** The QoS 1 message `messageId` from `conn` is stored: its PUBACK (and any due after it) go out. */
export function releasePuback(conn: object, messageId: number): void {
  const c = connections.get(conn);
  if (!c) return;
  const held = c.queue.find((h) => !h.released && h.messageId === messageId);
  if (held) held.released = true;
  while (c.queue.length > 0 && c.queue[0]!.released) c.queue.shift()!.send();
}

interface PublishingBroker {
  publish(packet: { qos: number; messageId?: number }, client: { conn?: object } | null, done: (err?: Error | null) => void): void;
}

/** Wraps the broker's publish so a held PUBACK is released when Aedes is done with its message. */
export function releaseOnPublished(aedes: PublishingBroker): void {
  const publish = aedes.publish.bind(aedes);
  aedes.publish = (packet, client, done) => {
    // Aedes writes the PUBACK before it publishes: nothing queued on the connection, nothing held
    const queued = client?.conn ? connections.get(client.conn)?.queue.length : 0;
    if (!queued || packet.qos !== 1 || packet.messageId === undefined) return publish(packet, client, done);
    const conn = client!.conn!;
    const id = packet.messageId;
    publish(packet, client, (err) => {
      // on an error Aedes closes the connection; the PUBACK must not go out then
      if (!err) releasePuback(conn, id);
      done(err);
    });
  };
}
