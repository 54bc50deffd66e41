// MqttBus: the hub's one MQTT client (mqtt.js). With the embedded broker it connects over an
// in-process stream; with an external broker over the network. Every publish reports
// completion: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on PUBCOMP.
import type { Duplex } from 'node:stream';
import { connect, MqttClient, type IClientOptions } from 'mqtt';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { MessageTrace } from './trace.js';

export type MqttErrorCode = 'NOT_CONNECTED' | 'TIMEOUT' | 'REFUSED' | 'CLOSED';

/** A publish that did not complete; `code` says why. */
export class MqttError extends Error {
  override name = 'MqttError';
  constructor(readonly code: MqttErrorCode, message: string) { super(message); }
}

export interface PublishOptions { qos: 0 | 1 | 2; retain: boolean }
export interface PublishSource { script: string; line?: number; col?: number }
export interface PublishResult { ackMs: number }

export interface MqttBusContext {
  /** External broker URL; without it `connectInternal` must be given. */
  url?: string | null;
  connectInternal?: () => Duplex;
  clientId: string;
  username?: string;
  password?: string;
  publishTimeoutMs: number;
  connectTimeoutMs?: number;
  log: Logger;
  events: EventBus;
  trace?: MessageTrace;
}

export class MqttBus {
  private client?: MqttClient;
  private readonly subscriptions = new Map<string, number>();
  readonly stats = { published: 0, failed: 0, received: 0 };

  constructor(private readonly ctx: MqttBusContext) {}

  get connected(): boolean { return this.client?.connected ?? false; }
  get target(): string { return this.ctx.url ?? 'embedded broker'; }

  async start(): Promise<void> {
    const { ctx } = this;
    const opts: IClientOptions = {
      clientId: ctx.clientId,
      username: ctx.username,
      password: ctx.password,
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 1000,
      connectTimeout: ctx.connectTimeoutMs ?? 10000,
      resubscribe: true,
    };
    const client = ctx.url
      ? connect(ctx.url, opts)
      : new MqttClient(() => ctx.connectInternal!() as never, opts);
    this.client = client;
    client.on('connect', () => {
      // Nagle's algorithm costs ~1 ms at p50 and 40 ms spikes (ANCHORS.md): off.
      (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
      ctx.log.info({ broker: this.target }, 'connected');
      ctx.events.emit('mqtt.connection', { connected: true });
    });
    client.on('close', () => ctx.events.emit('mqtt.connection', { connected: false }));
    client.on('error', (err) => ctx.log.warn({ broker: this.target, err: err.message }, 'MQTT connection error'));
    client.on('message', (topic, payload, packet) => {
      this.stats.received++;
      ctx.events.emit('mqtt.message', { topic, payload, qos: packet.qos, retain: packet.retain });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new MqttError('TIMEOUT', `cannot connect to ${this.target}: no CONNACK within ${opts.connectTimeout} ms`)), opts.connectTimeout! + 500);
      const onErr = (err: Error) => fail(new MqttError('REFUSED', `cannot connect to ${this.target}: ${err.message}`));
      const fail = (err: Error) => { cleanup(); client.end(true); reject(err); };
      const cleanup = () => { clearTimeout(timer); client.off('error', onErr); client.off('connect', ok); };
      const ok = () => { cleanup(); resolve(); };
      client.once('connect', ok);
      client.once('error', onErr);
    });
  }

  async stop(): Promise<void> {
    if (this.sweeper) { clearInterval(this.sweeper); this.sweeper = undefined; }
    this.ctx.trace?.flush();
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    // A graceful end waits for unacknowledged messages; a broker that never answers must not
    // hold the shutdown, so force it after a moment.
    await new Promise<void>((r) => {
      // (mqtt.js ignores a second end() while the first is pending, so destroy the stream)
      const force = setTimeout(() => { c.stream?.destroy(); r(); }, 2000);
      c.end(false, {}, () => { clearTimeout(force); r(); });
    });
    this.ctx.trace?.flush();
  }

  /** Publishes and resolves when complete for its QoS; rejects with MqttError. */
  publish(topic: string, payload: Buffer, opts: PublishOptions, source?: PublishSource): Promise<PublishResult> {
    const started = performance.now();
    const events = this.ctx.events;
    if (events.has('mqtt.publishing')) events.emit('mqtt.publishing', { topic, payload, qos: opts.qos, retain: opts.retain, source });
    const done = (error?: MqttError): PublishResult => {
      const ackMs = performance.now() - started;
      if (events.has('mqtt.published')) events.emit('mqtt.published', { topic, qos: opts.qos, ackMs: error ? undefined : ackMs, error: error?.code, source: source?.script });
      this.ctx.trace?.record({
        time: Date.now(), topic, size: payload.length, qos: opts.qos, retain: opts.retain,
        source: source?.script, line: source?.line, col: source?.col,
        result: error ? 'error' : 'ok', error: error?.message, ackMs: error ? undefined : ackMs,
      });
      if (error) { this.stats.failed++; throw error; }
      this.stats.published++;
      return { ackMs };
    };
    const client = this.client;
    if (!client || !client.connected) {
      return Promise.resolve().then(() => done(new MqttError('NOT_CONNECTED', `not connected to ${this.target}`)));
    }
    return new Promise<PublishResult>((resolve, reject) => {
      let finished = false;
      const finish = (err?: MqttError) => {
        if (finished) return;
        finished = true;
        if (opts.qos > 0) this.awaitingAck.delete(finish);
        try { resolve(done(err)); } catch (e) { reject(e); }
      };
      // One sweeper for all acknowledgement deadlines, not a timer per message.
      if (opts.qos > 0) this.awaitingAck.set(finish, { deadline: Date.now() + this.ctx.publishTimeoutMs, qos: opts.qos });
      this.ensureSweeper();
      client.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (err) => {
        finish(err ? new MqttError(/closed|disconnect|ended/i.test(err.message) ? 'CLOSED' : 'REFUSED', `publish to ${topic} failed: ${err.message}`) : undefined);
      });
    });
  }

  private readonly awaitingAck = new Map<(err?: MqttError) => void, { deadline: number; qos: number }>();
  private sweeper?: NodeJS.Timeout;

  private ensureSweeper(): void {
    if (this.sweeper || this.awaitingAck.size === 0) return;
    const every = Math.min(1000, Math.max(50, Math.floor(this.ctx.publishTimeoutMs / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      // insertion order = deadline order: stop at the first one still in time
      for (const [finish, { deadline, qos }] of this.awaitingAck) {
        if (deadline > now) break;
        finish(new MqttError('TIMEOUT', `no ${qos === 1 ? 'PUBACK' : 'PUBCOMP'} from ${this.target} within ${this.ctx.publishTimeoutMs} ms`));
      }
      if (this.awaitingAck.size === 0) { clearInterval(this.sweeper); this.sweeper = undefined; }
    }, every);
    this.sweeper.unref();
  }

  /** Subscribes the hub (reference-counted per filter, so two users of one filter share it). */
  async subscribe(filter: string, qos: 0 | 1 | 2 = 0): Promise<void> {
    const n = this.subscriptions.get(filter) ?? 0;
    this.subscriptions.set(filter, n + 1);
    if (n > 0) return;
    await this.client!.subscribeAsync(filter, { qos });
  }

  async unsubscribe(filter: string): Promise<void> {
    const n = this.subscriptions.get(filter) ?? 0;
    if (n <= 1) {
      this.subscriptions.delete(filter);
      if (n === 1 && this.client?.connected) await this.client.unsubscribeAsync(filter);
    } else this.subscriptions.set(filter, n - 1);
  }
}
