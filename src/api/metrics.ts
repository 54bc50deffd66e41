// /metrics in the Prometheus text format (prom-client). Counts are read from the modules at
// scrape time; publish acknowledgement latency is a histogram fed by the bus's events.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiHub } from './hub.js';

export class Metrics {
  readonly registry = new Registry();
  private off?: () => void;
  private offCheckpoint?: () => void;

  constructor(private readonly hub: ApiHub) {
    const r = this.registry;
    // prom-client's own names already start with process_ / nodejs_ (no smart_home_process_process_…)
    // among them the event-loop delay (perf_hooks.monitorEventLoopDelay sampled every 10 ms,
    // smart_home_nodejs_eventloop_lag_{p50,p90,p99,max}_seconds), reset at each scrape
    collectDefaultMetrics({ register: r, prefix: 'smart_home_', eventLoopMonitoringPrecision: 10 });
    const ack = new Histogram({
      name: 'smart_home_publish_ack_seconds',
      help: 'time from a hub publish to its completion (written for QoS 0, PUBACK for 1, PUBCOMP for 2)',
      labelNames: ['qos'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [r],
    });
    const failed = new Counter({
      name: 'smart_home_publish_failures_total',
      help: 'hub publishes that failed, by error code',
      labelNames: ['code'],
      registers: [r],
    });
    this.off = hub.events.on('mqtt.published', (e) => {
      if (e.error) failed.inc({ code: e.error });
      else if (e.ackMs !== undefined) ack.observe({ qos: String(e.qos) }, e.ackMs / 1000);
    });
    // the WAL checkpoints, done on a thread of their own (src/store/checkpointer.ts): those that had frames to copy
    const checkpoint = new Histogram({
      name: 'smart_home_sqlite_checkpoint_seconds',
      help: 'WAL checkpoints of the hub database that had frames to copy, done off the event loop',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [r],
    });
    this.offCheckpoint = hub.checkpointer.onCheckpoint((c) => {
      if (c.log > 0) checkpoint.observe(c.ms / 1000);
    });
    const gauge = (name: string, help: string, read: () => number, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.set(read());
        },
      });
    const scripts = () => hub.scripts.list();
    gauge(
      'smart_home_broker_clients',
      'clients connected to the embedded broker',
      () => hub.broker?.connectedClients ?? 0,
    );
    gauge(
      'smart_home_broker_messages_received_total',
      'messages clients published to the embedded broker',
      () => hub.broker?.stats.received ?? 0,
    );
    gauge(
      'smart_home_sqlite_wal_frames',
      'frames in the WAL at the last checkpoint; -1 when the checkpoint thread is not running (SQLite checkpoints on commit)',
      () => (hub.checkpointer.running ? (hub.checkpointer.last?.log ?? 0) : -1),
    );
    gauge('smart_home_mqtt_connected', '1 when the hub is connected to its broker', () => (hub.bus.connected ? 1 : 0));
    gauge(
      'smart_home_mqtt_outbox',
      'QoS 1/2 publishes waiting for the broker (the durable outbox)',
      () => hub.bus.connection().outbox,
    );
    gauge('smart_home_mqtt_reconnects_total', 'reconnection attempts to the broker', () => hub.bus.stats.reconnects);
    gauge(
      'smart_home_mqtt_dropped_offline_total',
      'QoS 0 publishes dropped while disconnected',
      () => hub.bus.stats.droppedOffline,
    );
    gauge('smart_home_mqtt_messages_out_total', 'messages the hub published', () => hub.bus.stats.published);
    gauge('smart_home_mqtt_messages_in_total', 'messages the hub received', () => hub.bus.stats.received);
    gauge('smart_home_scripts', 'scripts running', () => scripts().length);
    gauge('smart_home_entities', 'entities the hub knows', () => hub.registry.size);
    gauge('smart_home_devices', 'devices the hub knows', () => hub.devices.list().length);
    gauge(
      'smart_home_entity_state_reports_total',
      'state reports applied to entities',
      () => hub.registry.stats.reports,
    );
    gauge(
      'smart_home_entity_writes_total',
      'batches of entity states written to SQLite',
      () => hub.registry.stats.flushes,
    );
    gauge('smart_home_script_errors_total', 'errors reported by scripts', () =>
      scripts().reduce((n, s) => n + s.errors, 0),
    );
    gauge(
      'smart_home_script_throttled_total',
      'times a script went over scripts.cpu_share and had to wait',
      () => hub.scripts.counters.throttled,
    );
    gauge(
      'smart_home_script_stopped_total',
      'scripts stopped by the hub (CPU share exhausted, host stack overflow, host error)',
      () => hub.scripts.counters.stopped,
    );
    gauge('smart_home_script_queue_overflows_total', 'messages dropped because a script input queue was full', () =>
      scripts().reduce((n, s) => n + s.overflows, 0),
    );
    gauge('smart_home_script_messages_delivered_total', 'messages delivered to script subscriptions', () =>
      scripts().reduce((n, s) => n + s.delivered, 0),
    );
    gauge('smart_home_automation_runs_total', 'automation runs started since the hub started', () =>
      hub.automations.list().reduce((n, a) => n + a.runs, 0),
    );
    const bridges = () => hub.bridges.map((b) => b.status());
    new Gauge({
      name: 'smart_home_bridge_connected',
      help: '1 when the bridge is connected to its upstream broker',
      labelNames: ['bridge'],
      registers: [r],
      collect() {
        this.reset();
        for (const b of bridges()) this.set({ bridge: b.name }, b.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'smart_home_bridge_messages_total',
      help: 'messages a bridge forwarded, by direction (out: upstream, in: down)',
      labelNames: ['bridge', 'direction'],
      registers: [r],
      collect() {
        this.reset();
        for (const b of bridges()) {
          this.set({ bridge: b.name, direction: 'out' }, b.out);
          this.set({ bridge: b.name, direction: 'in' }, b.in);
        }
      },
    });
    gauge('smart_home_automation_runs_dropped_total', 'automation runs refused by their mode', () =>
      hub.automations.list().reduce((n, a) => n + a.dropped, 0),
    );
  }

  stop(): void {
    this.off?.();
    this.offCheckpoint?.();
  }
}
