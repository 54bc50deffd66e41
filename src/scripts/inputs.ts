// MQTT input for scripts: routes messages from the bus to the scripts that subscribed, through a
// bounded queue per script (one message at a time, in arrival order), with loop protection:
// a script does not hear its own publishes unless it asks to, and a chain of messages that keeps
// triggering scripts is cut at max_hops.
import type { MqttBus } from '../mqtt/bus.js';
import type { MqttMessageEvent } from '../events.js';
import type { Logger } from '../log.js';
import { capture, filterProblem } from '../mqtt/topic.js';

export interface Hop {
  depth: number;
  chain: string[];
}
const NO_HOP: Hop = { depth: 0, chain: [] };
/** Messages per delivery call at most. */
const MAX_BATCH = 256;

interface Sub {
  id: number;
  filter: string;
  self: boolean;
  /** `retained: 'ignore'`: the broker's kept messages (at subscribe, at start) are not delivered. */
  ignoreRetained: boolean;
}
interface Queued {
  sub: Sub;
  msg: MqttMessageEvent;
  params: string[];
  hop: Hop;
}

/** One message for one of a script's subscriptions. */
export interface InputMessage {
  subId: number;
  msg: MqttMessageEvent;
  params: string[];
}

/** What the router needs from a loaded script. */
export interface InputTarget {
  name: string;
  /**
   * Runs the handlers of a batch in order, in one call into the script. `handled`: how many it
   * took (the rest go back to the front of the queue); `holding`: the last one returned a promise,
   * and `handlerDone` follows when it settles.
   */
  deliver(batch: InputMessage[]): { handled: number; holding: boolean };
  log(level: 'warn' | 'error', message: string): void;
  /** Milliseconds to hold its messages (the script is over its CPU share); 0: deliver now. */
  waitMs?(): number;
  /** Too many of its publishes wait for the broker: hold its messages until `drained`. */
  saturated?(): boolean;
}

class ScriptInputs {
  readonly subs = new Map<number, Sub>();
  readonly queue: Queued[] = [];
  busy = false;
  overflows = 0;
  delivered = 0;
  context: Hop = NO_HOP;
  /** Set while delivery waits for the script's CPU budget. */
  resume?: NodeJS.Timeout;
  /** A pump is scheduled (after the I/O of this loop turn, so the messages that came in it go together). */
  scheduled = false;
  /** Delivery waits for the script's publishes to drain. */
  draining = false;
  /**
   * Messages offered per batch: shrunk to what a handler that holds (returns a promise) took, so
   * an async handler is not handed the whole queue each time; doubled back when none holds.
   */
  batchLimit = MAX_BATCH;
  /** Subscriptions sent to the broker and not yet acknowledged. */
  readonly pending = new Set<Promise<unknown>>();
  constructor(readonly target: InputTarget) {}
}

interface Echo {
  script: string;
  hop: Hop;
  expires: number;
}

export interface InputLimits {
  queue_size: number;
  max_hops: number;
  max_subscriptions: number;
  max_filter_bytes: number;
}

export class InputRouter {
  private readonly scripts = new Map<string, ScriptInputs>();
  private readonly echoes = new Map<string, Echo[]>();
  private sweep?: NodeJS.Timeout;

  constructor(
    private readonly bus: MqttBus,
    private readonly limits: InputLimits,
    private readonly log: Logger,
  ) {}

  attach(target: InputTarget): void {
    this.scripts.set(target.name, new ScriptInputs(target));
  }

  /** Removes a script's subscriptions and queue (on reload or removal). */
  detach(name: string): void {
    const s = this.scripts.get(name);
    if (!s) return;
    if (s.resume) clearTimeout(s.resume);
    for (const sub of s.subs.values()) void this.bus.unsubscribe(sub.filter, true).catch(() => {});
    this.subscriptionCount -= s.subs.size;
    this.listened.clear();
    this.scripts.delete(name);
  }

