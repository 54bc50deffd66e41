// The `sun.sun` entity: above_horizon / below_horizon, with elevation, azimuth, rising and the
// next dawn, rising, noon, setting and dusk. Updated at each of those events and every 5 minutes
// between (elevation and azimuth move); removed when the config has no `home:`.
import type { EntityRegistry } from '../entities/registry.js';
import type { Sun } from './sun.js';
import { realClock, type Clock } from '../clock.js';

export const SUN_ENTITY = 'sun.sun';
const EVERY = 5 * 60_000;

export class SunEntity {
  private timer?: unknown;

  /** `clock`: the hub's, so a test's or a dry run's moved clock moves the sun too. */
  constructor(
    private readonly registry: EntityRegistry,
    private readonly sun: Sun | undefined,
    private readonly clock: Clock = realClock,
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
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private update(): void {
    const sun = this.sun!;
    const t = this.clock.now();
    const { state, attributes } = sun.state(t);
    this.registry.setState(SUN_ENTITY, state, attributes);
    // the next event, or 5 minutes, whichever comes first
    const next = Object.entries(attributes)
      .filter(([k, v]) => k.startsWith('next_') && typeof v === 'string')
      .map(([, v]) => Date.parse(v as string))
      .reduce((a, b) => Math.min(a, b), t + EVERY);
    this.timer = this.clock.setTimeout(() => this.update(), Math.max(1000, next - t + 500));
    (this.timer as { unref?: () => void }).unref?.(); // the real clock's: it keeps no process alive
  }
}
