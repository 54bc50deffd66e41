// The typed in-process event bus. Listeners are owned (removed by their owner on stop) and
// wrapped so one failing listener breaks nothing else.
import type { Logger } from './log.js';

export interface MqttMessageEvent {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties?: Record<string, unknown>;
}
/** A publish the hub made, with who made it: a script and line, an automation, the API. */
export interface MqttPublishingEvent {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  source?: { script: string; line?: number; col?: number };
}
export interface MqttPublishedEvent {
  topic: string;
  qos: 0 | 1 | 2;
  ackMs?: number;
  error?: string;
  source?: string;
}
export interface AutomationRunEvent {
  automation: string;
  id: number;
  status: string;
  started: number;
  finished?: number;
  error?: string;
}
export interface ScriptLogEvent {
  script: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  time: number;
}
export interface HubEvents {
  'mqtt.message': MqttMessageEvent;
  'mqtt.publishing': MqttPublishingEvent;
  'mqtt.published': MqttPublishedEvent;
  'automation.run': AutomationRunEvent;
  'mqtt.connection': { connected: boolean; error?: string };
  'script.log': ScriptLogEvent;
  'entity.stateChanged': {
    entityId: string;
    oldState: unknown;
    newState: unknown;
    attributes: Record<string, unknown>;
    time: number;
  };
  /** The state stayed, attributes changed (a light's brightness while it is on). */
  'entity.attributesChanged': { entityId: string; attributes: Record<string, unknown>; time: number };
  'entity.availability': { entityId: string; available: boolean };
  'entity.removed': { entityId: string };
  /** An entity was added, or its definition (name, actions, attributes) changed. */
  'entity.defined': { entityId: string; added: boolean };
  /** A device was added, or its description (name, model, area) changed. */
  'device.defined': { deviceId: string; added: boolean };
  'device.removed': { deviceId: string };
  'system.started': Record<string, never>;
  'system.stopping': Record<string, never>;
}

type Listener<T> = (event: T) => void;

export class EventBus {
  private readonly listeners = new Map<keyof HubEvents, Set<Listener<never>>>();
  constructor(private readonly log?: Logger) {}

  /** Returns the function that removes this listener. */
  on<K extends keyof HubEvents>(name: K, fn: Listener<HubEvents[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => set!.delete(fn as Listener<never>);
  }

  /** True when someone listens, so a caller can skip building an event nobody reads. */
  has(name: keyof HubEvents): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends keyof HubEvents>(name: K, event: HubEvents[K]): void {
    const set = this.listeners.get(name);
    if (!set || set.size === 0) return;
    for (const fn of set) {
      try {
        (fn as Listener<HubEvents[K]>)(event);
      } catch (err) {
        this.log?.error({ err, event: name }, 'event listener failed');
      }
    }
  }
}
