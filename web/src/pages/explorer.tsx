// MQTT explorer: topic tree with last value and retained flag, live messages, payload as
// text / pretty JSON / hex, who published each message (script and line, automation, API),
// a publish form, a filter over the topic tree and a button that clears a retained message.
// The hub keeps the tree from the first time the explorer is opened, for as long as it runs.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, live, provenance } from '../api.js';

interface Message {
  topic: string;
  payload: string;
  encoding: 'utf8' | 'base64';
  json?: unknown;
  qos: number;
  retain: boolean;
  time: number;
  size: number;
  source?: { script: string; line?: number; col?: number };
}
interface Node {
  name: string;
  path: string;
  children: Map<string, Node>;
  message?: Message;
}

function tree(messages: Map<string, Message>): Node {
  const root: Node = { name: '', path: '', children: new Map() };
  for (const m of [...messages.values()].sort((a, b) => a.topic.localeCompare(b.topic))) {
    let n = root;
    for (const level of m.topic.split('/')) {
      const path = n.path ? `${n.path}/${level}` : level;
      if (!n.children.has(level)) n.children.set(level, { name: level, path, children: new Map() });
      n = n.children.get(level)!;
    }
    n.message = m;
  }
  return root;
}

/** Does `topic` match what was typed: an MQTT filter (with + or #) or, otherwise, any part of it? */
export function topicMatches(typed: string, topic: string): boolean {
  const f = typed.trim();
  if (!f) return true;
  if (!/[+#]/.test(f)) return topic.toLowerCase().includes(f.toLowerCase());
  const fl = f.split('/');
  const tl = topic.split('/');
  for (let i = 0; i < fl.length; i++) {
    if (fl[i] === '#') return true;
    if (i >= tl.length) return false;
    if (fl[i] !== '+' && fl[i] !== tl[i]) return false;
  }
  return fl.length === tl.length;
}

const bytesOf = (m: Message) =>
  m.encoding === 'base64'
    ? Uint8Array.from(atob(m.payload), (c) => c.charCodeAt(0))
    : new TextEncoder().encode(m.payload);
const hex = (b: Uint8Array) =>
  [...b].map((x, i) => x.toString(16).padStart(2, '0') + ((i + 1) % 16 === 0 ? '\n' : ' ')).join('');
const short = (m: Message) =>
  m.encoding === 'base64'
    ? `<${m.size} bytes binary>`
    : m.payload.length > 60
      ? `${m.payload.slice(0, 60)}…`
      : m.payload;

function TreeNode({
  node,
  selected,
  onSelect,
}: {
  node: Node;
  selected: string | null;
  onSelect: (t: string) => void;
}) {
  const m = node.message;
  return (
    <li>
      <div
        class={`topic ${selected === node.path && m ? 'selected' : ''}`}
        data-topic={node.path}
        onClick={() => m && onSelect(node.path)}
      >
        <span class="level">{node.name}</span>
        {m && (
          <>
            {' '}
            <span class="value">= {short(m)}</span>
            {m.retain && (
              <span class="badge" title="retained">
                R
              </span>
            )}
            {m.source && (
              <span class="source" title="published by">
                {provenance(m.source)}
              </span>
            )}
          </>
        )}
      </div>
      {node.children.size > 0 && (
        <ul>
          {[...node.children.values()].map((c) => (
            <TreeNode node={c} selected={selected} onSelect={onSelect} />
          ))}
        </ul>
      )}
    </li>
  );
}

interface Listeners {
  automations: {
    automation: string;
    step: string;
    filter: string;
    enabled: boolean;
    lastMiss?: { time: number; reason: string };
  }[];
  scripts: { script: string; filter: string; retained: string }[];
}

export function ExplorerPage() {
  const [messages, setMessages] = useState(new Map<string, Message>());
  const [recent, setRecent] = useState<Message[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [view, setView] = useState<'text' | 'json' | 'hex'>('text');
  const [status, setStatus] = useState('');
  const [filter, setFilter] = useState('');
  const pending = useRef<Message[]>([]);

  useEffect(() => {
    // batch renders: a busy bus sends hundreds of messages a second
    const flush = window.setInterval(() => {
      if (pending.current.length === 0) return;
      const batch = pending.current.splice(0);
      setMessages((old) => {
        const next = new Map(old);
        for (const m of batch) {
          if (m.retain && m.size === 0) next.delete(m.topic);
          else next.set(m.topic, m);
        }
        return next;
      });
      setRecent((r) => [...batch.reverse(), ...r].slice(0, 100));
    }, 100);
    const close = live(['mqtt'], (e) => pending.current.push(e.data));
    return () => {
      clearInterval(flush);
      close();
    };
  }, []);

  const shown = useMemo(
    () => (filter.trim() ? new Map([...messages].filter(([t]) => topicMatches(filter, t))) : messages),
    [messages, filter],
  );
  const root = useMemo(() => tree(shown), [shown]);
  const m = selected ? messages.get(selected) : undefined;
  const [listeners, setListeners] = useState<Listeners | null>(null);
  useEffect(() => {
    setListeners(null);
    if (selected)
      void api<Listeners>('GET', `/api/mqtt/listeners?topic=${encodeURIComponent(selected)}`).then(
        setListeners,
        () => {},
      );
  }, [selected, m?.time]);

  const publish = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    try {
      const r = await api<{ ackMs: number }>('POST', '/api/mqtt/publish', {
        topic: f.get('topic'),
        payload: f.get('payload'),
        qos: Number(f.get('qos')),
        retain: f.get('retain') === 'on',
      });
      setStatus(`published (${r.ackMs.toFixed(1)} ms)`);
    } catch (err) {
      setStatus((err as Error).message);
    }
  };

  const clearRetained = async (topic: string) => {
    if (
      !window.confirm(`Clear the retained message of ${topic} (if it has one)? New subscribers will no longer get it.`)
    )
      return;
    try {
      await api('DELETE', `/api/mqtt/retained?topic=${encodeURIComponent(topic)}`);
      setStatus(`retained message of ${topic} cleared`);
    } catch (err) {
      setStatus((err as Error).message);
    }
  };

  return (
    <div class="split">
      <aside class="tree">
        <h3>Topics ({filter.trim() ? `${shown.size} of ${messages.size}` : messages.size})</h3>
        <input
          type="search"
          class="filter"
          aria-label="filter topics"
          placeholder="filter: kitchen, or zigbee2mqtt/+/state"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <ul class="topics">
          {[...root.children.values()].map((c) => (
            <TreeNode node={c} selected={selected} onSelect={setSelected} />
          ))}
        </ul>
      </aside>
      <section>
        {m ? (
          <div class="message" data-topic={m.topic}>
            <h3>{m.topic}</h3>
            <p>
              QoS {m.qos}
              {m.retain ? ' · retained' : ''} · {m.size} bytes · {new Date(m.time).toLocaleTimeString()} · published by{' '}
              <strong class="provenance">{m.source ? provenance(m.source) : 'another client'}</strong>
            </p>
            <div class="row">
              {(['text', 'json', 'hex'] as const).map((v) => (
                <button class={view === v ? 'primary' : ''} onClick={() => setView(v)}>
                  {v}
                </button>
              ))}
              {/* (a retained message published while the explorer watches arrives without its flag, as MQTT 3.1.1 delivers it) */}
              <button
                class="danger"
                title="publish an empty retained message to this topic"
                onClick={() => void clearRetained(m.topic)}
              >
                Clear retained
              </button>
            </div>
            {listeners && (
              <div class="listeners">
                {listeners.automations.length + listeners.scripts.length === 0 ? (
                  <p class="meta">No automation or script looks at this topic.</p>
                ) : (
                  <>
                    <p class="meta">Looked at by:</p>
                    <ul>
                      {listeners.automations.map((a) => (
                        <li>
                          automation <a href="#/automations">{a.automation}</a> ({a.step}, {a.filter})
                          {!a.enabled && ' · disabled'}
                          {a.lastMiss && (
                            <span class="miss">
                              {' '}
                              · not run at {new Date(a.lastMiss.time).toLocaleTimeString()}: {a.lastMiss.reason}
                            </span>
                          )}
                        </li>
                      ))}
                      {listeners.scripts.map((s) => (
                        <li>
                          script <a href="#/scripts">{s.script}</a> ({s.filter}
                          {s.retained === 'ignore' ? ', not retained' : ''})
                        </li>
                      ))}
                    </ul>
                  </>
                )}
              </div>
            )}
            <pre class="payload">
              {view === 'hex'
                ? hex(bytesOf(m))
                : view === 'json'
                  ? m.json !== undefined
                    ? JSON.stringify(m.json, null, 2)
                    : 'not JSON'
                  : m.encoding === 'base64'
                    ? `(binary) ${m.payload}`
                    : m.payload}
            </pre>
          </div>
        ) : (
          <p class="empty">Pick a topic.</p>
        )}
        <h3>Publish</h3>
        <form class="publish" onSubmit={publish}>
          <input name="topic" placeholder="topic" aria-label="topic" required value={selected ?? ''} />
          <textarea name="payload" placeholder="payload" aria-label="payload" rows={3} />
          <label>
            QoS{' '}
            <select name="qos" aria-label="qos">
              <option>0</option>
              <option>1</option>
              <option>2</option>
            </select>
          </label>
          <label>
            <input type="checkbox" name="retain" /> retain
          </label>
          <button type="submit" class="primary">
            Publish
          </button>
          <span class="status" role="status">
            {status}
          </span>
        </form>
        <h3>Live</h3>
        <table class="live">
          <tbody>
            {recent.map((r) => (
              <tr>
                <td>{new Date(r.time).toLocaleTimeString()}</td>
                <td>{r.topic}</td>
                <td>{short(r)}</td>
                <td>{r.retain ? 'R' : ''}</td>
                <td>{provenance(r.source)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
