// PUBACK only once the message is stored. Aedes answers a QoS 1 PUBLISH with PUBACK first and
// publishes (stores retained, queues for offline sessions) after it, so a crash between the two
// lost a message the client had been told was delivered (found by test/reliability/crash.test.ts:
// the last few acknowledged messages missing after kill -9). Aedes offers no hook there, so:
// - Aedes writes every packet through mqtt-packet's `writeToStream` (looked up at each call, on
//   the one shared module object): a PUBACK to a connection registered here is held back;
// - the broker's `publish` is wrapped: when Aedes says it is done with a client's QoS 1 message
//   (stored and queued), that message's PUBACK is released.
// PUBACKs leave in the order their PUBLISHes arrived [MQTT-4.6.0-2]: a queue per connection,
// written from its head while the head is released. QoS 2 needs none of this: Aedes stores the
// incoming PUBLISH and publishes it before it sends PUBREC.
import mqttPacket from 'mqtt-packet';

type Write = typeof mqttPacket.writeToStream;
interface Held { messageId: number; released: boolean; send: () => void }

const queues = new WeakMap<object, Held[]>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const writeToStream: Write = mqttPacket.writeToStream.bind(mqttPacket);
  (mqttPacket as { writeToStream: Write }).writeToStream = ((packet, stream, opts) => {
    const queue = packet.cmd === 'puback' ? queues.get(stream) : undefined;
    if (!queue) return writeToStream(packet, stream, opts);
    queue.push({ messageId: (packet as { messageId?: number }).messageId ?? -1, released: false, send: () => writeToStream(packet, stream, opts) });
    return true;
  }) as Write;
}

/** PUBACKs Aedes writes to `conn` wait for `released(conn, id)`. */
export function holdPubacks(conn: object): void {
  install();
  queues.set(conn, []);
}

/** The QoS 1 message `messageId` from `conn` is stored: its PUBACK (and any due after it) go out. */
export function releasePuback(conn: object, messageId: number): void {
  const queue = queues.get(conn);
  if (!queue) return;
  const held = queue.find((h) => !h.released && h.messageId === messageId);
  if (held) held.released = true;
  while (queue.length > 0 && queue[0]!.released) queue.shift()!.send();
}

interface PublishingBroker {
  publish(packet: { qos: number; messageId?: number }, client: { conn?: object } | null, done: (err?: Error | null) => void): void;
}

/** Wraps the broker's publish so a client's QoS 1 PUBACK is released when Aedes is done with it. */
export function releaseOnPublished(aedes: PublishingBroker): void {
  const publish = aedes.publish.bind(aedes);
  aedes.publish = (packet, client, done) => {
    if (!client?.conn || packet.qos !== 1 || packet.messageId === undefined || !queues.has(client.conn)) return publish(packet, client, done);
    const conn = client.conn;
    const id = packet.messageId;
    publish(packet, client, (err) => {
      // on an error Aedes closes the connection; the PUBACK must not go out then
      if (!err) releasePuback(conn, id);
      done(err);
    });
  };
}
