// Scripts: list, editor with diagnostics as you type, save (stored even with errors), run, live log.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, live, ApiFailure } from '../api.js';
// CodeMirror is loaded with this page only (a chunk of its own), not with the dashboard
import type { ScriptEditor, Diagnostic } from '../editor.js';
import { DryRun } from './dry-run.js';

interface ScriptFile {
  name: string;
  language: string;
  active: boolean;
  kind: string;
  diagnostics: Diagnostic[];
}
interface LogLine {
  script: string;
  level: string;
  message: string;
  time: number;
}

const TEMPLATE =
  "// Runs when saved. See the script API: Mqtt, Entity, Storage, console.\nMqtt.publish('smart-home/hello', 'world');\n";

export function ScriptsPage() {
  const [scripts, setScripts] = useState<ScriptFile[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [status, setStatus] = useState('');
  const [dirty, setDirty] = useState(false);
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<ScriptEditor | null>(null);
  const currentRef = useRef<string | null>(null);
  currentRef.current = current;

  const refresh = () => api<ScriptFile[]>('GET', '/api/scripts').then(setScripts);
  useEffect(() => {
    void refresh();
    return live(['logs'], (e) => {
      if (e.data.script === currentRef.current) setLogs((l) => [...l.slice(-199), e.data]);
    });
  }, []);

  const open = async (name: string) => {
    const s = await api<ScriptFile & { source: string }>('GET', `/api/scripts/${encodeURIComponent(name)}`).catch(
      () => ({ name, source: TEMPLATE, diagnostics: [] as Diagnostic[] }) as ScriptFile & { source: string },
    );
    setCurrent(name);
    setLogs(await api<LogLine[]>('GET', `/api/scripts/${encodeURIComponent(name)}/logs`).catch(() => []));
    setStatus('');
    if (!editor.current) {
      const { ScriptEditor } = await import('../editor.js');
      editor.current = new ScriptEditor(host.current!, name, s.source, () => setDirty(true));
      editor.current.onDiagnostics = setDiagnostics;
    } else editor.current.reset(name, s.source);
    editor.current.show(s.diagnostics ?? []);
    setDirty(false);
  };

  const save = async (run: boolean) => {
    if (!current || !editor.current) return;
    try {
      let s = await api<ScriptFile>('PUT', `/api/scripts/${encodeURIComponent(current)}`, {
        source: editor.current.text,
      });
      if (run && s.diagnostics.length === 0 && !s.active && s.kind === 'script')
        s = await api<ScriptFile>('POST', `/api/scripts/${encodeURIComponent(current)}/run`);
      setDirty(false);
      // a top-level runtime error is reported a moment after the script starts
      await new Promise((r) => setTimeout(r, 150));
      const now = await api<ScriptFile>('GET', `/api/scripts/${encodeURIComponent(current)}`);
      editor.current.show(now.diagnostics);
      setStatus(
        now.diagnostics.length > 0
          ? `saved, not running: ${now.diagnostics.length} error(s)`
          : now.active
            ? 'saved and running'
            : 'saved',
      );
      await refresh();
    } catch (err) {
      setStatus((err as Error).message);
    }
  };

  const create = async (e: Event) => {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('name') as HTMLInputElement;
    const name = /\.(js|ts|coffee)$/.test(input.value) ? input.value : `${input.value}.js`;
    try {
      await api('POST', '/api/scripts/check', { name, source: '' });
      input.value = '';
      await open(name);
    } catch (err) {
      setStatus(err instanceof ApiFailure ? err.message : String(err));
    }
  };

  const remove = async () => {
    if (!current || !confirm(`Delete ${current}?`)) return;
    await api('DELETE', `/api/scripts/${encodeURIComponent(current)}`);
    setCurrent(null);
    await refresh();
  };

  const jump = (d: Diagnostic) => {
    const view = editor.current?.view;
    if (!view) return;
    const line = view.state.doc.line(Math.min(d.line, view.state.doc.lines));
    view.dispatch({ selection: { anchor: Math.min(line.from + d.col - 1, line.to) }, scrollIntoView: true });
    view.focus();
  };

  return (
    <div class="split">
      <aside>
        <form onSubmit={create} class="row">
          <input name="name" placeholder="new-script.js" aria-label="new script name" required />
          <button type="submit">New</button>
        </form>
        <ul class="list">
          {scripts.map((s) => (
            <li class={s.name === current ? 'selected' : ''} onClick={() => void open(s.name)}>
              <span>{s.name}</span>
              <span class={`badge ${s.diagnostics.length ? 'bad' : s.active ? 'ok' : ''}`}>
                {s.diagnostics.length
                  ? `${s.diagnostics.length} error`
                  : s.kind === 'action'
                    ? 'action'
                    : s.active
                      ? 'running'
                      : 'stopped'}
              </span>
            </li>
          ))}
        </ul>
      </aside>
      <section class="editor-pane" style={{ display: current ? '' : 'none' }}>
        <div class="row toolbar">
          <strong class="script-name">
            {current}
            {dirty ? ' •' : ''}
          </strong>
          <button onClick={() => void save(false)}>Save</button>
          <button onClick={() => void save(true)} class="primary">
            Save &amp; run
          </button>
          <button onClick={() => void remove()} class="danger">
            Delete
          </button>
          <span class="status" role="status">
            {status}
          </span>
        </div>
        <div ref={host} class="editor" />
        <ul class="diagnostics">
          {diagnostics.map((d) => (
            <li class="error" onClick={() => jump(d)}>
              <code>
                {current}:{d.line}:{d.col}
              </code>{' '}
              {d.message}
            </li>
          ))}
        </ul>
        {current && /\.(js|ts|coffee)$/.test(current) && !current.includes('/') && (
          <DryRun request={{ script: current }} key={current} />
        )}
        <h3>Log</h3>
        <pre class="log">
          {logs.map((l) => `${new Date(l.time).toLocaleTimeString()} [${l.level}] ${l.message}\n`).join('')}
        </pre>
      </section>
      {!current && <section class="empty">Pick a script or create one.</section>}
    </div>
  );
}
