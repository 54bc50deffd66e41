// MqttBus: the hub's one MQTT client (mqtt.js). With the embedded broker it connects over an
// in-process stream; with an external broker over the network. Every publish reports
// completion: QoS 0 when written, QoS 1 on PUBACK, QoS 2 on PUBCOMP.
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { connect, MqttClient, type IClientOptions, type IClientPublishOptions } from 'mqtt';
import { randomBytes } from 'node:crypto';
import type { EventBus, MqttMessageEvent } from '../events.js';
import type { Db } from '../store/db.js';
import { SqliteOutbox, endClient } from './outbox.js';
import { redactUrl } from './topic.js';
import type { Logger } from '../log.js';
import type { MessageTrace } from './trace.js';

export type MqttErrorCode = 'NOT_CONNECTED' | 'TIMEOUT' | 'REFUSED' | 'CLOSED' | 'OUTBOX_FULL' | 'NOT_SUPPORTED';

/** A publish that did not complete; `code` says why. */
export class MqttError extends Error {
  override name = 'MqttError';
  constructor(
    readonly code: MqttErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** MQTT 5 publish properties a script may set (camelCase as in mqtt.js). */
export interface PublishProperties {
  contentType?: string;
  userProperties?: Record<string, string | string[]>;
  messageExpiryInterval?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  payloadFormatIndicator?: boolean;
}
export interface PublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
  properties?: PublishProperties;
}
export interface PublishSource {
  script: string;
  line?: number;
  col?: number;
}
export interface PublishResult {
  ackMs: number;
}

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
  /** Where the durable outbox lives; without it QoS 1/2 messages wait in memory only. */
  db?: Db;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5 (external brokers only). */
  protocolVersion?: 4 | 5;
  /** Keep the broker session (clean session off / session expiry) so nothing queued for us is lost. */
  persistentSession?: boolean;
  sessionExpirySeconds?: number;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** QoS 0 publishes while disconnected: dropped (and counted) or queued in memory. */
  offlineQos0?: 'drop' | 'queue';
  /** Most messages waiting in the outbox; past it a publish fails with OUTBOX_FULL. */
  outboxMax?: number;
  /** Start even when the broker cannot be reached, and keep trying (the hub); else fail (the CLI). */
  keepTrying?: boolean;
  /** Script subscriptions become `$share/<group>/<filter>`: several hubs share the work. */
  shareGroup?: string;
}

export interface ConnectionState {
  connected: boolean;
  since: number;
  lastError?: string;
  reconnects: number;
  outbox: number;
}

export class MqttBus {
  private client?: MqttClient;
  private readonly subscriptions = new Map<string, number>();
  readonly stats = { published: 0, failed: 0, received: 0, droppedOffline: 0, outboxFull: 0, reconnects: 0 };
  private outbox?: SqliteOutbox;
  private state = { since: Date.now(), lastError: undefined as string | undefined };

  constructor(private readonly ctx: MqttBusContext) {}

  get protocolVersion(): 4 | 5 {
    return this.ctx.protocolVersion ?? 4;
  }

  connection(): ConnectionState {
    return {
      connected: this.connected,
      since: this.state.since,
      lastError: this.state.lastError,
      reconnects: this.stats.reconnects,
      outbox: this.outbox?.size ?? 0,
    };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }
  /** Where the hub is connected, for logs and the API (a password in the URL is hidden). */
  get target(): string {
    return this.ctx.url ? redactUrl(this.ctx.url) : 'embedded broker';
  }

