// The host side of Notify.send and e154's template.render: a target is named, never its token
// (scripts never see a secret); the notification is traced with the script and line that sent it.
import type { NamedError } from '../sandbox.js';

/** What scripts may do with notifications; implemented by src/notify/notifier.ts. */
export interface NotifyAccess {
  send(target: unknown, message: unknown, opts: unknown, source: string): { id: number; done: Promise<unknown> };
  render(name: unknown, params: unknown): string;
}

function named(err: unknown): NamedError {
  const e = err as { name?: string; code?: string; message?: string };
  return { name: 'NotifyError', code: e.code ?? 'ERROR', message: e.message ?? String(err) };
}

export function notifyCalls(notify: NotifyAccess | undefined, where: (stack: string) => string) {
  const need = (fn: string): NotifyAccess => {
    if (!notify)
      throw { name: 'NotifyError', code: 'UNAVAILABLE', message: `${fn} is not available in this run (no hub)` };
    return notify;
  };
  return {
    sync: {
      'notify.render': ([name, params]: unknown[]) => {
        try {
          return need('template.render').render(name, params);
        } catch (err) {
          throw new TypeError(named(err).message);
        }
      },
    },
    async: {
      'notify.send': async ([target, message, opts, stack]: unknown[]) => {
        let queued: { id: number; done: Promise<unknown> };
        try {
          queued = need('Notify.send').send(target, message, opts, where(String(stack ?? '')));
        } catch (err) {
          throw named(err);
        }
        try {
          return await queued.done;
        } catch (err) {
          throw named(err);
        }
      },
    },
  };
}
