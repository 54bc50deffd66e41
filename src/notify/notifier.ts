// Notifications through a durable outbox: Notify.send writes a row (SQLite, committed before it
// returns), a worker hands rows to their targets one at a time per target, within each target's
// rate, and tries again with backoff until the target accepts or max_attempts is reached. Rows
// outlive restarts and kill -9 (delivery is at least once: a target that accepted just before a
// crash gets it again). The promise a script holds settles when its row is sent or has failed.
import type { Db } from '../store/db.js';
import { NotifyOutbox, type NotifyRow as Row } from '../store/notify-outbox.js';
import type { Logger } from '../log.js';
import type { NotifyConfig, NotifyTarget } from '../config/schema.js';
import { compileTemplate, TemplateError, TemplateUnsupported, type Template } from '../templates/jinja.js';
import { DeliveryFailure, PRIORITIES, deliver, type Notification, type Priority } from './targets.js';

export class NotifyError extends Error {
  override name = 'NotifyError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface NotificationRow {
  id: number;
  target: string;
  title: string | null;
  message: string;
  priority: Priority;
  source: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  created: number;
  nextAt: number | null;
  doneAt: number | null;
  lastError: string | null;
}

export interface Sent {
  id: number;
  target: string;
  attempts: number;
}

const MAX_MESSAGE = 16 * 1024;
const MAX_TITLE = 256;
const MAX_DATA = 16 * 1024;

export interface NotifierOptions {
  db: Db;
  config: NotifyConfig;
  log: Logger;
  /** The delivery of one notification (the real targets unless a test gives its own). */
  deliver?: typeof deliver;
  now?: () => number;
}

export class Notifier {
  private readonly waiters = new Map<number, { resolve: (s: Sent) => void; reject: (e: NotifyError) => void }[]>();
  private readonly busy = new Set<string>();
  private readonly recent = new Map<string, number[]>();
  private readonly templates = new Map<string, Template>();
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly q: NotifyOutbox;
  private readonly now: () => number;

  constructor(private readonly o: NotifierOptions) {
    this.now = o.now ?? Date.now;
    this.q = new NotifyOutbox(o.db);
    for (const [name, source] of Object.entries(o.config.templates)) {
      try {
        this.templates.set(name, compileTemplate(source));
      } catch (err) {
        throw new NotifyError('BAD_TEMPLATE', `notify.templates.${name}: ${(err as Error).message}`);
      }
    }
  }

  get targets(): string[] {
    return Object.keys(this.o.config.targets);
  }

  targetType(name: string): NotifyTarget['type'] | undefined {
    return this.o.config.targets[name]?.type;
  }

  start(): void {
    this.running = true;
    this.q.prune(this.now() - this.o.config.keep_days * 86_400_000);
    this.pump();
  }

  /** Stops the worker; a delivery under way is waited for (its row is then updated). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Checks, stores, and returns the row's id and the promise that settles on its fate. */
  send(target: unknown, message: unknown, opts: unknown, source: string): { id: number; done: Promise<Sent> } {
    let fn = 'Notify.send';
    if (typeof target === 'string' && target.startsWith('e154:')) {
      fn = 'notifr.send';
      target = this.e154Target(target.slice(5));
    }
    if (typeof target !== 'string' || !Object.hasOwn(this.o.config.targets, target)) {
      const known = this.targets;
      throw new NotifyError(
        'UNKNOWN_TARGET',
        `${fn}: no notification target ${JSON.stringify(target)}; ${known.length ? `the config has: ${known.join(', ')}` : 'declare one under notify.targets in smart-home.yaml'}`,
      );
    }
    const n = checkNotification(fn, message, opts);
    if (this.q.pending() >= this.o.config.max_pending)
      throw new NotifyError(
        'OUTBOX_FULL',
        `${fn}: ${this.o.config.max_pending} notifications are already waiting (notify.max_pending); is ${target} reachable?`,
      );
    const now = this.now();
    const id = this.q.add(target, JSON.stringify(n), source.slice(0, 500), now);
    const done = new Promise<Sent>((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(id, list);
    });
    this.pump();
    return { id, done };
  }

