// The MQTT explorer behind the UI: while someone watches, the hub subscribes to `#` and keeps
// the last message of each topic (bounded), each with its provenance: the script and line, the
// automation or the API request that published it. Nobody watching costs nothing: the hub's
// client then receives no extra messages.
import type { EventBus, MqttMessageEvent, MqttPublishingEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { MqttBus } from './bus.js';
import type { MessageTrace } from './trace.js';

export interface Provenance { script: string; line?: number; col?: number }
export interface ExplorerMessage {
  topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean; time: number;
  /** Who published it, when it was this hub (a script and line, an automation, the API). */
  source?: Provenance;
}

export interface ExplorerContext { bus: MqttBus; events: EventBus; trace: MessageTrace; log: Logger; maxTopics?: number; lingerMs?: number; shared?: boolean }

export class ExplorerUnavailable extends Error { override name = 'ExplorerUnavailable'; }

const PENDING_MS = 10_000;

export class MqttExplorer {
  private readonly topics = new Map<string, ExplorerMessage>();
  private readonly pending = new Map<string, { payload: Buffer; source?: Provenance; until: number }[]>();
  private readonly listeners = new Set<(m: ExplorerMessage) => void>();
  private watchers = 0;
  private subscribed?: Promise<void>;
  private linger?: NodeJS.Timeout;
  private offs: (() => void)[] = [];

  constructor(private readonly ctx: ExplorerContext) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    clearTimeout(this.linger);
    this.watchers = 0;
    await this.release();
  }

  /** Starts watching (subscribes to `#` on first use); returns the function that stops it. */
  async watch(onMessage?: (m: ExplorerMessage) => void): Promise<() => void> {
    if (this.ctx.shared) {
      // over MQTT 3.1.1 a message that matches `#` and a script's shared filter arrives twice and
      // cannot be told apart, so the script would run on every hub: refuse instead
      throw new ExplorerUnavailable('the MQTT explorer is off while mqtt.share_group is set (it would make every hub handle every message)');
    }
    this.watchers++;
    if (onMessage) this.listeners.add(onMessage);
    clearTimeout(this.linger);
    if (!this.subscribed) this.subscribed = this.subscribe();
    await this.subscribed;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (onMessage) this.listeners.delete(onMessage);
      if (--this.watchers === 0) {
        this.linger = setTimeout(() => void this.release(), this.ctx.lingerMs ?? 60_000);
        this.linger.unref();
      }
    };
  }

  get watching(): boolean { return this.subscribed !== undefined; }

  /** The last message of every topic seen while watching, sorted by topic. */
  snapshot(): ExplorerMessage[] {
    return [...this.topics.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  private async subscribe(): Promise<void> {
    const { events } = this.ctx;
    this.offs.push(events.on('mqtt.publishing', (e) => this.remember(e)));
    this.offs.push(events.on('mqtt.message', (m) => this.receive(m)));
    // at QoS 2, so every message arrives at the QoS it was published with (the broker delivers at
    // the lower of the two) and the explorer shows that QoS
    await this.ctx.bus.subscribe('#', 2);
  }

  private async release(): Promise<void> {
    if (!this.subscribed || this.watchers > 0) return;
    const was = this.subscribed;
    this.subscribed = undefined;
    for (const off of this.offs) off();
    this.offs = [];
    this.topics.clear();
    this.pending.clear();
    await was.catch(() => {});
    await this.ctx.bus.unsubscribe('#').catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'explorer unsubscribe failed'));
  }

  private remember(e: MqttPublishingEvent): void {
    const list = this.pending.get(e.topic) ?? [];
    const now = Date.now();
    while (list.length > 0 && (list[0]!.until < now || list.length >= 100)) list.shift();
    list.push({ payload: e.payload, source: e.source, until: now + PENDING_MS });
    this.pending.set(e.topic, list);
  }

  private receive(m: MqttMessageEvent): void {
    let source: Provenance | undefined;
    const list = this.pending.get(m.topic);
    const i = list ? list.findIndex((p) => p.payload.equals(m.payload)) : -1;
    if (list && i >= 0) {
      source = list[i]!.source;
      list.splice(i, 1);
      if (list.length === 0) this.pending.delete(m.topic);
    } else if (m.retain) {
      // a retained message from before we watched: the message trace knows who published it
      source = this.ctx.trace.lastSource(m.topic, m.payload.length);
    }
    const msg: ExplorerMessage = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, time: Date.now(), source };
    if (m.payload.length === 0 && m.retain) this.topics.delete(m.topic);
    else {
      this.topics.delete(m.topic);
      this.topics.set(m.topic, msg);
      if (this.topics.size > (this.ctx.maxTopics ?? 10_000)) this.topics.delete(this.topics.keys().next().value!);
    }
    for (const fn of this.listeners) fn(msg);
  }
}
