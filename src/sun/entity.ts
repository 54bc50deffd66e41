// The `sun.sun` entity: above_horizon / below_horizon, with elevation, azimuth, rising and the
// next dawn, rising, noon, setting and dusk. Updated at each of those events and every 5 minutes
// between (elevation and azimuth move); removed when the config has no `home:`.
import type { EntityRegistry } from '../entities/registry.js';
import type { Sun } from './sun.js';

export const SUN_ENTITY = 'sun.sun';
const EVERY = 5 * 60_000;

export class SunEntity {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly registry: EntityRegistry,
    private readonly sun: Sun | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (!this.sun) {
      if (this.registry.get(SUN_ENTITY)?.source === 'sun') this.registry.remove(SUN_ENTITY);
      return;
    }
    this.registry.upsert({ id: SUN_ENTITY, name: 'Sun', domain: 'sun', source: 'sun', category: 'diagnostic' });
    this.update();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private update(): void {
    const sun = this.sun!;
    const t = this.now();
    const { state, attributes } = sun.state(t);
    this.registry.setState(SUN_ENTITY, state, attributes);
    // the next event, or 5 minutes, whichever comes first
    const next = Object.entries(attributes)
      .filter(([k, v]) => k.startsWith('next_') && typeof v === 'string')
      .map(([, v]) => Date.parse(v as string))
      .reduce((a, b) => Math.min(a, b), t + EVERY);
    this.timer = setTimeout(() => this.update(), Math.max(1000, next - t + 500));
    this.timer.unref();
  }
}
