// What the API needs from the hub: narrow, so the API never reaches into modules' insides.
import type { Notifier } from '../notify/notifier.js';
import type { UserStore } from '../store/users.js';
import type { SessionStore } from '../store/sessions.js';
import type { EntityRegistry } from '../entities/registry.js';
import type { EntitiesModule } from '../entities/module.js';
import type { ScriptEngine } from '../scripts/engine.js';
import type { ScriptLibrary } from '../scripts/library.js';
import type { AutomationsModule } from '../automations/module.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { MqttExplorer } from '../mqtt/explorer.js';
import type { MessageTrace } from '../mqtt/trace.js';
import type { Checkpointer } from '../store/checkpointer.js';
import type { EventBus } from '../events.js';
import type { BridgeStatus } from '../mqtt/bridge.js';
import type { DeviceRegistry } from '../entities/devices.js';
import type { Recorder } from '../entities/recorder.js';
import type { Dashboard } from '../entities/dashboard.js';
import type { Integration } from '../entities/integrations/index.js';
import type { DryRunReport, DryRunRequest } from '../simulate/dry-run.js';

/** Failed password attempts, shared by every way of presenting a password. */
export interface PasswordLimiter {
  blocked(address: string, user: string): string | undefined;
  fail(address: string, user: string): void;
  succeed(address: string, user: string): void;
}

/** The embedded broker as the API sees it. */
export interface BrokerView {
  clients(): {
    id: string;
    user?: string;
    address?: string;
    internal: boolean;
    subscriptions: { topic: string; qos: number }[];
  }[];
  readonly connectedClients: number;
  readonly stats: Readonly<Record<string, number>>;
}

export interface ApiHub {
  /** A dry run or replay (src/simulate/dry-run.ts), when the hub was started with them. */
  dryRun?: (request: DryRunRequest) => Promise<DryRunReport>;
  users: UserStore;
  authLimiter: PasswordLimiter;
  sessions: SessionStore;
  events: EventBus;
  registry: EntityRegistry;
  recorder: Pick<Recorder, 'history' | 'usage'>;
  /** The data directory (the recorder reports the free disk there). */
  dataDir: string;
  dashboard: Dashboard;
  devices: Pick<DeviceRegistry, 'list' | 'get' | 'setArea'>;
  integrations: ReadonlyMap<string, Pick<Integration, 'commands' | 'status' | 'commandTopics'>>;
  entities: Pick<EntitiesModule, 'actions' | 'declarations' | 'metricHistory'>;
  scripts: Pick<ScriptEngine, 'list' | 'get' | 'inputs' | 'counters'>;
  library: ScriptLibrary;
  automations: Pick<
    AutomationsModule,
    | 'list'
    | 'runs'
    | 'pastRun'
    | 'nearMisses'
    | 'listenersOf'
    | 'setEnabled'
    | 'trigger'
    | 'reload'
    | 'text'
    | 'save'
    | 'put'
    | 'remove'
  >;
  bus: Pick<MqttBus, 'publish' | 'connected' | 'target' | 'stats' | 'connection'>;
  explorer: MqttExplorer;
  trace: MessageTrace;
  checkpointer: Pick<Checkpointer, 'onCheckpoint' | 'running' | 'last'>;
  broker?: BrokerView;
  bridges: { status(): BridgeStatus }[];
  /** The embedded broker's ACL (none configured, or an external broker: undefined). */
  mqttAcl?: { allowed(user: string | undefined, clientId: string, topic: string, want: 'read' | 'write'): boolean };
  notifier: Pick<Notifier, 'list' | 'send' | 'targets' | 'targetType'>;
  status(): Record<string, unknown>;
}
