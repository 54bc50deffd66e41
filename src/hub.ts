// Composition root: builds the modules from one Config, starts them in order, stops them in
// reverse. A module that fails to stop is logged and the others still stop.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Notifier, type NotifierOptions } from './notify/notifier.js';
import type { Config } from './config/schema.js';
import { EventBus } from './events.js';
import type { Logger } from './log.js';
import { openStore, type Db } from './store/db.js';
import { Checkpointer } from './store/checkpointer.js';
import { UserStore } from './store/users.js';
import { metaValue } from './store/meta.js';
import { Broker, type BoundListener } from './broker/broker.js';
import { MqttBus } from './mqtt/bus.js';
import { MessageTrace } from './mqtt/trace.js';
import { ApiServer } from './api/server.js';
import { ScriptEngine } from './scripts/engine.js';
import { EntityRegistry } from './entities/registry.js';
import { EntitiesModule } from './entities/module.js';
import { DeviceRegistry } from './entities/devices.js';
import { Recorder } from './entities/recorder.js';
import { Dashboard } from './entities/dashboard.js';
import { INTEGRATIONS, type Integration } from './entities/integrations/index.js';
import { ScriptStorage } from './store/script-storage.js';
import { AutomationsModule } from './automations/module.js';
import { SessionStore } from './store/sessions.js';
import { ScriptLibrary } from './scripts/library.js';
import { Quarantine } from './scripts/quarantine.js';
import { MqttExplorer } from './mqtt/explorer.js';
import { Bridge } from './mqtt/bridge.js';
import { VERSION } from './version.js';
import { ConfigError } from './config/load.js';
import { AuthLimiter } from './broker/auth-limiter.js';
import { realClock, type Clock } from './clock.js';
import { NamedTimers } from './scripts/bindings/timer.js';
import { ScriptTimerStore } from './store/script-timers.js';

/** The most a named timer's data may hold (it is kept in SQLite until the timer fires). */
const TIMER_DATA_BYTES = 64 * 1024;
import { Sun } from './sun/sun.js';
import { BackupScheduler } from './backup/scheduler.js';
import { SunEntity } from './sun/entity.js';
import type { DryRunReport, DryRunRequest } from './simulate/dry-run.js';

export interface HubOptions {
  /** What automations' waits wait on (schedules, delay, for:, wait_for, the catch-up) and named timers: a test may give its own. */
  clock?: Clock;
  /** What scripts' setTimeout/setInterval and Date go by (the simulated home of smart-home test moves it). */
  scriptClock?: Clock;
  /** Delivers a notification instead of the real targets (the simulated home records them). */
  deliverNotification?: NotifierOptions['deliver'];
  configFile?: string;
  /** false: the scripts dir does not start on its own (a dry run's home starts the one script it runs). */
  startScripts?: boolean;
  /** Runs a dry run against this hub (the composition root gives it: src/simulate/dry-run.ts). */
  dryRun?: (hub: Hub, request: DryRunRequest) => Promise<DryRunReport>;
}

interface Module {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class Hub {
  readonly events: EventBus;
  readonly db: Db;
  /** Checkpoints the WAL on a thread of its own. */
  readonly checkpointer: Checkpointer;
  /** The key of Encrypt/Decrypt in scripts, read from the meta table on first use. */
  private scriptKey?: Buffer;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly authLimiter: AuthLimiter;
  readonly library: ScriptLibrary;
  readonly explorer: MqttExplorer;
  readonly trace: MessageTrace;
  readonly broker?: Broker;
  readonly bus: MqttBus;
  readonly scripts: ScriptEngine;
  readonly registry: EntityRegistry;
  readonly recorder: Recorder;
  readonly dataDir: string;
  readonly dashboard: Dashboard;
  readonly devices: DeviceRegistry;
  readonly entities: EntitiesModule;
  /** The integrations that are enabled, by name (zigbee2mqtt, mqtt, tasmota). */
  readonly integrations = new Map<string, Integration>();
  readonly automations: AutomationsModule;
  /** Scheduled backups (config `backup.every`), when they are on. */
  readonly backups?: BackupScheduler;
  /** The sun over the home (config `home:`), when it is given. */
  readonly sun?: Sun;
  readonly notifier: Notifier;
  readonly api?: ApiServer;
  readonly bridges: Bridge[] = [];
  /** A dry run against this hub's current state, when the hub was given how (HubOptions.dryRun). */
  readonly dryRun?: (request: DryRunRequest) => Promise<DryRunReport>;
  private readonly modules: Module[] = [];
  private started: Module[] = [];