  /**
   * e154's message names an entity ("telegram.family") or a type ("telegram"): the target of that
   * name, else the one after the dot, else the only target of that type.
   */
  private e154Target(name: string): string {
    const targets = this.o.config.targets;
    if (Object.hasOwn(targets, name)) return name;
    const tail = name.includes('.') ? name.slice(name.indexOf('.') + 1) : '';
    if (tail && Object.hasOwn(targets, tail)) return tail;
    const type = name.includes('.') ? name.slice(0, name.indexOf('.')) : name;
    const ofType = Object.entries(targets).filter(([, t]) => t.type === type);
    return ofType.length === 1 ? ofType[0]![0] : name;
  }

  /** e154's template.render(name, params): a template from notify.templates, rendered. */
  render(name: unknown, params: unknown): string {
    const t = typeof name === 'string' ? this.templates.get(name) : undefined;
    if (!t) {
      const known = [...this.templates.keys()];
      throw new NotifyError(
        'UNKNOWN_TEMPLATE',
        `template.render: no template ${JSON.stringify(name)}; ${known.length ? `notify.templates has: ${known.join(', ')}` : 'declare it under notify.templates in smart-home.yaml'}`,
      );
    }
    const vars =
      params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, never>) : {};
    try {
      const v = t.render({ ...vars, params: vars } as never);
      return typeof v === 'string' ? v : JSON.stringify(v);
    } catch (err) {
      if (err instanceof TemplateError || err instanceof TemplateUnsupported)
        throw new NotifyError('TEMPLATE', `template.render(${JSON.stringify(name)}): ${err.message}`);
      throw err;
    }
  }

  list(limit = 50): NotificationRow[] {
    return this.q.list(Math.min(Math.max(1, limit), 1000)).map(view);
  }

  get(id: number): NotificationRow | undefined {
    const r = this.q.get(id);
    return r && view(r);
  }

  /** Starts a delivery for each target that is free, has a row due and room in its rate; sets the timer for the next. */
  private pump(): void {
    if (!this.running) return;
    const now = this.now();
    let next = Infinity;
    for (const target of this.q.pendingTargets()) {
      if (this.busy.has(target)) continue;
      const cfg = this.o.config.targets[target];
      let row = this.q.head(target);
      if (!cfg) {
        // the target was taken out of the config while notifications waited for it
        for (; row; row = this.q.head(target))
          this.finish(row, 'failed', row.attempts, `target "${target}" is no longer in the config`);
        continue;
      }
      if (!row) continue;
      if (row.next_at > now) {
        next = Math.min(next, row.next_at);
        continue;
      }
      const sent = (this.recent.get(target) ?? []).filter((t) => t > now - 60_000);
      this.recent.set(target, sent);
      if (sent.length >= cfg.rate_per_minute) {
        next = Math.min(next, sent[0]! + 60_000);
        continue;
      }
      this.attempt(target, cfg, row);
    }
    this.schedule(next);
  }

  private schedule(at: number): void {
    if (at === Infinity || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  private attempt(target: string, cfg: NotifyTarget, row: Row): void {
    this.busy.add(target);
    this.recent.get(target)!.push(this.now());
    const n = JSON.parse(row.message) as Notification;
    const attempts = row.attempts + 1;
    const run = (this.o.deliver ?? deliver)(target, cfg, n, { id: row.id, source: row.source }).then(
      () => {
        this.finish(row, 'sent', attempts, null);
        this.o.log.info({ notification: row.id, target, attempts, source: row.source }, 'notification sent');
      },
      (err: unknown) => {
        const f =
          err instanceof DeliveryFailure ? err : new DeliveryFailure(String((err as Error)?.message ?? err), false);
        if (f.permanent || attempts >= this.o.config.max_attempts) {
          const why = f.permanent ? f.message : `${f.message} (gave up after ${attempts} attempts)`;
          this.finish(row, 'failed', attempts, why);
          this.o.log.warn(
            { notification: row.id, target, attempts, source: row.source, err: why },
            'notification failed',
          );
        } else {
          const c = this.o.config;
          const backoff = Math.min(c.retry_max_s, c.retry_base_s * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);
          const wait = Math.max(backoff, f.retryAfterS ?? 0);
          this.q.retryAt(row.id, attempts, this.now() + Math.round(wait * 1000), f.message);
          this.o.log.info(
            { notification: row.id, target, attempts, retryInS: Math.round(wait), err: f.message },
            'notification will be tried again',
          );
        }
      },
    );
    const tracked = run.finally(() => {
      this.busy.delete(target);
      this.inFlight.delete(tracked);
      this.pump();
    });
    this.inFlight.add(tracked);
  }

  private finish(row: Row, status: 'sent' | 'failed', attempts: number, error: string | null): void {
    this.q.finish(row.id, status, attempts, error, this.now());
    const list = this.waiters.get(row.id);
    this.waiters.delete(row.id);
    for (const w of list ?? []) {
      if (status === 'sent') w.resolve({ id: row.id, target: row.target, attempts });
      else w.reject(new NotifyError('FAILED', `Notify.send to ${row.target}: ${error}`));
    }
  }
}

function view(r: Row): NotificationRow {
  const n = JSON.parse(r.message) as Notification;
  return {
    id: r.id,
    target: r.target,
    title: n.title ?? null,
    message: n.message,
    priority: n.priority,
    source: r.source,
    status: r.status as NotificationRow['status'],
    attempts: r.attempts,
    created: r.created,
    nextAt: r.status === 'pending' ? r.next_at : null,
    doneAt: r.done_at,
    lastError: r.last_error,
  };
}

const NUMERIC: Record<number, Priority> = { 1: 'min', 2: 'low', 3: 'default', 4: 'high', 5: 'urgent' };

/** What a script gave, checked (nothing from a script is trusted). */
export function checkNotification(fn: string, message: unknown, opts: unknown): Notification {
  if (typeof message !== 'string' || message.trim() === '')
    throw new NotifyError('BAD_MESSAGE', `${fn}: the message must be a non-empty string`);
  if (message.length > MAX_MESSAGE)
    throw new NotifyError('BAD_MESSAGE', `${fn}: the message is ${message.length} characters; at most ${MAX_MESSAGE}`);
  const o = (opts ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o))
    throw new NotifyError('BAD_MESSAGE', `${fn}: options must be an object like { title, priority, data }`);
  const unknown = Object.keys(o).filter((k) => !['title', 'priority', 'data'].includes(k));
  if (unknown.length)
    throw new NotifyError('BAD_MESSAGE', `${fn}: unknown option ${unknown[0]}; allowed: title, priority, data`);
  if (o.title !== undefined && (typeof o.title !== 'string' || o.title.length > MAX_TITLE))
    throw new NotifyError('BAD_MESSAGE', `${fn}: title must be a string of at most ${MAX_TITLE} characters`);
  let priority: Priority = 'default';
  if (o.priority !== undefined) {
    const p = typeof o.priority === 'number' ? NUMERIC[o.priority] : (o.priority as Priority);
    if (!PRIORITIES.includes(p as Priority))
      throw new NotifyError(
        'BAD_MESSAGE',
        `${fn}: priority must be one of ${PRIORITIES.join(', ')} (or 1-5), got ${JSON.stringify(o.priority)}`,
      );
    priority = p;
  }
  if (o.data !== undefined && JSON.stringify(o.data).length > MAX_DATA)
    throw new NotifyError('BAD_MESSAGE', `${fn}: data is larger than ${MAX_DATA / 1024} KiB as JSON`);
  return { message, title: o.title as string | undefined, priority, data: o.data };
}
