// The guest side of Mqtt: publish (checked where the user called, so a TypeError's stack points
// at the user's line), request, subscribe, and the delivery of batches of messages to handlers.
import { call, callAsync, describe, host, newPending, now, pending, pendingBytes, reportError } from './core.js';
import type { DeliveryMeta, PublishBatch, PublishItem } from './wire.js';

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** UTF-8 size of a payload (short strings counted here, longer ones by the host: much faster). */
function byteSize(body: string | ArrayBuffer): number {
  if (typeof body !== 'string') return body.byteLength;
  return body.length > 64 ? host.utf8Length(body) : utf8Length(body);
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') throw new TypeError(`Mqtt.publish: topic must be a string, got ${describe(topic)}`);
  if (topic.length === 0) throw new RangeError('Mqtt.publish: topic must not be empty');
  if (topic.indexOf('+') !== -1 || topic.indexOf('#') !== -1)
    throw new RangeError(
      `Mqtt.publish: topic "${topic}" must not contain the wildcards + or # (they are only for subscribing)`,
    );
  if (topic.indexOf('\0') !== -1) throw new RangeError('Mqtt.publish: topic must not contain the NUL character');
  if (topic.charAt(0) === '$')
    throw new RangeError(`Mqtt.publish: topic "${topic}" must not start with $ (reserved for the broker, e.g. $SYS)`);
  if (topic.length > 16383 && utf8Length(topic) > 65535)
    throw new RangeError('Mqtt.publish: topic must be at most 65535 bytes in UTF-8');
}

function checkQos(qos: unknown): asserts qos is 0 | 1 | 2 {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    const hint = qos === 3 ? ' (the MQTT levels are 0, 1 and 2; there is no QoS 3)' : '';
    throw new RangeError(
      `Mqtt.publish: qos must be 0 (at most once), 1 (at least once) or 2 (exactly once), got ${describe(qos)}${hint}`,
    );
  }
}

/** MQTT 5 properties travel as JSON; binary correlation data as an array of bytes. */
function propertiesJson(fn: string, p: unknown): string {
  if (p === null || typeof p !== 'object' || Array.isArray(p))
    throw new TypeError(`${fn}: properties must be an object, got ${describe(p)}`);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(p)) {
    const v = (p as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out[k] = ArrayBuffer.isView(v)
      ? Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
      : v instanceof ArrayBuffer
        ? Array.from(new Uint8Array(v))
        : v;
  }
  return JSON.stringify(out);
}

function fromWireProperties(json: string): Record<string, unknown> | undefined {
  if (!json) return undefined;
  const p = JSON.parse(json) as Record<string, unknown>;
  if (Array.isArray(p.correlationData)) p.correlationData = new Uint8Array(p.correlationData as number[]);
  return p;
}

function toPayload(payload: unknown): string | ArrayBuffer {
  if (payload === null || payload === undefined) return '';
  if (typeof payload === 'string') return payload;
  if (payload instanceof ArrayBuffer) return payload;
  if (ArrayBuffer.isView(payload))
    return payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength) as ArrayBuffer;
  if (typeof payload === 'function' || typeof payload === 'symbol')
    throw new TypeError(
      `Mqtt.publish: payload must be a string, an object, a number, a boolean, binary data (Uint8Array/ArrayBuffer) or null, got ${typeof payload}`,
    );
  if (typeof payload === 'bigint') return String(payload);
  const json = JSON.stringify(payload);
  if (json === undefined) throw new TypeError('Mqtt.publish: payload cannot be sent as JSON');
  return json;
}

// Publishes made in one turn go to the host in one call (JSON), in order; binary payloads travel
// on their own, as ArrayBuffers. The flush runs before control returns to the host.
/** The promises Mqtt.publish returned: a handler that returns one does not hold the next message. */
const publishPromises = new WeakSet<object>();