  constructor(
    readonly config: Config,
    readonly log: Logger,
    opts: HubOptions = {},
  ) {
    if (config.mqtt.url && config.bridges.length > 0) {
      throw new ConfigError(
        'bridges: a bridge connects the embedded broker to another one; with mqtt.url there is no embedded broker (remove mqtt.url or the bridges)',
      );
    }
    if (!config.mqtt.url && config.mqtt.protocol_version === 5) {
      throw new ConfigError(
        'mqtt.protocol_version: 5 needs an external broker (mqtt.url); the embedded broker speaks MQTT 3.1.1',
      );
    }
    this.events = new EventBus(log.child({ module: 'events' }));
    if (opts.dryRun) {
      const run = opts.dryRun;
      this.dryRun = (request) => run(this, request);
    }
    this.db = openStore(config.data_dir);
    // first in, last out: every module's writes are checkpointed off the event loop (issue 22)
    this.checkpointer = new Checkpointer(this.db, log.child({ module: 'store' }));
    const thread = config.store.checkpoint_thread;
    if (thread !== false)
      this.modules.push(
        named('checkpointer', {
          start: async () => (thread === 'auto' ? this.checkpointer.startWhenBusy() : this.checkpointer.start()),
          stop: () => this.checkpointer.stop(),
        }),
      );
    this.users = new UserStore(this.db);
    this.sessions = new SessionStore(this.db);
    // one limiter for every way of presenting a password: MQTT CONNECT, API login, HTTP Basic
    this.authLimiter = new AuthLimiter(config.broker.auth_failures);
    this.trace = new MessageTrace(this.db, config.store.trace_max_rows);
    if (!config.mqtt.url) {
      const broker = new Broker({
        config: config.broker,
        db: this.db,
        users: this.users,
        log: log.child({ module: 'broker' }),
        version: VERSION,
        authLimiter: this.authLimiter,
      });
      this.broker = broker;
      this.modules.push(named('broker', broker));
    }
    this.bus = new MqttBus({
      url: config.mqtt.url,
      connectInternal: this.broker ? () => this.broker!.connectInternal() : undefined,
      clientId: config.mqtt.client_id,
      username: config.mqtt.username,
      password: config.mqtt.password,
      publishTimeoutMs: config.mqtt.publish_timeout_ms,
      log: log.child({ module: 'mqtt' }),
      events: this.events,
      trace: this.trace,
      db: this.db,
      protocolVersion: config.mqtt.protocol_version,
      persistentSession: Boolean(config.mqtt.url) && !config.mqtt.clean_session,
      sessionExpirySeconds: config.mqtt.session_expiry_s,
      tls: config.mqtt.tls && {
        ca: config.mqtt.tls.ca,
        cert: config.mqtt.tls.cert,
        key: config.mqtt.tls.key,
        rejectUnauthorized: config.mqtt.tls.reject_unauthorized,
      },
      offlineQos0: config.mqtt.offline_qos0,
      outboxMax: config.mqtt.outbox_max,
      shareGroup: config.mqtt.share_group,
      keepTrying: Boolean(config.mqtt.url),
    });
    this.modules.push(named('mqtt', this.bus));
    for (const b of config.bridges) {
      const bridge = new Bridge({
        config: b,
        connectLocal: () => this.broker!.connectInternal(),
        onLocalPublish: (fn) => this.broker!.onPublish(fn),
        db: this.db,
        log: log.child({ module: 'bridge', bridge: b.name }),
      });
      this.bridges.push(bridge);
      this.modules.push(named(`bridge:${b.name}`, bridge));
    }
    const scriptsDir = path.join(config.data_dir, 'scripts');
    this.dataDir = config.data_dir;
    this.dashboard = new Dashboard(this.db);
    this.recorder = new Recorder(this.db, {
      keepDays: config.recorder.keep_days,
      keepStatisticsDays: config.recorder.keep_statistics_days,
      include: config.recorder.include,
      exclude: config.recorder.exclude,
      maxPoints: config.recorder.max_points,
    });
    this.registry = new EntityRegistry(this.db, this.events, this.recorder);
    this.devices = new DeviceRegistry(this.db, this.events);
    this.entities = new EntitiesModule({
      registry: this.registry,
      entities: config.entities,
      zigbee2mqttBaseTopic: config.zigbee2mqtt.base_topic,
      deviceArea: (id) => this.devices.get(id)?.area ?? undefined,
      scriptsDir,
      confirmTimeoutMs: config.actions.confirm_timeout_ms,
      log: log.child({ module: 'entities' }),
      runScript: (file, entityId, action, params) => this.scripts.runEntityAction(file, entityId, action, params),
      runScene: async (entityId, params) => {
        await this.scripts.callEntityScript(entityId, 'sceneEvent', [entityId, params], 'EntityCallScene');
      },
    });
    this.modules.push(named('entities', this.entities));
    if (config.home) {
      const h = config.home;
      this.sun = new Sun(h.latitude, h.longitude, h.elevation, h.timezone);
    }
    const sunEntity = new SunEntity(this.registry, this.sun, opts.clock ?? realClock);
    this.modules.push(named('sun', { start: async () => sunEntity.start(), stop: async () => sunEntity.stop() }));
    this.notifier = new Notifier({
      db: this.db,
      config: config.notify,
      log: log.child({ module: 'notify' }),
      ...(opts.deliverNotification ? { deliver: opts.deliverNotification } : {}),
    });
    this.modules.push(named('notify', { start: async () => this.notifier.start(), stop: () => this.notifier.stop() }));
    const timers = new NamedTimers(
      new ScriptTimerStore(this.db),
      opts.clock ?? realClock,
      (script, t) => this.scripts.deliverTimer(script, t),
      TIMER_DATA_BYTES,
    );
    this.scripts = new ScriptEngine({
      timers,
      ...(opts.scriptClock ? { clock: opts.scriptClock } : {}),
      ...(opts.startScripts === false ? { startDir: false } : {}),
      limits: config.scripts,
      notify: this.notifier,
      // made below: read when a script calls PushSystemEvent
      automations: {
        setEnabled: (id, on) => this.automations.setEnabled(id, on),
        trigger: (id, event) => this.automations.trigger(id, event),
      },
      dir: scriptsDir,
      bus: this.bus,
      events: this.events,
      log: log.child({ module: 'scripts' }),
      entities: this.entities,
      quarantine: new Quarantine(config.data_dir),
      storage: new ScriptStorage(this.db, 1024 * 1024, Math.floor(config.scripts.storage_quota_mb * 1024 * 1024)),
      isActionScript: (f) => this.entities.isActionScript(f),
      entityScripts: () => this.entities.entityScripts(),
      secretKey: () =>
        (this.scriptKey ??= Buffer.from(
          metaValue(this.db, 'scripts.secret_key', () => randomBytes(32).toString('base64')),
          'base64',
        )),
    });
    this.modules.push(named('scripts', this.scripts));
    this.library = new ScriptLibrary(scriptsDir, this.scripts, (f) => this.entities.isActionScript(f));
    this.explorer = new MqttExplorer({
      bus: this.bus,
      events: this.events,
      trace: this.trace,
      log: log.child({ module: 'explorer' }),
      shared: Boolean(config.mqtt.share_group),
      maxTopics: config.explorer.max_topics,
      maxBytes: config.explorer.max_mb * 1024 * 1024,
    });
    this.modules.push(named('explorer', this.explorer));
    for (const kind of INTEGRATIONS) {
      if (!kind.enabled(config)) continue;
      const integration = kind.create({
        config,
        db: this.db,
        bus: this.bus,
        events: this.events,
        registry: this.registry,
        devices: this.devices,
        actions: this.entities.actions,
        log: log.child({ module: kind.name }),
      });
      this.integrations.set(kind.name, integration);
      this.modules.push(named(kind.name, integration));
    }
    this.automations = new AutomationsModule({
      db: this.db,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(this.sun ? { sun: this.sun } : {}),
      file: path.join(config.data_dir, 'automations.yaml'),
      bus: this.bus,
      events: this.events,
      registry: this.registry,
      log: log.child({ module: 'automations' }),
      callAction: (id, action, params, caller) => this.entities.callAction(id, action, params, caller),
      notify: this.notifier,
      scripts: {
        evaluate: (origin, expr, globals) => this.scripts.evaluateSnippet(origin, expr, globals),
        run: (origin, code, language, globals, signal) =>
          this.scripts.runSnippet(origin, code, language, globals, signal),
        forget: (keep) => this.scripts.forgetSnippets(keep),
        callFile: (file, fn, args) => this.scripts.callFileFunction(file, fn, args),
      },
    });
    // the start-up barrier: no trigger listens before the integrations have applied what the broker kept
    this.modules.push(
      named('startup-barrier', {
        start: async () => {
          if (!(await this.bus.barrier()))
            log.warn('the broker did not answer the start-up barrier within 5 s; automations start anyway');
        },
        stop: async () => {},
      }),
    );
    this.modules.push(named('automations', this.automations));
    if (config.backup.every !== undefined) {
      this.backups = new BackupScheduler({
        schedule: {
          every: config.backup.every,
          keep: config.backup.keep,
          dir: path.resolve(config.data_dir, config.backup.dir),
        },
        dataDir: config.data_dir,
        ...(opts.configFile ? { configFile: opts.configFile } : {}),
        db: this.db,
        clock: opts.clock ?? realClock,
        log: log.child({ module: 'backup' }),
      });
      const b = this.backups;
      this.modules.push(named('backup', { start: async () => b.start(), stop: () => b.stop() }));
    }
    if (config.http.enabled) {
      this.api = new ApiServer({
        host: config.http.host,
        port: config.http.port,
        log: log.child({ module: 'api' }),
        hub: this,
      });
      this.modules.push(named('api', this.api));
    }
  }