  subscribe(name: string, id: number, filter: unknown, self: boolean, retained: unknown = 'include'): void {
    if (retained !== 'include' && retained !== 'ignore')
      throw new TypeError(
        `Mqtt.subscribe: retained must be 'include' (the default) or 'ignore', got ${JSON.stringify(retained) ?? String(retained)}`,
      );
    const problem = filterProblem(filter);
    if (problem) throw new (problem.kind === 'type' ? TypeError : RangeError)(`Mqtt.subscribe: ${problem.message}`);
    // host memory per script is bounded: subscriptions and filter length (3 000 filters of 60 KB took 740 MB)
    if (Buffer.byteLength(filter as string, 'utf8') > this.limits.max_filter_bytes) {
      throw new RangeError(
        `Mqtt.subscribe: the topic filter is longer than scripts.max_filter_bytes (${this.limits.max_filter_bytes} bytes)`,
      );
    }
    const s = this.scripts.get(name);
    if (!s) return;
    if (!s.subs.has(id) && s.subs.size >= this.limits.max_subscriptions) {
      throw new RangeError(
        `Mqtt.subscribe: more than scripts.max_subscriptions (${this.limits.max_subscriptions}) subscriptions; unsubscribe some first (Mqtt.subscribe returns the function that does it)`,
      );
    }
    if (!s.subs.has(id)) this.subscriptionCount++;
    this.listened.clear();
    s.subs.set(id, { id, filter: filter as string, self, ignoreRetained: retained === 'ignore' });
    const acked = this.bus
      .subscribe(filter as string, 2, true)
      .catch((err: Error) => s.target.log('error', `Mqtt.subscribe(${JSON.stringify(filter)}) failed: ${err.message}`));
    s.pending.add(acked);
    void acked.finally(() => s.pending.delete(acked));
  }

  /** Resolves when every subscription the script has asked for so far is acknowledged by the broker. */
  async subscribed(name: string): Promise<void> {
    const s = this.scripts.get(name);
    if (s) await Promise.all([...s.pending]);
  }

  unsubscribe(name: string, id: number): void {
    const s = this.scripts.get(name);
    const sub = s?.subs.get(id);
    if (!s || !sub) return;
    s.subs.delete(id);
    this.subscriptionCount--;
    this.listened.clear();
    void this.bus.unsubscribe(sub.filter, true).catch(() => {});
  }

  /** Subscriptions of all scripts (kept as a count: `published` asks on every publish). */
  private subscriptionCount = 0;
  /** Topic -> whether any script's subscription matches it (cleared when subscriptions change). */
  private readonly listened = new Map<string, boolean>();

  private anyoneListens(topic: string): boolean {
    let yes = this.listened.get(topic);
    if (yes === undefined) {
      yes = false;
      for (const s of this.scripts.values())
        for (const sub of s.subs.values()) if (capture(sub.filter, topic)) yes = true;
      if (this.listened.size >= 10000) this.listened.clear();
      this.listened.set(topic, yes);
    }
    return yes;
  }

  /** The scripts whose subscriptions take messages on `topic`, with the filter that does ("who looked at it?"). */
  listenersOf(topic: string): { script: string; filter: string; retained: 'include' | 'ignore' }[] {
    const out: { script: string; filter: string; retained: 'include' | 'ignore' }[] = [];
    for (const s of this.scripts.values())
      for (const sub of s.subs.values())
        if (capture(sub.filter, topic))
          out.push({ script: s.target.name, filter: sub.filter, retained: sub.ignoreRetained ? 'ignore' : 'include' });
    return out;
  }

  stats(name: string): { subscriptions: number; queued: number; overflows: number; delivered: number } | undefined {
    const s = this.scripts.get(name);
    return s && { subscriptions: s.subs.size, queued: s.queue.length, overflows: s.overflows, delivered: s.delivered };
  }

  /** A script is about to publish: remember it, so the echo can be recognized. */
  published(name: string, topic: string, payload: Buffer): void {
    // nobody listens: no echo to recognize
    if (this.subscriptionCount === 0 || !this.anyoneListens(topic)) return;
    const s = this.scripts.get(name);
    const key = echoKey(topic, payload);
    const list = this.echoes.get(key) ?? [];
    list.push({ script: name, hop: s?.context ?? NO_HOP, expires: Date.now() + 10000 });
    this.echoes.set(key, list);
    this.sweep ??= setInterval(() => this.sweepEchoes(), 5000).unref();
  }