type Queued = [
  id: number,
  topic: string,
  payload: string | ArrayBuffer,
  qos: number,
  retain: 0 | 1,
  stack: string,
  props: string,
];
const queue: Queued[] = [];
let flushScheduled = false;
function flush(): void {
  flushScheduled = false;
  // take the queue first: a publish made while this flush is in a host call goes to the next one
  const items = queue.splice(0);
  let text: PublishItem[] = [];
  let stacks: string[] = [];
  let stackIndex = new Map<string, number>();
  const send = () => {
    host.publishBatch(JSON.stringify([stacks, text] satisfies PublishBatch));
    text = [];
    stacks = [];
    stackIndex = new Map();
  };
  for (const item of items) {
    const body = item[2];
    if (typeof body === 'string') {
      let at = stackIndex.get(item[5]);
      if (at === undefined) {
        at = stacks.push(item[5]) - 1;
        stackIndex.set(item[5], at);
      }
      text.push([item[0], item[1], body, item[3], item[4], at, item[6]]);
      continue;
    }
    if (text.length) send();
    host.publish(item[0], item[1], body, item[3], item[4], item[5], item[6]);
  }
  if (text.length) send();
}

function publish(topic: unknown, payload: unknown, qos?: unknown, retain?: unknown): Promise<unknown> {
  let q = qos;
  let r = retain;
  let props = '';
  if (qos !== null && typeof qos === 'object') {
    if (retain !== undefined)
      throw new TypeError(
        'Mqtt.publish: pass either (topic, payload, qos, retain) or (topic, payload, {qos, retain}), not both',
      );
    const o = qos as { qos?: unknown; retain?: unknown; properties?: unknown };
    q = o.qos;
    r = o.retain;
    if (o.properties !== undefined) props = propertiesJson('Mqtt.publish', o.properties);
  }
  if (q === undefined) q = 0;
  if (r === undefined) r = false;
  checkTopic(topic);
  checkQos(q);
  if (typeof r !== 'boolean') throw new TypeError(`Mqtt.publish: retain must be true or false, got ${describe(r)}`);
  const body = toPayload(payload);
  if (pending.size >= host.maxPending)
    throw new RangeError(
      `Mqtt.publish: more than max_pending_publishes (${host.maxPending}) publishes are waiting for the broker; await some before publishing more`,
    );
  const size = byteSize(body);
  if (size > host.maxPayload)
    throw new RangeError(
      `Mqtt.publish: payload of ${size} bytes is larger than max_payload_kb (${host.maxPayload / 1024} KiB)`,
    );
  if (pendingBytes + size > host.maxPendingBytes)
    throw new RangeError(
      `Mqtt.publish: more than max_pending_mb (${host.maxPendingBytes / 1048576} MB) of payloads are waiting for the broker; await some before publishing more`,
    );
  const stack = String(new Error().stack || ''); // not callStack(): one frame less to build
  const { id, promise } = newPending(stack, size);
  publishPromises.add(promise);
  queue.push([id, topic, body, q, r ? 1 : 0, stack, props]);
  if (!flushScheduled) {
    flushScheduled = true;
    Promise.resolve().then(flush);
  }
  return promise;
}

interface Reply {
  topic: string;
  payload: string;
  bytes: number[];
  qos: number;
  retain: boolean;
  properties: string;
}

function request(topic: unknown, payload: unknown, options?: unknown): Promise<unknown> {
  checkTopic(topic);
  const o = (options === undefined ? {} : options) as { timeout?: unknown; qos?: unknown; properties?: unknown };
  if (o === null || typeof o !== 'object')
    throw new TypeError(`Mqtt.request: options must be an object like {timeout: 5000, qos: 1}, got ${describe(o)}`);
  const timeout = o.timeout === undefined ? 5000 : o.timeout;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 600000)
    throw new RangeError(
      `Mqtt.request: timeout must be a number of milliseconds between 1 and 600000, got ${describe(timeout)}`,
    );
  const q = o.qos === undefined ? 0 : o.qos;
  checkQos(q);
  const raw = toPayload(payload);
  const body = typeof raw === 'string' ? raw : Array.from(new Uint8Array(raw));
  const props = o.properties === undefined ? '{}' : propertiesJson('Mqtt.request', o.properties);
  return callAsync('Mqtt.request', 'mqtt.request', [topic, body, q, timeout, props]).then((reply) => {
    const m = reply as Reply;
    let json: unknown;
    try {
      json = JSON.parse(m.payload);
    } catch {
      json = undefined;
    }
    return {
      topic: m.topic,
      payload: m.payload,
      bytes: new Uint8Array(m.bytes),
      json,
      qos: m.qos,
      retain: m.retain,
      params: [],
      properties: fromWireProperties(m.properties),
    };
  });
}

