// The MQTT explorer behind the UI: from the first time someone opens it, the hub subscribes to
// `#` and keeps the last message of each topic for as long as it runs (bounded in topics and in
// payload bytes, the oldest topics going first), each with its provenance: the script and line,
// the automation or the API request that published it. A hub nobody ever looked at pays nothing:
// its client then receives no extra messages.
import type { EventBus, MqttMessageEvent, MqttPublishingEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { MqttBus } from './bus.js';
import type { MessageTrace } from './trace.js';

export interface Provenance {
  script: string;
  line?: number;
  col?: number;
}
export interface ExplorerMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  time: number;
  /** Who published it, when it was this hub (a script and line, an automation, the API). */
  source?: Provenance;
}

export interface ExplorerContext {
  bus: MqttBus;
  events: EventBus;
  trace: MessageTrace;
  log: Logger;
  maxTopics?: number;
  maxBytes?: number;
  shared?: boolean;
}

export class ExplorerUnavailable extends Error {
  override name = 'ExplorerUnavailable';
}

const PENDING_MS = 10_000;

export class MqttExplorer {
  private readonly topics = new Map<string, ExplorerMessage>();
  private readonly pending = new Map<
    string,
    { payload: Buffer; source?: Provenance; retain: boolean; until: number }[]
  >();
  private readonly listeners = new Set<(m: ExplorerMessage) => void>();
  private subscribed?: Promise<void>;
  private offs: (() => void)[] = [];
  /** Payload bytes kept in `topics`. */
  private bytes = 0;
  /** Topics let go to stay within the bounds. */
  evicted = 0;

  constructor(private readonly ctx: ExplorerContext) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.release();
  }

  /** Starts watching (subscribes to `#` on first use); returns the function that stops it. */
  async watch(onMessage?: (m: ExplorerMessage) => void): Promise<() => void> {
    if (this.ctx.shared) {
      // over MQTT 3.1.1 a message that matches `#` and a script's shared filter arrives twice and
      // cannot be told apart, so the script would run on every hub: refuse instead
      throw new ExplorerUnavailable(
        'the MQTT explorer is off while mqtt.share_group is set (it would make every hub handle every message)',
      );
    }
    if (onMessage) this.listeners.add(onMessage);
    if (!this.subscribed) this.subscribed = this.subscribe();
    await this.subscribed;
    // the topic tree stays when the viewer leaves: the next one sees every topic since the first
    return () => {
      if (onMessage) this.listeners.delete(onMessage);
    };
  }

  get watching(): boolean {
    return this.subscribed !== undefined;
  }

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
    if (!this.subscribed) return;
    const was = this.subscribed;
    this.subscribed = undefined;
    for (const off of this.offs) off();
    this.offs = [];
    this.topics.clear();
    this.bytes = 0;
    this.pending.clear();
    await was.catch(() => {});
    await this.ctx.bus
      .unsubscribe('#')
      .catch((err: Error) => this.ctx.log.warn({ err: err.message }, 'explorer unsubscribe failed'));
  }

  /** Topics and payload bytes kept, and topics let go to stay within the bounds. */
  get size(): { topics: number; bytes: number; evicted: number } {
    return { topics: this.topics.size, bytes: this.bytes, evicted: this.evicted };
  }

  private forget(topic: string): void {
    const old = this.topics.get(topic);
    if (!old) return;
    this.bytes -= old.payload.length;
    this.topics.delete(topic);
  }

  private remember(e: MqttPublishingEvent): void {
    const list = this.pending.get(e.topic) ?? [];
    const now = Date.now();
    while (list.length > 0 && (list[0]!.until < now || list.length >= 100)) list.shift();
    list.push({ payload: e.payload, source: e.source, retain: e.retain, until: now + PENDING_MS });
    this.pending.set(e.topic, list);
  }

  private receive(m: MqttMessageEvent): void {
    let source: Provenance | undefined;
    // a live delivery carries no retain flag (MQTT 3.1.1); for the hub's own publishes it is known
    let retain = m.retain;
    const list = this.pending.get(m.topic);
    const i = list ? list.findIndex((p) => p.payload.equals(m.payload)) : -1;
    if (list && i >= 0) {
      source = list[i]!.source;
      retain ||= list[i]!.retain;
      list.splice(i, 1);
      if (list.length === 0) this.pending.delete(m.topic);
    } else if (m.retain) {
      // a retained message from before we watched: the message trace knows who published it
      source = this.ctx.trace.lastSource(m.topic, m.payload.length);
    }
    const msg: ExplorerMessage = { topic: m.topic, payload: m.payload, qos: m.qos, retain, time: Date.now(), source };
    this.forget(m.topic);
    if (m.payload.length > 0 || !retain) {
      this.topics.set(m.topic, msg);
      this.bytes += msg.payload.length;
      const maxTopics = this.ctx.maxTopics ?? 10_000;
      const maxBytes = this.ctx.maxBytes ?? 16 * 1024 * 1024;
      // oldest first (a Map keeps insertion order, and a topic is re-inserted on every message)
      while (this.topics.size > maxTopics || (this.bytes > maxBytes && this.topics.size > 1)) {
        this.forget(this.topics.keys().next().value!);
        this.evicted++;
      }
    }
    for (const fn of this.listeners) fn(msg);
  }
}