  /** Called for every message the bus receives. */
  route(msg: MqttMessageEvent): void {
    if (this.scripts.size === 0) return;
    const echo = this.takeEcho(msg);
    const hop: Hop = echo
      ? { depth: echo.hop.depth + 1, chain: [...echo.hop.chain, `${echo.script} published ${msg.topic}`] }
      : NO_HOP;
    for (const s of this.scripts.values()) {
      for (const sub of s.subs.values()) {
        const params = capture(sub.filter, msg.topic);
        if (!params) continue;
        if (echo && echo.script === s.target.name && !sub.self) continue;
        if (msg.retain && sub.ignoreRetained) continue;
        if (hop.depth > this.limits.max_hops) {
          this.log.warn(
            { script: s.target.name, topic: msg.topic },
            `loop cut after ${hop.depth} hops (scripts.max_hops ${this.limits.max_hops}): ${hop.chain.join(' -> ')}`,
          );
          s.target.log(
            'warn',
            `loop cut: not delivering ${msg.topic} after ${hop.depth} hops: ${hop.chain.join(' -> ')}`,
          );
          continue;
        }
        if (s.queue.length >= this.limits.queue_size) {
          s.overflows++;
          if (s.overflows === 1 || s.overflows % 1000 === 0) {
            s.target.log(
              'warn',
              `input queue full (scripts.queue_size ${this.limits.queue_size}): dropped a message on ${msg.topic}; ${s.overflows} dropped so far`,
            );
          }
          continue;
        }
        s.queue.push({ sub, msg, params, hop });
      }
      this.schedule(s);
    }
  }

  /** Publishes of the script settled: if delivery waited for them, go on. */
  drained(name: string): void {
    const s = this.scripts.get(name);
    if (!s?.draining || s.target.saturated?.()) return;
    s.draining = false;
    this.schedule(s);
  }

  /** The script's asynchronous handler settled: deliver the next messages (not from inside its call). */
  handlerDone(name: string): void {
    const s = this.scripts.get(name);
    if (!s) return;
    s.busy = false;
    s.context = NO_HOP;
    this.schedule(s);
  }

  private schedule(s: ScriptInputs): void {
    if (s.scheduled || s.busy || s.queue.length === 0) return;
    s.scheduled = true;
    setImmediate(() => {
      s.scheduled = false;
      if (this.scripts.get(s.target.name) === s) this.pump(s);
    });
  }

  /**
   * Delivers the queue in batches: consecutive messages of the same hop (so what the script
   * publishes is counted on the right chain), one call into the script per batch.
   */
  private pump(s: ScriptInputs): void {
    if (s.resume) return;
    while (!s.busy && s.queue.length > 0) {
      const wait = s.target.waitMs?.() ?? 0;
      if (wait > 0) {
        s.resume = setTimeout(() => {
          s.resume = undefined;
          if (this.scripts.get(s.target.name) === s) this.pump(s);
        }, wait);
        return;
      }
      if (s.target.saturated?.()) {
        s.draining = true;
        return;
      }
      const hop = s.queue[0]!.hop;
      let taken = 0;
      const batch: Queued[] = [];
      while (taken < s.queue.length && batch.length < s.batchLimit && s.queue[taken]!.hop === hop) {
        const q = s.queue[taken++]!;
        if (s.subs.has(q.sub.id)) batch.push(q); // else unsubscribed while queued
      }
      s.queue.splice(0, taken);
      if (batch.length === 0) continue;
      s.busy = true;
      s.context = hop;
      const r = s.target.deliver(batch.map((q) => ({ subId: q.sub.id, msg: q.msg, params: q.params })));
      const handled = Math.max(1, Math.min(batch.length, r.handled));
      s.delivered += handled;
      if (handled < batch.length) s.queue.unshift(...batch.slice(handled));
      s.batchLimit = r.holding ? handled : Math.min(MAX_BATCH, s.batchLimit * 2);
      if (!r.holding) {
        s.busy = false;
        s.context = NO_HOP;
      }
    }
  }

  private takeEcho(msg: MqttMessageEvent): Echo | undefined {
    if (this.echoes.size === 0) return undefined;
    const key = echoKey(msg.topic, msg.payload);
    const list = this.echoes.get(key);
    if (!list) return undefined;
    const e = list.shift();
    if (list.length === 0) this.echoes.delete(key);
    return e;
  }

  private sweepEchoes(): void {
    const now = Date.now();
    for (const [key, list] of this.echoes) {
      while (list.length > 0 && list[0]!.expires < now) list.shift();
      if (list.length === 0) this.echoes.delete(key);
    }
    if (this.echoes.size === 0 && this.sweep) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }

  stop(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
  }
}

function echoKey(topic: string, payload: Buffer): string {
  return `${topic}\0${payload.length}\0${payload.subarray(0, 48).toString('base64')}\0${payload.subarray(Math.max(48, payload.length - 16)).toString('base64')}`;
}
