// The dashboard's layout: which entities it leaves out and in which order it shows them (the
// UI's edit mode stores it; areas are the devices'). Kept in the meta table as one JSON value.
import type { Db } from '../store/db.js';
import { metaGet, metaSet } from '../store/meta.js';

export interface DashboardLayout {
  /** Entities not shown (by default every control and reading, not settings or diagnostics). */
  hidden: string[];
  /** Entities in the order the household put them; the others follow by name. */
  order: string[];
}

const KEY = 'dashboard_layout';
const MAX = 10_000;

export class Dashboard {
  constructor(private readonly db: Db) {}

  get(): DashboardLayout {
    try {
      const v = JSON.parse(metaGet(this.db, KEY) ?? '{}') as Partial<DashboardLayout>;
      return { hidden: Array.isArray(v.hidden) ? v.hidden : [], order: Array.isArray(v.order) ? v.order : [] };
    } catch {
      return { hidden: [], order: [] };
    }
  }

  set(layout: DashboardLayout): DashboardLayout {
    const clean = (xs: unknown[]) =>
      [...new Set(xs.filter((x): x is string => typeof x === 'string' && x.length <= 200))].slice(0, MAX);
    const next = { hidden: clean(layout.hidden), order: clean(layout.order) };
    metaSet(this.db, KEY, JSON.stringify(next));
    return next;
  }
}
