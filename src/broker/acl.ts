// Access control in Mosquitto's acl_file syntax:
//   topic [read|write|readwrite|deny] <topic>     rules for the user named by the last `user` line
//                                                 (before any `user` line: anonymous clients)
//   user <name>
//   pattern [read|write|readwrite|deny] <topic>   rules for every client; %u = username, %c = client id
// With no ACL configured everything is allowed. With one, what no rule grants is denied.
export type Access = 'read' | 'write' | 'readwrite' | 'deny';
interface Rule {
  access: Access;
  topic: string;
  pattern: boolean;
}

export class AclError extends Error {
  override name = 'AclError';
}

export class Acl {
  private constructor(
    private readonly anonymous: Rule[],
    private readonly users: Map<string, Rule[]>,
    private readonly patterns: Rule[],
  ) {}

  static parse(text: string, source: string): Acl {
    const anonymous: Rule[] = [];
    const users = new Map<string, Rule[]>();
    const patterns: Rule[] = [];
    let current = anonymous;
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const m = /^(\S+)\s+(.*)$/.exec(line);
      const where = `${source}:${i + 1}`;
      if (!m)
        throw new AclError(
          `${where}: cannot read "${line}": expected "user NAME", "topic [ACCESS] TOPIC" or "pattern [ACCESS] TOPIC"`,
        );
      const [, kw, rest] = m as unknown as [string, string, string];
      if (kw === 'user') {
        current = users.get(rest) ?? [];
        users.set(rest, current);
        return;
      }
      if (kw !== 'topic' && kw !== 'pattern')
        throw new AclError(`${where}: unknown keyword "${kw}": expected user, topic or pattern`);
      const am = /^(read|write|readwrite|deny)\s+(\S.*)$/.exec(rest);
      const access: Access = am ? (am[1] as Access) : 'readwrite';
      const topic = am ? am[2]! : rest;
      validateFilter(topic, where);
      (kw === 'pattern' ? patterns : current).push({ access, topic, pattern: kw === 'pattern' });
    });
    return new Acl(anonymous, users, patterns);
  }

  /** May this client publish to (write) or receive from (read) this concrete topic? */
  allowed(username: string | undefined, clientId: string, topic: string, want: 'read' | 'write'): boolean {
    const rules: Rule[] = username === undefined ? this.anonymous : (this.users.get(username) ?? []);
    const candidates: Rule[] = [
      ...rules,
      ...this.patterns.map((r) => ({ ...r, topic: expand(r.topic, username, clientId) })),
    ];
    let granted = false;
    for (const r of candidates) {
      if (r.topic === '' || !matches(r.topic, topic)) continue;
      if (r.access === 'deny') return false;
      if (r.access === 'readwrite' || r.access === want) granted = true;
    }
    return granted;
  }

  /** A subscription filter is allowed when reading its topics is: checked against the filter itself. */
  allowedFilter(username: string | undefined, clientId: string, filter: string): boolean {
    return this.allowed(username, clientId, filter, 'read');
  }
}

/** %u/%c expand only to values that cannot add topic levels or wildcards; otherwise the rule matches nothing. */
function expand(topic: string, username: string | undefined, clientId: string): string {
  const unsafe = (v: string) => /[/+#\0]/.test(v);
  if (topic.includes('%u') && (username === undefined || unsafe(username))) return '';
  if (topic.includes('%c') && unsafe(clientId)) return '';
  return topic.replaceAll('%u', username ?? '').replaceAll('%c', clientId);
}

function validateFilter(topic: string, where: string): void {
  const levels = topic.split('/');
  levels.forEach((l, i) => {
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1))
      throw new AclError(`${where}: "${topic}": "#" must be a whole last level`);
    if (l.includes('+') && l !== '+') throw new AclError(`${where}: "${topic}": "+" must be a whole level`);
  });
}

/**
 * Does ACL filter `rule` cover `topic`? `topic` may itself be a subscription filter: then a
 * wildcard in it is only covered by the same or a wider wildcard in the rule.
 */
export function matches(rule: string, topic: string): boolean {
  const r = rule.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics beginning with $
  if (t[0]!.startsWith('$') && (r[0] === '+' || r[0] === '#')) return false;
  for (let i = 0; i < r.length; i++) {
    if (r[i] === '#') return true;
    if (i >= t.length) return false;
    if (t[i] === '#') return false;
    if (r[i] === '+') continue;
    if (r[i] !== t[i]) return false;
  }
  return r.length === t.length;
}