  async start(): Promise<void> {
    const { ctx } = this;
    const opts: IClientOptions = {
      clientId: ctx.clientId,
      username: ctx.username,
      password: ctx.password,
      protocolVersion: this.protocolVersion,
      clean: !ctx.persistentSession,
      keepalive: 60,
      reconnectPeriod: 1000,
      connectTimeout: ctx.connectTimeoutMs ?? 10000,
      resubscribe: true,
      queueQoSZero: ctx.offlineQos0 === 'queue',
      ...(this.protocolVersion === 5 && ctx.persistentSession
        ? { properties: { sessionExpiryInterval: ctx.sessionExpirySeconds ?? 7 * 24 * 3600 } }
        : {}),
      ...(ctx.tls
        ? {
            ca: ctx.tls.ca ? readFileSync(ctx.tls.ca) : undefined,
            cert: ctx.tls.cert ? readFileSync(ctx.tls.cert) : undefined,
            key: ctx.tls.key ? readFileSync(ctx.tls.key) : undefined,
            rejectUnauthorized: ctx.tls.rejectUnauthorized ?? true,
          }
        : {}),
    };
    if (ctx.db) {
      this.outbox = new SqliteOutbox(ctx.db, this.protocolVersion);
      opts.outgoingStore = this.outbox;
      opts.messageIdProvider = this.outbox.messageIdProvider();
      const waiting = this.outbox.size;
      if (waiting > 0)
        ctx.log.info({ messages: waiting }, 'outbox holds messages from before; they are sent once connected');
    }
    const client = ctx.url ? connect(ctx.url, opts) : new MqttClient(() => ctx.connectInternal!() as never, opts);
    this.client = client;
    client.on('connect', () => {
      // Nagle's algorithm costs ~1 ms at p50 and 40 ms spikes (ANCHORS.md): off.
      (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
      // mqtt.js (5.16) adds a one-shot 'drain' listener for each write the socket buffers and sets
      // the stream's limit to 1 000, so a burst of publishes printed "Possible EventEmitter memory
      // leak". They are not a leak: what waits is bounded by the hub (max_pending_publishes per
      // script, the outbox), so the stream gets no listener limit of its own (test/mqtt/external).
      client.stream.setMaxListeners(0);
      ctx.log.info({ broker: this.target }, 'connected');
      this.state = { since: Date.now(), lastError: undefined };
      client.options.reconnectPeriod = 1000;
      // acknowledgement deadlines run only while connected: a message in the outbox waits
      const deadline = Date.now() + ctx.publishTimeoutMs;
      for (const v of this.awaitingAck.values()) v.deadline = deadline;
      ctx.events.emit('mqtt.connection', { connected: true });
    });
    client.on('close', () => {
      if (!client.disconnecting) {
        // back off: 1 s, 2 s, 4 s ... 30 s between attempts while the broker stays away
        client.options.reconnectPeriod = Math.min(30_000, (client.options.reconnectPeriod ?? 1000) * 2);
      }
      this.state.since = Date.now();
      ctx.events.emit('mqtt.connection', { connected: false, error: this.state.lastError });
    });
    client.on('reconnect', () => {
      this.stats.reconnects++;
    });
    client.on('error', (err) => {
      this.state.lastError = err.message;
      ctx.log.warn({ broker: this.target, err: err.message }, 'MQTT connection error');
    });
    client.on('message', (topic, payload, packet) => {
      this.stats.received++;
      const properties = packet.properties && Object.keys(packet.properties).length > 0 ? packet.properties : undefined;
      ctx.events.emit(
        'mqtt.message',
        properties
          ? { topic, payload, qos: packet.qos, retain: packet.retain, properties }
          : { topic, payload, qos: packet.qos, retain: packet.retain },
      );
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          fail(
            new MqttError('TIMEOUT', `cannot connect to ${this.target}: no CONNACK within ${opts.connectTimeout} ms`),
          ),
        opts.connectTimeout! + 500,
      );
      const onErr = (err: Error) => fail(new MqttError('REFUSED', `cannot connect to ${this.target}: ${err.message}`));
      const fail = (err: Error) => {
        cleanup();
        if (ctx.keepTrying) {
          // a hub starts anyway: QoS 1/2 publishes wait in the outbox until the broker is back
          ctx.log.warn({ broker: this.target, err: err.message }, 'broker not reachable; retrying in the background');
          return resolve();
        }
        client.end(true);
        reject(err);
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off('error', onErr);
        client.off('connect', ok);
      };
      const ok = () => {
        cleanup();
        resolve();
      };
      client.once('connect', ok);
      client.once('error', onErr);
    });
  }

