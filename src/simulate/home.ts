// The simulated home of `smart-home test`: the real hub (its broker, sandboxes, automation runner,
// integrations) in a temporary data dir with a copy of the scripts and automations, a virtual
// clock, and nothing reaching out: no listener, no HTTP API, no external broker or bridge, no
// backups, HTTP from scripts refused, notifications recorded instead of sent. What the hub
// publishes, the actions it asks for, what scripts log and what it notifies are recorded.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import type { ScriptLogEvent } from '../events.js';
import { Hub } from '../hub.js';
import type { Entity } from '../entities/registry.js';
import type { Logger } from '../log.js';
import { capture } from '../mqtt/topic.js';
import { isTestFile } from '../scripts/engine.js';
import { VirtualClock } from './clock.js';
import { deviceEffect, SIMULATED, simulatedActions } from './devices.js';

export interface HomeOptions {
  /** The hub's config as loaded (its entities, integrations, notify targets, limits). */
  config: Config;
  /** The scripts dir to copy (tests are left out). */
  scriptsDir?: string;
  /** The automations file to copy. */
  automationsFile?: string;
  /** Where the virtual clock starts (default: now). */
  start?: number;
  log: Logger;
  /** Real time a settle may take before it fails, naming what is still busy. */
  settleTimeoutMs?: number;
  /** false: the scripts do not start on their own (a dry run loads the one it runs). */
  startScripts?: boolean;
  /** How error texts show the scripts dir (default: relative to the current dir). */
  scriptsShownAs?: string;
}

export interface Published {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

export interface Notified {
  target: string;
  message: string;
  title?: string;
  priority?: string;
  source: string;
}

/** A device as a test declares it: `home.device('light.hall', {state: 'off'})`. */
export interface DeviceSpec {
  state?: unknown;
  attributes?: Record<string, unknown>;
  name?: string;
  area?: string;
}

export class SimulatedHome {
  readonly published: Published[] = [];
  readonly logs: ScriptLogEvent[] = [];
  readonly notifications: Notified[] = [];
  /** Actions asked for after this one (home.clear moves it). */
  private actionsFrom = 0;
  private readonly offs: (() => void)[] = [];

  private constructor(
    readonly hub: Hub,
    readonly clock: VirtualClock,
    private readonly dir: string,
    private readonly settleTimeoutMs: number,
    /** How the scripts dir is shown (the user's own, not the copy in the temporary dir). */
    private readonly scriptsShown: string,
  ) {}

  /** A text with the copy's paths written as the user's scripts dir (`scripts/boiler.coffee:30:7`). */
  shown(text: string): string {
    return text.split(`${path.join(this.dir, 'scripts')}${path.sep}`).join(`${this.scriptsShown}${path.sep}`);
  }