type Handler = (message: unknown) => unknown;
const handlers = new Map<number, Handler>();
let nextSub = 1;

function subscribe(filter: unknown, handler: unknown, options?: unknown): () => void {
  if (typeof filter !== 'string')
    throw new TypeError(`Mqtt.subscribe: filter must be a string, got ${describe(filter)}`);
  if (typeof handler !== 'function')
    throw new TypeError(`Mqtt.subscribe: handler must be a function, got ${describe(handler)}`);
  const self = !!(options && (options as { self?: unknown }).self);
  const retained = options ? (options as { retained?: unknown }).retained : undefined;
  const id = nextSub++;
  // the host checks the filter and the options and throws a located error
  call('subscribe', id, filter, self, retained === undefined ? 'include' : retained);
  handlers.set(id, handler as Handler);
  let active = true;
  return function unsubscribe() {
    if (!active) return;
    active = false;
    handlers.delete(id);
    call('unsubscribe', id);
  };
}

/**
 * The host hands over the messages queued for this script in one call. Each goes to its handler
 * in order; a handler that returns a promise (other than Mqtt.publish's own) holds the rest (they go back to the host's queue) until
 * it settles, and a throwing handler is reported without dropping the rest. After `batchSliceMs` no
 * further message of the batch is started (they too go back), so each has its CPU deadline.
 */
export const delivery = {
  at: 0,
  deliver(metaJson: string, text: string, buffer: ArrayBuffer): number {
    delivery.at = 0; // before anything can fail: an error now is on the first message, not a stale index
    const metas = JSON.parse(metaJson) as DeliveryMeta[];
    const started = now();
    let textAt = 0;
    let byteAt = 0;
    for (let i = 0; i < metas.length; i++) {
      if (i > 0 && now() - started >= host.batchSliceMs) return i;
      delivery.at = i;
      const [subId, topic, qos, retain, params, propsJson, deep, textLength, byteLength] = metas[i]!;
      const payload = text.slice(textAt, textAt + textLength);
      const bytes = new Uint8Array(buffer.slice(byteAt, byteAt + byteLength));
      textAt += textLength;
      byteAt += byteLength;
      const handler = handlers.get(subId);
      if (!handler) continue; // unsubscribed while queued
      let json: unknown;
      if (!deep)
        try {
          json = JSON.parse(payload);
        } catch {
          json = undefined;
        }
      const message: Record<string, unknown> = { topic, payload, bytes, json, qos, retain: retain === 1, params };
      const properties = fromWireProperties(propsJson);
      if (properties) message.properties = properties;
      let r: unknown;
      try {
        r = handler(message);
      } catch (e) {
        reportError(e);
        continue;
      }
      // Mqtt.publish's own promise does not hold the next message: publishes keep their order
      // anyway, waiting for the broker would only slow the script down (the host holds delivery
      // while many publishes are in flight), and a failure is still logged at the publish's line
      if (r && typeof (r as PromiseLike<unknown>).then === 'function' && !publishPromises.has(r)) {
        Promise.resolve(r)
          .then(undefined, reportError)
          .then(() => host.call('handlerDone', '[]'));
        return -(i + 1);
      }
    }
    return metas.length;
  },
};

export const Mqtt = Object.freeze({
  subscribe: (filter: unknown, handler: unknown, options?: unknown) => subscribe(filter, handler, options),
  request,
  publish,
});
