// The wire between the host (Node) and the guest side of the bindings (QuickJS), typed once and
// used by both: `HostApi` is what the host installs for the guest, `GuestApi` what the guest
// returns to the host. Only strings, numbers, booleans and ArrayBuffers cross; anything structured
// travels as JSON of the tuples below. The host trusts none of it: the guest runs in user space.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * One text publish of a batch: retain as 0/1, the call stack as an index into the batch's
 * stacks (a loop publishes from one call site: its stack crosses once), MQTT 5 properties as
 * JSON ('' for none).
 */
export type PublishItem = [
  id: number,
  topic: string,
  payload: string,
  qos: number,
  retain: 0 | 1,
  stack: number,
  properties: string,
];

/** What publishBatch carries: the distinct stacks of the batch, then its publishes in order. */
export type PublishBatch = [stacks: string[], items: PublishItem[]];

/**
 * One message of a delivery batch. Its text is the next `textLength` characters of the batch's
 * text, its bytes the next `byteLength` bytes of the batch's buffer. `deep`: the host found the
 * JSON nested deeper than parsing it safely allows (m.json stays undefined).
 */
export type DeliveryMeta = [
  subId: number,
  topic: string,
  qos: number,
  retain: 0 | 1,
  params: string[],
  properties: string,
  deep: 0 | 1,
  textLength: number,
  byteLength: number,
];

/** A failed publish or async host call: the error's code, message and (for host errors) name. */
export type SettleFailure = [id: number, code: string, message: string, name?: string];

/** What the host provides. Every function is a host function; the constants are numbers. */
export interface HostApi {
  /** A publish with a binary payload (text payloads go in publishBatch). */
  publish(
    id: number,
    topic: string,
    payload: ArrayBuffer,
    qos: number,
    retain: 0 | 1,
    stack: string,
    properties: string,
  ): void;
  /** JSON of a PublishBatch: the text publishes of one turn, in order. */
  publishBatch(json: string): void;
  /** A synchronous host call: JSON of the arguments in, JSON of the result out (undefined for none). */
  call(name: string, argsJson: string): string | undefined;
  /** An asynchronous host call; its outcome comes back through GuestApi.settle under `id`. */
  callAsync(id: number, name: string, argsJson: string): void;
  /**
   * The outcome of a GuestApi.invoke that did not complete at once, or of each call of
   * invokeBatch: ok with the value's JSON, or an error's parts.
   */
  invokeDone(callId: number, ok: boolean, valueOrName: string, message?: string, stack?: string): void;
  /** An error no one caught (a handler, a timer callback). */
  uncaught(name: string, message: string, stack: string): void;
  /** A failed publish no one awaited or caught. */
  unhandled(message: string, site: string): void;
  log(level: LogLevel, text: string): void;
  utf8Length(text: string): number;
  setTimer(id: number, ms: number, repeat: boolean): void;
  clearTimer(id: number): void;
  maxPending: number;
  maxPayload: number;
  maxPendingBytes: number;
  /** After this many ms of a delivery batch the guest starts no further message of it. */
  batchSliceMs: number;
  /** 1: the host's clock is a test's (smart-home test): Date reads it through the `clock.now` call. */
  virtualTime: number;
}

/** What the guest returns to the host once installed. */
export interface GuestApi {
  fireTimer(id: number): void;
  /** ok: comma-separated ids; failed: JSON of SettleFailure[]; values: JSON of [id, value][] ('' for none). */
  settle(ok: string, failed: string, values: string): void;
  /**
   * Runs the handlers of a batch (JSON of DeliveryMeta[], their texts, their bytes) in order.
   * Returns how many it handled; negative when the last one returned a promise, which holds the
   * rest (the host hears `handlerDone` when it settles). `at` is the index of the message being
   * handled (read by the host when the call was interrupted).
   */
  deliver(meta: string, text: string, bytes: ArrayBuffer): number;
  at: number;
  /** Functions found by name after the top level ran (const/let ones too), called by name from then on. */
  adopt(found: unknown): void;
  /** Calls a global function; returns the JSON of {value} when it completed at once, else undefined. */
  invoke(name: string, argsJson: string, callId: number): string | undefined;
  /**
   * Calls the global function `name` once per call of the batch (JSON of [callId, args][]), in
   * order; every outcome comes back through HostApi.invokeDone. Returns how many it started (it
   * starts none after batchSliceMs); `invokeAt` is the index of the call it was on.
   */
  invokeBatch(name: string, callsJson: string): number;
  invokeAt: number;
  /** The host calls, for guest code installed after the prelude (Sandbox.install: the test API). */
  hooks: GuestHooks;
}

export interface GuestHooks {
  call(name: string, ...args: unknown[]): unknown;
  callAsync(what: string, name: string, args: unknown[]): Promise<unknown>;
  /** The call stack of the caller, as the host locates lines in it. */
  stack(): string;
}
