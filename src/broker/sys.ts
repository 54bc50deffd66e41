// $SYS topics like Mosquitto's, published retained by the broker every interval.
import type { Aedes } from 'aedes';

export interface BrokerStats {
  received: number;
  sent: number;
  connected: number;
}

export class SysTopics {
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(
    private readonly aedes: Aedes,
    private readonly stats: BrokerStats,
    private readonly version: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.publishAll();
    this.timer = setInterval(() => this.publishAll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  values(): Record<string, string> {
    return {
      '$SYS/broker/version': `smart-home ${this.version}`,
      '$SYS/broker/uptime': `${Math.floor((Date.now() - this.started) / 1000)} seconds`,
      '$SYS/broker/clients/connected': String(this.aedes.connectedClients),
      '$SYS/broker/messages/received': String(this.stats.received),
      '$SYS/broker/messages/sent': String(this.stats.sent),
    };
  }

  private publishAll(): void {
    for (const [topic, value] of Object.entries(this.values())) {
      this.aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(value), qos: 0, retain: true, dup: false },
        () => {},
      );
    }
  }
}
