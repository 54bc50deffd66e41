// [MQTT-3.3.5-1] and [MQTT-3.8.4-6]: a message goes to a client at the lower of its published QoS
// and the highest QoS granted to the client's subscriptions that match it. Aedes decides the QoS
// by the one subscription whose handler runs first (a QoS 0 `a/#` next to a QoS 2 `a/+` can win,
// and then the QoS 2 copy is dropped as a duplicate), and downgrades only when a filter equals the
// topic, so a QoS 2 message reached a QoS 1 wildcard subscription at QoS 2. This wraps the two
// delivery functions of one Aedes client, before it subscribes to anything, to apply the rule.
import { matches } from './acl.js';

interface DeliverPacket { topic: string; qos: number }
type Deliver = (packet: DeliverPacket, cb: () => void) => void;
export interface DeliveringClient {
  subscriptions: Record<string, { qos: number }>;
  deliver0: Deliver;
  deliverQoS: Deliver;
}

/** The highest QoS granted to a subscription matching `topic`, or undefined if none matches. */
export function grantedQos(subscriptions: Record<string, { qos: number }>, topic: string): number | undefined {
  // the common case, one subscription: it is the one that matched, no topic matching needed
  let n = 0;
  let only: { qos: number } | undefined;
  for (const filter in subscriptions) { if (++n > 1) break; only = subscriptions[filter]; }
  if (n === 1) return only!.qos;
  let best: number | undefined;
  for (const filter in subscriptions) {
    const qos = subscriptions[filter]!.qos;
    if ((best === undefined || qos > best) && matches(filter, topic)) best = qos;
  }
  return best;
}

export function applyGrantedQos(client: DeliveringClient): void {
  const deliver0 = client.deliver0;
  const deliverQoS = client.deliverQoS;
  const deliver: Deliver = (packet, cb) => {
    const granted = packet.qos > 0 ? grantedQos(client.subscriptions, packet.topic) : undefined;
    if (granted !== undefined) packet.qos = Math.min(packet.qos, granted);
    // (`packet` is the copy Aedes made for this subscription; changing its QoS is safe)
    if (packet.qos > 0) deliverQoS(packet, cb); else deliver0(packet, cb);
  };
  client.deliver0 = deliver;
  client.deliverQoS = deliver;
}
