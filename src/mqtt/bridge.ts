// A bridge between the embedded broker and an upstream broker, like Mosquitto's: chosen topic
// patterns go out, come in, or both, with optional prefixes. QoS 1/2 messages bound upstream
// wait in the durable outbox while the upstream is away. Loop prevention: a message this bridge
// just delivered on one side is not sent back when it shows up there (MQTT 3.1.1 has no
// "no local"; with MQTT 5 the upstream subscription also sets noLocal).
import type { Duplex } from 'node:stream';
import { createHash } from 'node:crypto';
import { connect, MqttClient, type IClientOptions } from 'mqtt';
import type { BridgeConfig } from '../config/schema.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../log.js';
import { SqliteOutbox, endClient } from './outbox.js';
import { capture, redactUrl } from './topic.js';

export interface BridgeContext {
  config: BridgeConfig;
  /** An in-process connection to the embedded broker (to publish what comes in). */
  connectLocal: () => Duplex;
  /** Every message published to the embedded broker as published, retain flag included. */
  onLocalPublish: (fn: (m: { topic: string; payload: Buffer; retain: boolean }) => void) => () => void;
  db: Db;
  log: Logger;
}

type Rule = BridgeConfig['topics'][number];

/** One bridge as /api/status and /metrics show it. */
export interface BridgeStatus {
  name: string;
  url: string;
  connected: boolean;
  since?: number;
  lastError?: string;
  /** messages forwarded upstream (out) and down (in), copies not sent back (loops cut) */
  out: number;
  in: number;
  loopsCut: number;
}
const ECHO_MS = 10_000;

export class Bridge {
  private local?: MqttClient;
  private offLocal?: () => void;
  private remote?: MqttClient;
  /** topic + payload hash -> how many copies this bridge just delivered on that side */
  private readonly delivered = {
    local: new Map<string, { n: number; until: number }>(),
    remote: new Map<string, { n: number; until: number }>(),
  };
  readonly stats = { out: 0, in: 0, loopsCut: 0 };

  constructor(private readonly ctx: BridgeContext) {}

  get connected(): boolean {
    return this.remote?.connected ?? false;
  }
  private since?: number;
  private lastError?: string;

  status(): BridgeStatus {
    return {
      name: this.ctx.config.name,
      url: redactUrl(this.ctx.config.url),
      connected: this.connected,
      since: this.since,
      lastError: this.lastError,
      ...this.stats,
    };
  }

  async start(): Promise<void> {
    const { config, log } = this.ctx;
    const rules = config.topics;
    this.local = new MqttClient(() => this.ctx.connectLocal() as never, {
      clientId: `smart-home-bridge-${config.name}`,
      clean: true,
      reconnectPeriod: 1000,
      protocolVersion: 4,
    });
    const outbox = new SqliteOutbox(this.ctx.db, config.protocol_version, `bridge:${config.name}`);
    const opts: IClientOptions = {
      clientId: config.client_id ?? `smart-home-bridge-${config.name}`,
      username: config.username,
      password: config.password,
      protocolVersion: config.protocol_version,
      clean: false,
      reconnectPeriod: 1000,
      outgoingStore: outbox,
      messageIdProvider: outbox.messageIdProvider(),
      ...(config.protocol_version === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
    };
    this.remote = connect(config.url, opts);
    // (the logger is the bridge's own child: it names the bridge on every line already)
    this.remote.on('error', (err) => {
      this.lastError = err.message;
      log.warn({ err: err.message }, 'bridge: upstream connection error');
    });
    this.remote.on('connect', () => {
      this.since = Date.now();
      this.lastError = undefined;
      log.info({ url: redactUrl(config.url) }, 'bridge connected');
    });
    this.remote.on('close', () => {
      if (this.since !== undefined) this.since = Date.now();
    });
    // outgoing: taken from the broker as published, so a retained message stays retained upstream
    this.offLocal = this.ctx.onLocalPublish((m) => this.forward('out', m.topic, m.payload, m.retain, rules));
    this.remote.on('message', (topic, payload, packet) => this.forward('in', topic, payload, packet.retain, rules));
    await new Promise<void>((r) => this.local!.once('connect', () => r()));
    const subscribed: Promise<unknown>[] = [];
    for (const rule of rules) {
      // subscribing while the upstream is away is queued by mqtt.js and sent on connect; with
      // MQTT 5, "retain as published" keeps the retain flag and "no local" our own messages away
      if (rule.direction !== 'out')
        subscribed.push(
          this.remote
            .subscribeAsync(rule.remote_prefix + rule.pattern, {
              qos: rule.qos,
              ...(config.protocol_version === 5 ? { nl: true, rap: true } : {}),
            })
            .catch(() => {}),
        );
    }
    // ready: connected upstream and every subscription there acknowledged (start does not wait for
    // it: a hub starts while its upstream is away)
    this.ready = Promise.all(subscribed).then(() =>
      this.connected ? undefined : new Promise<void>((r) => this.remote!.once('connect', () => r())),
    );
  }

  /** Resolves once the bridge is connected upstream and its subscriptions there are in place. */
  ready: Promise<void> = new Promise(() => {});

  async stop(): Promise<void> {
    this.offLocal?.();
    await Promise.all([this.local, this.remote].map((c) => c && endClient(c)));
  }

  private forward(from: 'out' | 'in', topic: string, payload: Buffer, retain: boolean, rules: Rule[]): void {
    const source = from === 'out' ? 'local' : 'remote';
    const target = from === 'out' ? 'remote' : 'local';
    // a copy this bridge itself delivered on this side: do not send it back
    if (this.take(source, topic, payload)) {
      this.stats.loopsCut++;
      return;
    }
    for (const rule of rules) {
      if (rule.direction !== 'both' && rule.direction !== from) continue;
      const [fromPrefix, toPrefix] =
        from === 'out' ? [rule.local_prefix, rule.remote_prefix] : [rule.remote_prefix, rule.local_prefix];
      if (!topic.startsWith(fromPrefix) || !capture(rule.pattern, topic.slice(fromPrefix.length))) continue;
      const dest = toPrefix + topic.slice(fromPrefix.length);
      this.remember(target, dest, payload);
      const client = target === 'remote' ? this.remote! : this.local!;
      client.publish(dest, payload, { qos: rule.qos, retain }, (err) => {
        if (err) this.ctx.log.warn({ topic: dest, err: err.message }, 'bridge: forward failed');
      });
      if (from === 'out') this.stats.out++;
      else this.stats.in++;
      return; // the first matching rule forwards, as in Mosquitto
    }
  }

  private key(topic: string, payload: Buffer): string {
    return `${topic}\0${createHash('sha1').update(payload).digest('base64')}`;
  }

  private remember(side: 'local' | 'remote', topic: string, payload: Buffer): void {
    const map = this.delivered[side];
    const k = this.key(topic, payload);
    const e = map.get(k);
    map.set(k, { n: (e?.n ?? 0) + 1, until: Date.now() + ECHO_MS });
    if (map.size > 10_000)
      for (const [key, v] of map)
        if (v.until < Date.now() || map.size > 10_000) map.delete(key);
        else break;
  }

  private take(side: 'local' | 'remote', topic: string, payload: Buffer): boolean {
    const map = this.delivered[side];
    const k = this.key(topic, payload);
    const e = map.get(k);
    if (!e || e.until < Date.now()) {
      if (e) map.delete(k);
      return false;
    }
    if (--e.n === 0) map.delete(k);
    return true;
  }
}
