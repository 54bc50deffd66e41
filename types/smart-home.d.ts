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
  /** MQTT 5 properties (needs `mqtt.protocol_version: 5`; on MQTT 3.1.1 the publish rejects with NOT_SUPPORTED). */
  properties?: MqttProperties;
}

/** MQTT 5 message properties. */
interface MqttProperties {
  contentType?: string;
  userProperties?: Record<string, string | string[]>;
  /** Seconds the broker keeps the message for subscribers that are away. */
  messageExpiryInterval?: number;
  responseTopic?: string;
  correlationData?: Uint8Array | string;
  payloadFormatIndicator?: boolean;
}

/** Why a publish failed. */
type MqttErrorCode = 'NOT_CONNECTED' | 'TIMEOUT' | 'REFUSED' | 'CLOSED' | 'OUTBOX_FULL' | 'NOT_SUPPORTED' | 'ERROR';

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
  /**
   * Calls `handler` for every message on topics matching `filter` (`+` one level, `#` the rest).
   * A script handles its messages one at a time, in arrival order; a handler that returns a
   * promise (an async handler) holds the next message until it settles, except the promise
   * `Mqtt.publish` returned, passed on as is (publishes keep their order). A script does not receive its own
   * publishes unless `{ self: true }`. Returns the function that unsubscribes; a script's
   * subscriptions end when it is reloaded or removed.
   * @example Mqtt.subscribe('zigbee2mqtt/+/availability', (m) => console.log(m.params[0], m.json?.state));
   */
  subscribe(
    filter: string,
    handler: (message: MqttMessage) => void | Promise<void>,
    /** self: also this script's own publishes; retained: 'ignore' leaves out the broker's kept messages (default 'include'). */
    options?: { self?: boolean; retained?: 'include' | 'ignore' },
  ): () => void;
  /**
   * MQTT 5 request/response: publishes with a response topic and correlation data and resolves
   * with the first reply carrying the same correlation data; rejects with TIMEOUT after
   * `timeout` ms (default 5000), with NOT_SUPPORTED on an MQTT 3.1.1 connection.
   * @example const reply = await Mqtt.request('service/time', '', { timeout: 2000 });
   */
  request(topic: string, payload: MqttPayload, options?: { timeout?: number; qos?: MqttQos; properties?: MqttProperties }): Promise<MqttMessage>;
}

/** A message received by `Mqtt.subscribe`. */
interface MqttMessage {
  topic: string;
  /** The payload decoded as UTF-8 (invalid sequences become U+FFFD; `bytes` has the exact data). */
  payload: string;
  /** The exact payload bytes. */
  bytes: Uint8Array;
  /**
   * The payload parsed as JSON, or undefined when it is not JSON. Typed `any` so a script reads a
   * device's fields as they come (`m.json?.action`); check what a device may leave out.
   */
  json: any;
  qos: MqttQos;
  retain: boolean;
  /** What the filter's wildcards matched: one entry per `+`, then the rest of the topic for `#`. */
  params: string[];
  /** MQTT 5 properties of the message, when it has any (correlation data as bytes). */
  properties?: Omit<MqttProperties, 'correlationData'> & { correlationData?: Uint8Array };
}

/** An entity as `Entity.get` returns it; the README's "Devices and entities" table has each domain's state and attributes. */
interface SmartHomeEntityView {
  id: string;
  name: string;
  /** light, switch, sensor, binary_sensor, cover, climate, lock, fan, number, select, button, event, update */
  domain: string;
  /** e.g. "on" / "off" for a light, 21.5 for a temperature sensor, "heat" for a climate. */
  state: unknown;
  /** e.g. brightness 0–255, unit_of_measurement, current_temperature. */
  attributes: Record<string, unknown>;
  available: boolean;
  /** When the state last changed (ms since the epoch). */
  lastChanged: number | null;
  deviceId: string | null;
}