  async stop(): Promise<void> {
    if (this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    this.responses?.off();
    this.responses = undefined;
    this.ctx.trace?.flush();
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    await endClient(c);
    this.ctx.trace?.flush();
  }

  /** Publishes and resolves when complete for its QoS; rejects with MqttError. */
  publish(topic: string, payload: Buffer, opts: PublishOptions, source?: PublishSource): Promise<PublishResult> {
    const started = performance.now();
    const events = this.ctx.events;
    if (events.has('mqtt.publishing'))
      events.emit('mqtt.publishing', { topic, payload, qos: opts.qos, retain: opts.retain, source });
    const done = (error?: MqttError): PublishResult => {
      const ackMs = performance.now() - started;
      if (events.has('mqtt.published'))
        events.emit('mqtt.published', {
          topic,
          qos: opts.qos,
          ackMs: error ? undefined : ackMs,
          error: error?.code,
          source: source?.script,
        });
      this.ctx.trace?.record({
        time: Date.now(),
        topic,
        size: payload.length,
        qos: opts.qos,
        retain: opts.retain,
        source: source?.script,
        line: source?.line,
        col: source?.col,
        result: error ? 'error' : 'ok',
        error: error?.message,
        ackMs: error ? undefined : ackMs,
      });
      if (error) {
        this.stats.failed++;
        throw error;
      }
      this.stats.published++;
      return { ackMs };
    };
    const client = this.client;
    const refuse = (err: MqttError) => Promise.resolve().then(() => done(err));
    if (opts.properties && this.protocolVersion !== 5) {
      return refuse(
        new MqttError(
          'NOT_SUPPORTED',
          `MQTT 5 properties (${Object.keys(opts.properties).join(', ')}) need mqtt.protocol_version: 5; the hub speaks MQTT 3.1.1 to ${this.target}`,
        ),
      );
    }
    if (!client) return refuse(new MqttError('NOT_CONNECTED', `not connected to ${this.target}`));
    if (!client.connected && opts.qos === 0 && this.ctx.offlineQos0 !== 'queue') {
      this.stats.droppedOffline++;
      return refuse(
        new MqttError(
          'NOT_CONNECTED',
          `not connected to ${this.target}: QoS 0 message dropped (mqtt.offline_qos0: drop)`,
        ),
      );
    }
    if (opts.qos > 0 && this.outbox && this.awaitingAck.size >= (this.ctx.outboxMax ?? 10_000)) {
      this.stats.outboxFull++;
      return refuse(
        new MqttError(
          'OUTBOX_FULL',
          `${this.awaitingAck.size} messages are waiting for ${this.target} (mqtt.outbox_max ${this.ctx.outboxMax ?? 10_000})`,
        ),
      );
    }
    return new Promise<PublishResult>((resolve, reject) => {
      let finished = false;
      const finish = (err?: MqttError) => {
        if (finished) return;
        finished = true;
        if (opts.qos > 0) this.awaitingAck.delete(finish);
        try {
          resolve(done(err));
        } catch (e) {
          reject(e);
        }
      };
      // One sweeper for all acknowledgement deadlines, not a timer per message.
      if (opts.qos > 0)
        this.awaitingAck.set(finish, { deadline: Date.now() + this.ctx.publishTimeoutMs, qos: opts.qos });
      this.ensureSweeper();
      const popts: IClientPublishOptions = { qos: opts.qos, retain: opts.retain };
      if (opts.properties) popts.properties = opts.properties as IClientPublishOptions['properties'];
      client.publish(topic, payload, popts, (err) => {
        finish(
          err
            ? new MqttError(
                /closed|disconnect|ended/i.test(err.message) ? 'CLOSED' : 'REFUSED',
                `publish to ${topic} failed: ${err.message}`,
              )
            : undefined,
        );
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
      if (!this.connected) return;
      for (const [finish, { deadline, qos }] of this.awaitingAck) {
        if (deadline > now) break;
        finish(
          new MqttError(
            'TIMEOUT',
            `no ${qos === 1 ? 'PUBACK' : 'PUBCOMP'} from ${this.target} within ${this.ctx.publishTimeoutMs} ms`,
          ),
        );
      }
      if (this.awaitingAck.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, every);
    this.sweeper.unref();
  }

  private responses?: {
    topic: string;
    waiting: Map<string, (m: MqttMessageEvent) => void>;
    off: () => void;
    ready: Promise<void>;
  };

  /**
   * MQTT 5 request/response: publishes with a response topic (one per hub) and random correlation
   * data, and resolves with the first reply that carries the same correlation data.
   */
  async request(
    topic: string,
    payload: Buffer,
    opts: { qos: 0 | 1 | 2; timeoutMs: number; properties?: PublishProperties },
  ): Promise<MqttMessageEvent> {
    if (this.protocolVersion !== 5)
      throw new MqttError(
        'NOT_SUPPORTED',
        `Mqtt.request needs MQTT 5 (response topic and correlation data); set mqtt.protocol_version: 5 — the hub speaks MQTT 3.1.1 to ${this.target}`,
      );
    if (!this.responses) {
      const responseTopic = `${this.ctx.clientId}/responses/${randomBytes(6).toString('hex')}`;
      const waiting = new Map<string, (m: MqttMessageEvent) => void>();
      const off = this.ctx.events.on('mqtt.message', (m) => {
        if (m.topic !== responseTopic) return;
        const cd = m.properties?.correlationData;
        const key = Buffer.isBuffer(cd) ? cd.toString('hex') : undefined;
        const resolve = key ? waiting.get(key) : undefined;
        if (resolve && key) {
          waiting.delete(key);
          resolve(m);
        }
      });
      this.responses = { topic: responseTopic, waiting, off, ready: this.subscribe(responseTopic, 1) };
    }
    const r = this.responses;
    await r.ready;
    const correlation = randomBytes(16);
    const key = correlation.toString('hex');
    const reply = new Promise<MqttMessageEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        r.waiting.delete(key);
        reject(new MqttError('TIMEOUT', `no reply to the request on ${topic} within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      r.waiting.set(key, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    try {
      await this.publish(topic, payload, {
        qos: opts.qos,
        retain: false,
        properties: { ...opts.properties, responseTopic: r.topic, correlationData: correlation },
      });
    } catch (err) {
      r.waiting.get(key)?.({} as MqttMessageEvent); // settle the waiter so its timer ends
      r.waiting.delete(key);
      throw err;
    }
    return reply;
  }

  /**
   * The start-up barrier: a message of the hub's own sent through the broker and back. The broker
   * keeps each connection's order, so when it is back the retained messages of the subscriptions
   * made before it have been delivered (and applied: listeners run as each message arrives).
   * Resolves false when it did not come back within `timeoutMs` (the hub starts anyway, later).
   * The topic starts with `$`, so no `#` subscriber sees it.
   */
  async barrier(timeoutMs = 5000): Promise<boolean> {
    // not connected (an external broker still down): nothing retained has come to apply; never fails the start
    if (!this.client?.connected) return true;
    const topic = `$smart-home/barrier/${randomBytes(8).toString('hex')}`;
    try {
      await this.subscribe(topic, 1);
    } catch {
      return false;
    }
    try {
      return await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          off();
          resolve(false);
        }, timeoutMs);
        const off = this.ctx.events.on('mqtt.message', (m) => {
          if (m.topic !== topic) return;
          off();
          clearTimeout(timer);
          resolve(true);
        });
        this.publish(topic, Buffer.from('barrier'), { qos: 1, retain: false }).catch(() => {
          off();
          clearTimeout(timer);
          resolve(false);
        });
      });
    } finally {
      await this.unsubscribe(topic).catch(() => {});
    }
  }

  /** Subscribes the hub (reference-counted per filter, so two users of one filter share it). */
  async subscribe(filter: string, qos: 0 | 1 | 2 = 0, shared = false): Promise<void> {
    if (shared && this.ctx.shareGroup) filter = `$share/${this.ctx.shareGroup}/${filter}`;
    const n = this.subscriptions.get(filter) ?? 0;
    this.subscriptions.set(filter, n + 1);
    if (n > 0) return;
    await this.client!.subscribeAsync(filter, { qos });
  }

  async unsubscribe(filter: string, shared = false): Promise<void> {
    if (shared && this.ctx.shareGroup) filter = `$share/${this.ctx.shareGroup}/${filter}`;
    const n = this.subscriptions.get(filter) ?? 0;
    if (n <= 1) {
      this.subscriptions.delete(filter);
      if (n === 1 && this.client?.connected) await this.client.unsubscribeAsync(filter);
    } else this.subscriptions.set(filter, n - 1);
  }
}
