// Smart Home script API, version 1.
// The globals every script (JavaScript, TypeScript, CoffeeScript) has. Editors use this file
// for completion; `smart-home check` type-checks TypeScript scripts against it.

/** Quality of Service: 0 = at most once, 1 = at least once, 2 = exactly once. There is no QoS 3. */
type MqttQos = 0 | 1 | 2;

/** What `Mqtt.publish` sends. Strings as UTF-8; objects, arrays, numbers and booleans as JSON; binary data as its exact bytes; `null`/`undefined` as an empty payload. */
type MqttPayload = string | number | boolean | object | unknown[] | Uint8Array | ArrayBuffer | null | undefined;

interface MqttPublishOptions {
  /** Quality of Service, default 0. */
  qos?: MqttQos;
  /** Ask the broker to keep the message for future subscribers, default false. */
  retain?: boolean;
}

/** Why a publish failed. */
type MqttErrorCode = 'NOT_CONNECTED' | 'TIMEOUT' | 'REFUSED' | 'CLOSED' | 'ERROR';

/** The error a publish promise rejects with. */
declare class MqttError extends Error {
  readonly name: 'MqttError';
  readonly code: MqttErrorCode;
}

interface SmartHomeMqtt {
  /**
   * Publishes a message to the MQTT broker.
   *
   * - QoS 0, at most once: sent once, no confirmation ("fire and forget").
   * - QoS 1, at least once: delivered to the broker, possibly more than once; the promise resolves on PUBACK.
   * - QoS 2, exactly once: delivered once; the promise resolves on PUBCOMP.
   *
   * With `retain: true` the broker stores the message and sends it to every later subscriber of
   * the topic. Publishing an empty payload (`null`, `undefined` or `''`) with `retain: true`
   * clears the retained message of that topic.
   *
   * Awaiting the returned promise is optional. A failure that nobody handles is written to the
   * script's log with the line of the call.
   *
   * @param topic the topic, e.g. `'smart-home/living-room/light'`; no `+`, `#`, NUL, no leading `$`.
   * @param payload the message content.
   * @param qos 0, 1 or 2 (default 0).
   * @param retain keep the message on the broker for later subscribers (default false).
   * @throws TypeError / RangeError at once, naming the argument, when an argument is not allowed.
   * @example Mqtt.publish('smart-home/living-room/light', 'on', 1, true);
   */
  publish(topic: string, payload: MqttPayload, qos?: MqttQos, retain?: boolean): Promise<void>;
  /** Same as `publish(topic, payload, qos, retain)` with the options as an object. */
  publish(topic: string, payload: MqttPayload, options: MqttPublishOptions): Promise<void>;
}

/** The MQTT object: publish messages to the hub's broker. */
declare const Mqtt: SmartHomeMqtt;

interface SmartHomeConsole {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}
/** Writes to the script's log. */
declare const console: SmartHomeConsole;

declare function setTimeout(fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function setInterval(fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function clearTimeout(id: number | undefined): void;
declare function clearInterval(id: number | undefined): void;

/** Set by an entity action (or `smart-home run --set actionName=...`): the name of the action being run. */
declare var actionName: string;
/** Set by an entity action: the entity the action was called on. */
declare var entityId: string;
