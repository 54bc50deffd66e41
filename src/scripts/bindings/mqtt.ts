// The host side of Mqtt.publish: validates again (the prelude runs in user space), converts
// the payload to bytes, publishes through the MqttBus with the script and line as provenance.
import { MqttError, type MqttBus, type PublishProperties } from '../../mqtt/bus.js';
import { publishTopicProblem, describe } from '../../mqtt/topic.js';
import type { CompiledScript } from '../compiled.js';
import type { Location } from '../errors.js';

export function publishBinding(
  bus: MqttBus,
  compiled: CompiledScript,
  locate: (stack: string) => Location | undefined,
  onPublish?: (topic: string, bytes: Buffer) => void,
) {
  return (
    topic: unknown,
    payload: string | Uint8Array,
    qos: unknown,
    retain: unknown,
    stack: string,
    propertiesJson?: string,
  ): Promise<void> => {
    const problem = publishTopicProblem(topic);
    if (problem) throw new (problem.kind === 'type' ? TypeError : RangeError)(`Mqtt.publish: ${problem.message}`);
    if (qos !== 0 && qos !== 1 && qos !== 2)
      throw new RangeError(`Mqtt.publish: qos must be 0, 1 or 2, got ${describe(qos)}`);
    if (typeof retain !== 'boolean')
      throw new TypeError(`Mqtt.publish: retain must be true or false, got ${describe(retain)}`);
    const bytes =
      typeof payload === 'string'
        ? Buffer.from(payload, 'utf8')
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const loc = locate(stack);
    onPublish?.(topic as string, bytes);
    const properties = propertiesJson ? toProperties('Mqtt.publish', JSON.parse(propertiesJson)) : undefined;
    return bus
      .publish(
        topic as string,
        bytes,
        { qos, retain, properties },
        { script: compiled.file, line: loc?.line, col: loc?.col },
      )
      .then(() => undefined);
  };
}

const PROPERTIES = [
  'contentType',
  'userProperties',
  'messageExpiryInterval',
  'responseTopic',
  'correlationData',
  'payloadFormatIndicator',
] as const;

/** A script's MQTT 5 properties, checked, with correlation data as bytes. */
export function toProperties(fn: string, p: Record<string, unknown>): PublishProperties | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (!(PROPERTIES as readonly string[]).includes(k))
      throw new TypeError(`${fn}: unknown MQTT 5 property "${k}"; allowed: ${PROPERTIES.join(', ')}`);
    if (k === 'correlationData') out[k] = Array.isArray(v) ? Buffer.from(v as number[]) : Buffer.from(String(v));
    else if (k === 'messageExpiryInterval' && (typeof v !== 'number' || !Number.isInteger(v) || v < 0))
      throw new RangeError(`${fn}: messageExpiryInterval must be a whole number of seconds, got ${describe(v)}`);
    else if ((k === 'contentType' || k === 'responseTopic') && typeof v !== 'string')
      throw new TypeError(`${fn}: ${k} must be a string, got ${describe(v)}`);
    else if (k === 'userProperties' && (v === null || typeof v !== 'object' || Array.isArray(v)))
      throw new TypeError(`${fn}: userProperties must be an object of strings, got ${describe(v)}`);
    else out[k] = v;
  }
  return Object.keys(out).length > 0 ? (out as PublishProperties) : undefined;
}

/** Incoming MQTT 5 properties as the guest gets them (JSON; correlation data as a byte array). */
export function wireProperties(p: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) out[k] = Buffer.isBuffer(v) ? [...v] : v;
  return JSON.stringify(out);
}

/** Mqtt.request: publish with a response topic and correlation data, resolve with the reply. */
export function requestCalls(bus: MqttBus) {
  return {
    'mqtt.request': async ([topic, body, qos, timeout, props]: unknown[]) => {
      const problem = publishTopicProblem(topic);
      if (problem) throw new TypeError(`Mqtt.request: ${problem.message}`);
      const bytes = Array.isArray(body) ? Buffer.from(body as number[]) : Buffer.from(String(body ?? ''), 'utf8');
      const properties = toProperties('Mqtt.request', JSON.parse(String(props || '{}')) as Record<string, unknown>);
      try {
        const m = await bus.request(topic as string, bytes, {
          qos: qos as 0 | 1 | 2,
          timeoutMs: Number(timeout),
          properties,
        });
        return {
          topic: m.topic,
          payload: m.payload.toString('utf8'),
          bytes: [...m.payload],
          qos: m.qos,
          retain: m.retain,
          properties: m.properties ? wireProperties(m.properties) : '',
        };
      } catch (err) {
        if (err instanceof MqttError) throw { name: 'MqttError', code: err.code, message: err.message };
        throw err;
      }
    },
  };
}
