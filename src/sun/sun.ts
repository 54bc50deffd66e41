// The sun over the home (config `home:`), computed with astronomy-engine: where it is, and when
// it next (or last) rises, sets, dawns (civil: 6° below the horizon), dusks, or stands highest.
// The library searches for each crossing itself, forwards or backwards from an instant, so a
// daylight saving change moves nothing and at polar latitudes an event that does not come for
// weeks is found on the day it does (looked for up to a year ahead), or is null: never an error.
import { Body, Equator, Horizon, Observer, SearchAltitude, SearchHourAngle, SearchRiseSet } from 'astronomy-engine';

export const SUN_EVENTS = ['sunrise', 'sunset', 'dawn', 'dusk', 'noon'] as const;
export type SunEvent = (typeof SUN_EVENTS)[number];

/** How far a search goes (a polar night lasts months, never a year). */
const SEARCH_DAYS = 370;
/** Civil twilight: the sun 6° below the horizon. */
const CIVIL = -6;

export interface SunPosition {
  /** Degrees above the horizon (with refraction); negative below. */
  elevation: number;
  /** Degrees from north, clockwise (90 = east). */
  azimuth: number;
}

export class Sun {
  private readonly observer: Observer;

  constructor(
    readonly latitude: number,
    readonly longitude: number,
    readonly elevation = 0,
    /** The home's time zone (the local day of a sun condition); undefined: this machine's. */
    readonly timezone?: string,
  ) {
    this.observer = new Observer(latitude, longitude, elevation);
  }

  position(t: number): SunPosition {
    const date = new Date(t);
    const eq = Equator(Body.Sun, date, this.observer, true, true);
    const hor = Horizon(date, this.observer, eq.ra, eq.dec, 'normal');
    return { elevation: hor.altitude, azimuth: hor.azimuth };
  }

  /** The crossing of `event` after (direction 1) or before (-1) `t`, or null within a year. */
  private search(event: SunEvent, t: number, direction: 1 | -1): number | null {
    const date = new Date(t);
    const days = direction * SEARCH_DAYS;
    const found =
      event === 'sunrise'
        ? SearchRiseSet(Body.Sun, this.observer, +1, date, days)
        : event === 'sunset'
          ? SearchRiseSet(Body.Sun, this.observer, -1, date, days)
          : event === 'dawn'
            ? SearchAltitude(Body.Sun, this.observer, +1, date, days, CIVIL)
            : event === 'dusk'
              ? SearchAltitude(Body.Sun, this.observer, -1, date, days, CIVIL)
              : SearchHourAngle(Body.Sun, this.observer, 0, date, direction).time;
    return found ? found.date.getTime() : null;
  }

  /** The first `event` (plus `offset` ms) after `t`, or null when none comes within a year. */
  next(event: SunEvent, t: number, offset = 0): number | null {
    // a search that starts on the event finds that one again (to the millisecond): start a second on
    const at = this.search(event, t - offset + 1000, 1);
    return at === null ? null : at + offset;
  }

  /** The last `event` (plus `offset` ms) at or before `t`, or null when none within a year. */
  last(event: SunEvent, t: number, offset = 0): number | null {
    const at = this.search(event, t - offset, -1);
    return at === null ? null : at + offset;
  }

  /** What the `sun.sun` entity shows at `t`. */
  state(t: number): { state: 'above_horizon' | 'below_horizon'; attributes: Record<string, unknown> } {
    const { elevation, azimuth } = this.position(t);
    const iso = (v: number | null) => (v === null ? null : new Date(v).toISOString());
    const rises = this.next('sunrise', t);
    const sets = this.next('sunset', t);
    const noon = this.next('noon', t);
    const lastNoon = this.last('noon', t);
    // up when it sets before it next rises (as Home Assistant reckons it); neither within a year: by its elevation
    const up = rises === null && sets === null ? elevation > 0 : (sets ?? Infinity) < (rises ?? Infinity);
    return {
      state: up ? 'above_horizon' : 'below_horizon',
      attributes: {
        elevation: Math.round(elevation * 100) / 100,
        azimuth: Math.round(azimuth * 100) / 100,
        // from its lowest point (half a day from noon) to noon
        rising: noon !== null && lastNoon !== null ? t - lastNoon > noon - t : elevation < 0,
        next_dawn: iso(this.next('dawn', t)),
        next_rising: iso(rises),
        next_noon: iso(noon),
        next_setting: iso(sets),
        next_dusk: iso(this.next('dusk', t)),
      },
    };
  }
}