interface SmartHomeEntity {
  /** The entity's state ("on", 21.5, ...). Throws an EntityError for an unknown entity. */
  getState(id: string): unknown;
  /** The entity with its attributes and availability. Throws an EntityError for an unknown entity. */
  get(id: string): SmartHomeEntityView;
  /**
   * Recorded history between `since` and `until` (Date, ISO time or ms; default the last 24 h):
   * raw states (`{t, state, attributes}`) for short spans, else 5-minute or hourly buckets
   * (`{t, min, max, mean, last, count}`) of a number. At most `recorder.max_points` points.
   */
  history(
    id: string,
    options?: { since?: Date | string | number; until?: Date | string | number; resolution?: 'auto' | 'raw' | '5m' | '1h' },
  ): Promise<{
    resolution: 'raw' | '5m' | '1h';
    since: number;
    until: number;
    truncated: boolean;
    points: ({ t: number; state: unknown; attributes?: Record<string, unknown> } | { t: number; min: number; max: number; mean: number; last: number; count: number })[];
  }>;
  /** Sets the state and merges `attributes`; a change is an event and a history entry. */
  setState(id: string, state: unknown, attributes?: Record<string, unknown>): void;
  /**
   * Runs an action of an entity (its script, or its integration: Zigbee2MQTT, discovery, Tasmota)
   * and resolves when the device reports the new state. Rejects with a `RangeError` for a parameter
   * outside the device's range (nothing is sent), or an error whose `code` is TIMEOUT (the device
   * did not confirm), DEVICE_ERROR (the device or its bridge said no) or UNAVAILABLE.
   * Actions by domain: light turn_on {brightness, color_temp, color, effect, transition} / turn_off /
   * toggle; switch and fan turn_on / turn_off / toggle; cover open / close / stop / set_position
   * {position}; climate set_temperature {temperature} / set_hvac_mode {hvac_mode}; lock lock /
   * unlock; number set_value {value}; select select_option {option}; button press.
   */
  callAction(id: string, action: string, params?: Record<string, unknown>): Promise<void>;
}
/** Entities of the hub, e.g. `light.living_room`. */
declare const Entity: SmartHomeEntity;

interface SmartHomeStorage {
  /** The stored value (JSON), or null. */
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  /** True when the key existed. */
  delete(key: string): boolean;
  keys(): string[];
  /** Compatible API (e154): stores a string under `name` in the store shared by all scripts. */
  push(name: string, value: string): void;
  /** Compatible API (e154): the shared store's value of `name`, or "" when there is none. */
  getByName(name: string): string;
  /** Compatible API (e154): the shared store's names containing `text` with their values (99 at most). */
  search(text: string): { [name: string]: string };
  /** Compatible API (e154): removes `name` from the shared store and returns its value ("" when none). */
  pop(name: string): string;
}
/**
 * This script's own persisted key-value store (get/set/delete/keys), and e154's store shared by
 * all scripts (push/getByName/search/pop, string values).
 */
declare const Storage: SmartHomeStorage;

type NotifyPriority = 'min' | 'low' | 'default' | 'high' | 'urgent' | 1 | 2 | 3 | 4 | 5;

/**
 * Notifications to the targets in `notify.targets` of smart-home.yaml (ntfy, Telegram, Pushover,
 * a webhook, e-mail), by name: a script never sees a target's token. Each goes through the hub's
 * durable outbox; the promise resolves when the target accepted it and rejects (NotifyError) when
 * it refused for good or max_attempts ran out.
 */
interface SmartHomeNotify {
  send(
    target: string,
    message: string,
    options?: { title?: string; priority?: NotifyPriority; data?: unknown },
  ): Promise<{ id: number; target: string; attempts: number }>;
}
declare const Notify: SmartHomeNotify;

/** Options of an HTTP request from a script (the hub makes it; only to hosts in scripts.http.allow). */
interface HttpRequestOptions {
  headers?: { [name: string]: string };
  /** A string is sent as it is; an object as JSON (content-type application/json); bytes as bytes. */
  body?: string | object | Uint8Array;
  /** Milliseconds (default scripts.http.timeout_ms, at most scripts.http.max_timeout_ms). */
  timeout?: number;
}

interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  /** status is 2xx. */
  readonly ok: boolean;
  /** The URL answered, after redirects. */
  readonly url: string;
  readonly headers: { readonly [name: string]: string };
  readonly body: string;
  text(): string;
  json(): any;
}

