// The guest side of Notify.send, and e154's notifr.newMessage()/send(msg) and template.render: the
// hub keeps each notification in its outbox until the target (declared in smart-home.yaml, named
// here) accepted it; the promise settles then.
import { call, callAsync, callStack, describe } from './core.js';

export const Notify = Object.freeze({
  send(target: unknown, message: unknown, opts?: unknown) {
    if (typeof target !== 'string' || target === '')
      throw new TypeError(
        `Notify.send: target must be the name of a target in notify.targets, got ${describe(target)}`,
      );
    if (typeof message !== 'string')
      throw new TypeError(`Notify.send: message must be a string, got ${describe(message)}`);
    if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts)))
      throw new TypeError(
        `Notify.send: options must be an object like { title, priority, data }, got ${describe(opts)}`,
      );
    return callAsync('Notify.send', 'notify.send', [target, message, opts ?? {}, callStack()]);
  },
});

interface E154Message {
  from: string;
  type: string;
  entity_id: string;
  attributes: Record<string, unknown>;
}

/** e154's message names its target by entity_id ("telegram.family") or type ("telegram"). */
function targetOf(m: E154Message): string {
  const id = typeof m.entity_id === 'string' ? m.entity_id : '';
  return id || (typeof m.type === 'string' ? m.type : '');
}

export const notifr = Object.freeze({
  newMessage(): E154Message {
    return { from: '', type: '', entity_id: '', attributes: {} };
  },
  send(msg: unknown) {
    if (!msg || typeof msg !== 'object')
      throw new TypeError(`notifr.send: expects a message from notifr.newMessage(), got ${describe(msg)}`);
    const m = msg as E154Message;
    const a = (m.attributes && typeof m.attributes === 'object' ? m.attributes : {}) as Record<string, unknown>;
    const body = a.body ?? a.text ?? a.message;
    const title = a.title ?? a.subject;
    return callAsync('notifr.send', 'notify.send', [
      'e154:' + targetOf(m),
      typeof body === 'string' ? body : body === undefined ? '' : String(body),
      title === undefined ? {} : { title: String(title) },
      callStack(),
    ]);
  },
});

export const template = Object.freeze({
  render(name: unknown, params?: unknown): string {
    if (typeof name !== 'string')
      throw new TypeError(`template.render: name must be a template's name in notify.templates, got ${describe(name)}`);
    return call('notify.render', name, params ?? {}) as string;
  },
});
