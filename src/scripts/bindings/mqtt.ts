// The host side of Mqtt.publish: validates again (the prelude runs in user space), converts
// the payload to bytes, publishes through the MqttBus with the script and line as provenance.
import type { MqttBus } from '../../mqtt/bus.js';
import { publishTopicProblem, describe } from '../../mqtt/topic.js';
import type { CompiledScript } from '../compile.js';
import type { Location } from '../errors.js';

export function publishBinding(bus: MqttBus, compiled: CompiledScript, locate: (stack: string) => Location | undefined, onPublish?: (topic: string, bytes: Buffer) => void) {
  return (topic: unknown, payload: string | Uint8Array, qos: unknown, retain: unknown, stack: string): Promise<void> => {
    const problem = publishTopicProblem(topic);
    if (problem) throw new (problem.kind === 'type' ? TypeError : RangeError)(`Mqtt.publish: ${problem.message}`);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new RangeError(`Mqtt.publish: qos must be 0, 1 or 2, got ${describe(qos)}`);
    if (typeof retain !== 'boolean') throw new TypeError(`Mqtt.publish: retain must be true or false, got ${describe(retain)}`);
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const loc = locate(stack);
    onPublish?.(topic as string, bytes);
    return bus.publish(topic as string, bytes, { qos, retain }, { script: compiled.file, line: loc?.line, col: loc?.col }).then(() => undefined);
  };
}
