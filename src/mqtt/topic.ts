// Topic and filter rules (MQTT 3.1.1 section 4.7), with messages that say what is allowed.
export type TopicProblem = { kind: 'type' | 'range'; message: string };

/** Why `topic` cannot be published to, or undefined when it can. */
export function publishTopicProblem(topic: unknown): TopicProblem | undefined {
  if (typeof topic !== 'string') return { kind: 'type', message: `topic must be a string, got ${describe(topic)}` };
  if (topic.length === 0) return { kind: 'range', message: 'topic must not be empty [MQTT-4.7.3-1]' };
  if (topic.includes('+') || topic.includes('#'))
    return {
      kind: 'range',
      message: `topic "${topic}" must not contain the wildcards + or # when publishing [MQTT-3.3.2-2]`,
    };
  if (topic.includes('\0'))
    return { kind: 'range', message: 'topic must not contain the NUL character [MQTT-4.7.3-2]' };
  if (!isWellFormed(topic))
    return {
      kind: 'range',
      message:
        'topic must be well-formed UTF-8: it has a lone surrogate (\\ud800-\\udfff without its pair) [MQTT-1.5.3-1]',
    };
  if (topic.startsWith('$'))
    return { kind: 'range', message: `topic "${topic}" must not start with $ (reserved for the broker, e.g. $SYS)` };
  if (Buffer.byteLength(topic, 'utf8') > 65535)
    return { kind: 'range', message: 'topic must be at most 65535 bytes in UTF-8 [MQTT-4.7.3-3]' };
  return undefined;
}

/** Why `filter` cannot be subscribed to, or undefined when it can. */
export function filterProblem(filter: unknown): TopicProblem | undefined {
  if (typeof filter !== 'string')
    return { kind: 'type', message: `topic filter must be a string, got ${describe(filter)}` };
  if (filter.length === 0) return { kind: 'range', message: 'topic filter must not be empty [MQTT-4.7.3-1]' };
  if (filter.includes('\0'))
    return { kind: 'range', message: 'topic filter must not contain the NUL character [MQTT-4.7.3-2]' };
  if (!isWellFormed(filter))
    return { kind: 'range', message: 'topic filter must be well-formed UTF-8: it has a lone surrogate [MQTT-1.5.3-1]' };
  if (Buffer.byteLength(filter, 'utf8') > 65535)
    return { kind: 'range', message: 'topic filter must be at most 65535 bytes in UTF-8' };
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1))
      return {
        kind: 'range',
        message: `topic filter "${filter}": # must be a whole level and the last one [MQTT-4.7.1-2]`,
      };
    if (l.includes('+') && l !== '+')
      return { kind: 'range', message: `topic filter "${filter}": + must be a whole level [MQTT-4.7.1-3]` };
  }
  return undefined;
}

/** No lone UTF-16 surrogate (it cannot be encoded in UTF-8). String.prototype.isWellFormed is Node 20+. */
function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * The wildcard captures of `filter` for `topic`, or undefined when it does not match:
 * one entry per `+`, and the rest of the topic for `#`.
 */
export function capture(filter: string, topic: string): string[] | undefined {
  const f = filter.split('/');
  const t = topic.split('/');
  if (t[0]!.startsWith('$') && (f[0] === '+' || f[0] === '#')) return undefined; // [MQTT-4.7.2-1]
  const out: string[] = [];
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') {
      out.push(t.slice(i).join('/'));
      return out;
    }
    if (i >= t.length) return undefined;
    if (f[i] === '+') out.push(t[i]!);
    else if (f[i] !== t[i]) return undefined;
  }
  return f.length === t.length ? out : undefined;
}

/** A broker URL fit for logs and replies: a password in it (mqtt://user:secret@host) is hidden. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}