/** HTTP, made by the hub: it rejects with an HttpError (code HOST_NOT_ALLOWED, PRIVATE_ADDRESS, TIMEOUT, RESPONSE_TOO_LARGE, ...). */
interface SmartHomeHttp {
  get(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
  post(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
  put(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
  delete(url: string, options?: HttpRequestOptions): Promise<HttpResponse>;
}
declare const http: SmartHomeHttp;
/** fetch-like: `await Http.request(url, { method: 'POST', body })`. */
declare const Http: {
  request(url: string, options?: HttpRequestOptions & { method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' }): Promise<HttpResponse>;
};

// ---- Compatible API: the globals of e154 Smart Home, so its scripts run unchanged. ----
// Our own API above (Entity, Storage.get/set, console) is the recommended one.

/** What an entity's `mqttEvent(message)` gets for each message on its `subscribe_topic`. */
interface MqttEventMessage {
  /** The payload as text. */
  payload: string;
  topic: string;
  qos: number;
  duplicate: boolean;
}
/** What an entity's `zigbee2mqttEvent(message)` gets for each message of its `zigbee2mqtt_device` (also as the global `message`). */
interface Zigbee2MqttEventMessage extends MqttEventMessage {
  error: string;
  success: boolean;
  new_state: { [key: string]: any };
}
/**
 * A module of the scripts dir by a relative path (`require('./lib/lights')`), or, as e154 has it, a
 * stored script by its name (`require('utils')`: lib/utils or utils, .ts, .js or .coffee). Bundled
 * in when the script is compiled: each script its own instance. Prefer `import` in TypeScript.
 */
declare function require(name: string): any;
/** In an entity's script: the id of its entity (e154 defines it before the script runs). */
declare const ENTITY_ID: string;
/** e154's short state: `name` is the state; `description` and `icon` those of its entry in the entity's `states:`. */
interface EntityStateShort {
  name: string;
  description: string;
  image_url: null;
  icon: string | null;
}
interface EntityStateParams {
  new_state?: string;
  attribute_values?: { [key: string]: any };
  settings_value?: { [key: string]: any };
  storage_save?: boolean;
}
/** The entity's state as e154 gives it ({name, description, image_url, icon}), or null when it has none. */
declare function EntityGetState(entityId: string): EntityStateShort | null;
/** Sets state (`new_state`, kept when absent) and merges `attribute_values` into its attributes. */
declare function EntitySetState(entityId: string, params: EntityStateParams): void;
/** Sets the state to a named state; one the entity's `states:` does not have is an error naming those it has. */
declare function EntitySetStateName(entityId: string, state: string): void;
declare function EntityGetAttributes(entityId: string): { [key: string]: any };
/** Merges `attributes` into the entity's attributes; its state stays. */
/** The entity's settings (`settings:` of the entity in smart-home.yaml, with what EntitySetState settings_value changed). */
declare function EntityGetSettings(entityId: string): { [key: string]: any };
declare function EntitySetAttributes(entityId: string, attributes: { [key: string]: any }): void;
/** Entity.callAction: resolves when the device confirmed (e154's returns nothing; awaiting is optional). */
declare function EntityCallAction(entityId: string, action: string, params?: { [key: string]: any }): Promise<void>;
/** The entity as Entity.get gives it, with e154's `type` (the domain) and `state` ({name, description}). */
/** What e154's trigger callbacks (automationTriggerTime/StateChanged/System/Mqtt) of a script_file get; return false to stop the run. */
interface AutomationTriggerMessage {
  type: string;
  time: number;
  entity_id: string | null;
  old_state: unknown;
  new_state: unknown;
  topic: string | null;
  payload: string | null;
  event: string | null;
}
/** e154's system events: enable, disable or run an automation (e154's task) by its id in automations.yaml. */
declare function PushSystemEvent(
  command: 'command_enable_task' | 'command_disable_task' | 'event_call_trigger',
  params: { id: string | number },
): Promise<void>;
/** e154's EntitiesCallAction: the action on every entity of an area (its own or its device's), or on one entity. */
declare function EntitiesCallAction(
  selector: { action_name: string; area_id?: string | number; entity_id?: string },
  params?: { [key: string]: any },
): Promise<{ called: string[]; skipped: string[]; failed: { id: string; error: string }[] }>;
/** Adds a point to each given item of a metric the entity declares (`metrics:`), e.g. EntitySetMetric(ENTITY_ID, 'power', {watts: 140}). */
declare function EntitySetMetric(entityId: string, name: string, values: { [item: string]: number }): void;
/** Activates a scene entity (type: scene): its script's sceneEvent(entityId, args) runs; resolves when it returned. */
declare function EntityCallScene(entityId: string, args?: { [key: string]: any }): Promise<void>;
/** Calls function `fn` of another entity's script with `payload`; resolves with what it returned. */
declare function EntityCallScript(entityId: string, fn: string, payload?: unknown): Promise<any>;
declare function GetEntity(entityId: string): {
  id: string;
  name: string;
  type: string;
  state: EntityStateShort | null;
  attributes: { [key: string]: any };
  settings: { [key: string]: any };
};
/** console.log */
declare function print(...args: unknown[]): void;
/** JSON.stringify */
declare function marshal(value: unknown): string;
/** JSON.parse */
declare function unmarshal(text: string): any;
/** "48656C6C6F" -> [72, 101, 108, 108, 111] */
declare function hex2arr(hex: string): number[];
/** Encrypts text with the hub's own key (AES-256-GCM); the result starts with "shc1:". */
declare function Encrypt(text: string): string;
/** Decrypts what Encrypt made on this hub; throws for a changed text or another hub's. */
declare function Decrypt(text: string): string;
/** Refused: scripts cannot run commands on the hub's machine (it throws, saying so). */
declare function ExecuteSync(command: string, ...args: unknown[]): never;
/** Refused: scripts cannot run commands on the hub's machine (it throws, saying so). */
declare function ExecuteAsync(command: string, ...args: unknown[]): never;

/** e154's message (notifr.newMessage()); entity_id or type names the target, attributes.body is the text. */
interface E154NotifyMessage {
  from: string;
  type: string;
  entity_id: string;
  attributes: { body?: string; text?: string; title?: string; subject?: string; [key: string]: unknown };
}
/** e154's notifr, onto Notify.send. */
declare const notifr: {
  newMessage(): E154NotifyMessage;
  send(msg: E154NotifyMessage): Promise<{ id: number; target: string; attempts: number }>;
};
/** e154's template.render: a template of notify.templates in smart-home.yaml, with params. */
declare const template: { render(name: string, params?: { [key: string]: unknown }): string };

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

/** A named timer as Timer.on's handler gets it. */
interface NamedTimer {
  name: string;
  /** What Timer.at/in were given (JSON). */
  data: any;
  /** When it was due (ISO 8601). */
  due: string;
  /** How late it fires: more than a few ms when the hub was down at `due`. */
  late_ms: number;
}
/**
 * Named timers kept by the hub across restarts and kill -9 (setTimeout is in memory only).
 * Setting a name again moves it; a timer due while the hub was down fires after the script's
 * Timer.on(handler) runs again.
 */
interface SmartHomeTimer {
  /** Fires `name` at a time (a Date, an ISO time or ms since 1970); returns the due time (ISO). */
  at(name: string, when: Date | string | number, data?: unknown): string;
  /** Fires `name` after a delay (ms, or a duration like "10m", "1h30m"); returns the due time (ISO). */
  in(name: string, delay: number | string, data?: unknown): string;
  /** Cancels `name`; false when there was none. */
  cancel(name: string): boolean;
  list(): { name: string; due: string; data: any }[];
  /** The handler every due timer of this script goes to, one at a time (a returned promise is awaited). */
  on(handler: (timer: NamedTimer) => unknown): void;
}
declare const Timer: SmartHomeTimer;
declare function setTimeout(fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function setInterval(fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function clearTimeout(id: number | undefined): void;
declare function clearInterval(id: number | undefined): void;

/** Set by an entity action (or `smart-home run --set actionName=...`): the name of the action being run. */
declare var actionName: string;
/** Set by an entity action: the entity the action was called on. */
declare var entityId: string;
/** Set by an entity action: its parameters. */
declare var params: Record<string, unknown>;