  static async start(o: HomeOptions): Promise<SimulatedHome> {
    const dir = mkdtempSync(path.join(tmpdir(), 'smart-home-test-'));
    try {
      if (o.scriptsDir && existsSync(o.scriptsDir))
        cpSync(o.scriptsDir, path.join(dir, 'scripts'), {
          recursive: true,
          filter: (src) => !isTestFile(path.basename(src)),
        });
      if (o.automationsFile && existsSync(o.automationsFile))
        cpSync(o.automationsFile, path.join(dir, 'automations.yaml'));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const config: Config = {
      ...o.config,
      data_dir: dir,
      broker: { ...o.config.broker, listeners: [], mdns: false },
      mqtt: { ...o.config.mqtt, url: null },
      http: { ...o.config.http, enabled: false },
      bridges: [],
      backup: { ...o.config.backup, every: undefined },
      scripts: { ...o.config.scripts, http: { ...o.config.scripts.http, allow: [] } },
    };
    const clock = new VirtualClock(o.start ?? Date.now());
    let home: SimulatedHome | undefined;
    const hub = new Hub(config, o.log, {
      ...(o.startScripts === false ? { startScripts: false } : {}),
      clock,
      scriptClock: clock,
      deliverNotification: async (target, _cfg, n, meta) => {
        home?.notifications.push({
          target,
          message: n.message,
          ...(n.title !== undefined ? { title: n.title } : {}),
          ...(n.priority !== undefined ? { priority: n.priority } : {}),
          source: meta.source,
        });
      },
    });
    const shownDir = o.scriptsShownAs ?? (o.scriptsDir ? path.relative(process.cwd(), o.scriptsDir) || '.' : 'scripts');
    home = new SimulatedHome(hub, clock, dir, o.settleTimeoutMs ?? 10_000, shownDir);
    try {
      await hub.start();
    } catch (err) {
      await home.remove();
      throw err;
    }
    home.watch();
    await home.settle();
    return home;
  }

  private watch(): void {
    const { hub } = this;
    this.offs.push(
      hub.broker!.onPublish((p) => this.published.push({ ...p })),
      hub.events.on('script.log', (l) => {
        if (!l.script.startsWith('test:')) this.logs.push(l);
      }),
      hub.entities.actions.register(SIMULATED, async (entity, action, params) => {
        const { state, attributes } = deviceEffect(entity, action, params);
        hub.registry.setState(entity.id, state, attributes);
        return { optimistic: true };
      }),
    );
    this.actionsFrom = hub.entities.actions.lastSeq;
  }

  /** Declares a device (an entity with that state) or sets one's state anew, as its report would. */
  device(id: string, spec: DeviceSpec = {}): void {
    const domain = id.split('.')[0] ?? '';
    const existing = this.hub.registry.get(id);
    this.hub.registry.upsert({
      id,
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      ...(spec.area !== undefined ? { area: spec.area } : {}),
      ...(existing && existing.source !== SIMULATED ? {} : { source: SIMULATED, actions: simulatedActions(domain) }),
    });
    if (spec.state !== undefined || spec.attributes)
      this.hub.registry.setState(id, spec.state ?? existing?.state ?? null, spec.attributes ?? null);
  }

  /**
   * Takes an entity over as it is in another hub (a dry run's live one): its state, attributes and
   * availability, with its script, or else answering its actions as a device would. No trigger
   * sees it as a change (nothing listens yet when a dry run seeds).
   */
  seed(e: Entity): void {
    const { registry } = this.hub;
    registry.upsert({
      id: e.id,
      name: e.name,
      domain: e.domain,
      script: e.script ?? null,
      actions: e.actions.length > 0 ? e.actions : simulatedActions(e.domain),
      ...(e.script ? {} : { source: SIMULATED }),
      attributes: e.attributes,
      replaceAttributes: true,
      category: e.category ?? null,
      area: e.area ?? null,
    });
    registry.setState(e.id, e.state, null);
    registry.setAvailable(e.id, e.available);
  }

  /** The directory the home's copy of the scripts is in. */
  get scriptsDir(): string {
    return path.join(this.dir, 'scripts');
  }

  /** A message from a device (or anyone but the hub) through the broker; resolves when the home settled. */
  async publish(topic: string, payload: Buffer, opts: { qos?: 0 | 1 | 2; retain?: boolean } = {}): Promise<void> {
    await this.hub.broker!.inject(topic, payload, opts.qos ?? 0, opts.retain ?? false);
    await this.settle();
  }

  /** A device reports a state; resolves when the home settled. */
  async set(id: string, state: unknown, attributes?: Record<string, unknown> | null): Promise<void> {
    this.hub.registry.setState(id, state, attributes ?? null);
    await this.settle();
  }

  /** Someone (the test, as a user) asks an entity for an action; resolves when the home settled. */
  async call(id: string, action: string, params: Record<string, unknown> = {}): Promise<void> {
    await this.hub.entities.callAction(id, action, params, 'test');
    await this.settle();
  }

  /** Runs an automation as its Run button would; resolves when the home settled. */
  async run(automation: string): Promise<void> {
    this.hub.automations.trigger(automation);
    await this.settle();
  }

  /** Moves the virtual clock by `ms`; everything due on the way happens, in order. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`clock.advance: the time to move by must be 0 or more, got ${ms}`);
    await this.clock.advanceTo(this.clock.now() + ms, () => this.settleIfBusy());
    await this.settle();
  }

  /** What the hub published on topics matching `filter`, oldest first. */
  messages(filter = '#'): Published[] {
    return this.published.filter((p) => capture(filter, p.topic) !== undefined);
  }

  /** The actions asked for since the start (or the last clear), optionally of one entity. */
  actions(entityId?: string) {
    return this.hub.entities.actions
      .after(this.actionsFrom)
      .filter((r) => entityId === undefined || r.entityId === entityId)
      .map((r) => ({ entity: r.entityId, action: r.action, params: r.params, caller: r.caller, result: r.result }));
  }

  /** Forgets what was recorded so far (publishes, actions, logs, notifications). */
  clear(): void {
    this.published.length = 0;
    this.logs.length = 0;
    this.notifications.length = 0;
    this.actionsFrom = this.hub.entities.actions.lastSeq;
  }

  /** What is still at work (a script with messages or publishes in flight, an automation run awake), if anything. */
  busy(): string | undefined {
    const script = this.hub.scripts.busy((name) => name.startsWith('test:'));
    if (script) return `script ${script}`;
    const automation = this.hub.automations.busy();
    return automation ? `automation ${automation}` : undefined;
  }

  private async settleIfBusy(): Promise<void> {
    await turn();
    await turn();
    if (this.busy()) await this.settle();
  }

  /**
   * Resolves when the home is quiet: every message sent has come through the broker and been
   * handled, and nothing is at work that does not wait for the clock. Twice quiet in a row, so
   * work that starts more work is waited for too.
   */
  async settle(): Promise<void> {
    const deadline = Date.now() + this.settleTimeoutMs;
    let quiet = 0;
    while (quiet < 2) {
      await this.hub.bus.barrier(this.settleTimeoutMs);
      await turn();
      await turn();
      const busy = this.busy();
      if (!busy) {
        quiet++;
        continue;
      }
      quiet = 0;
      if (Date.now() > deadline)
        throw new Error(
          `the home did not settle within ${this.settleTimeoutMs / 1000} s: ${busy} is still at work (waiting for a device that never answers, or a loop that publishes forever?)`,
        );
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    try {
      await this.hub.stop();
    } finally {
      await this.remove();
    }
  }

  private async remove(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