  async start(): Promise<void> {
    try {
      for (const m of this.modules) {
        // Pushed first: a module that fails half-way is stopped too, releasing what it opened.
        this.started.push(m);
        await m.start();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.events.emit('system.started', {});
  }

  async stop(): Promise<void> {
    this.events.emit('system.stopping', {});
    for (const m of this.started.reverse()) {
      try {
        await m.stop();
      } catch (err) {
        this.log.error({ err, module: m.name }, 'module failed to stop');
      }
    }
    this.started = [];
    this.trace.flush();
    this.registry.flush();
    if (this.db.open) this.db.close();
  }

  get listeners(): BoundListener[] {
    return this.broker?.listeners ?? [];
  }

  get mqttAcl() {
    return this.broker?.acl;
  }

  status(): Record<string, unknown> {
    return {
      version: VERSION,
      broker: this.broker
        ? { listeners: this.listeners, clients: this.broker.connectedClients, stats: this.broker.stats }
        : null,
      mqtt: {
        target: this.bus.target,
        protocolVersion: this.bus.protocolVersion,
        ...this.bus.connection(),
        stats: this.bus.stats,
      },
      scripts: this.scripts.list(),
      entities: this.registry.list().length,
      devices: this.devices.list().length,
      integrations: Object.fromEntries([...this.integrations].map(([name, i]) => [name, i.status?.() ?? {}])),
      automations: this.automations.list().map((a) => ({ id: a.id, enabled: a.enabled, lastRun: a.lastRun?.status })),
      bridges: this.bridges.map((b) => b.status()),
    };
  }
}

function named(name: string, m: { start(): Promise<void>; stop(): Promise<void> }): Module {
  return { name, start: () => m.start(), stop: () => m.stop() };
}
