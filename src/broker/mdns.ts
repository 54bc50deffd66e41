// Advertises _mqtt._tcp on the network for listeners that are reachable from it (never for
// loopback-only ones: there is nobody to tell).
import { Bonjour, type Service } from 'bonjour-service';
import type { Logger } from '../log.js';
import { isLoopback } from '../address.js';

export interface Advertised {
  type: string;
  host: string;
  port: number;
}

/** The services that would be announced for these listeners (exported for tests). */
export function servicesFor(
  listeners: Advertised[],
  name = 'Smart Home',
): { name: string; type: string; port: number }[] {
  return listeners
    .filter((l) => !isLoopback(l.host))
    .map((l) => ({
      name: l.type === 'tls' ? `${name} (TLS)` : name,
      type: l.type === 'tls' ? 'secure-mqtt' : 'mqtt',
      port: l.port,
    }));
}

export class Advertiser {
  private bonjour?: Bonjour;
  private readonly services: Service[] = [];

  constructor(private readonly log: Logger) {}

  advertise(listeners: Advertised[]): void {
    const wanted = servicesFor(listeners);
    if (wanted.length === 0) return;
    try {
      this.bonjour = new Bonjour();
      for (const s of wanted) this.services.push(this.bonjour.publish({ ...s, protocol: 'tcp' }));
      this.log.info({ services: wanted }, 'advertising over mDNS');
    } catch (err) {
      this.log.warn({ err }, 'mDNS advertisement failed; the broker works without it');
    }
  }

  stop(): void {
    if (!this.bonjour) return;
    for (const s of this.services) s.stop?.();
    this.bonjour.destroy();
    this.bonjour = undefined;
  }
}
