// The Smart Home web UI: log in, then scripts, MQTT explorer, entities, automations, notifications, clients.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf, type Session } from './api.js';
import { ScriptsPage } from './pages/scripts.js';
import { ExplorerPage } from './pages/explorer.js';
import { EntitiesPage } from './pages/entities.js';
import { HomePage } from './pages/home.js';
import { EntityPage } from './pages/entity.js';
import { DevicePage } from './pages/device.js';
import { AutomationsPage } from './pages/automations.js';
import { ClientsPage } from './pages/clients.js';
import { NotificationsPage } from './pages/notifications.js';

const PAGES = {
  home: ['Home', HomePage],
  entities: ['Devices', EntitiesPage],
  scripts: ['Scripts', ScriptsPage],
  explorer: ['MQTT explorer', ExplorerPage],
  automations: ['Automations', AutomationsPage],
  notifications: ['Notifications', NotificationsPage],
  clients: ['Clients', ClientsPage],
} as const;
type Page = keyof typeof PAGES | 'entity' | 'device';

const pageFromHash = (): Page => {
  const p = location.hash.replace(/^#\/?/, '').split('/')[0] as Page;
  return p in PAGES || p === 'entity' || p === 'device' ? p : 'home';
};
/** `#/entity/light.hall` -> light.hall, `#/device/zigbee2mqtt:0x...` -> zigbee2mqtt:0x... */
const idFromHash = () => decodeURIComponent(location.hash.replace(/^#\/?(entity|device)\//, ''));

function Login({ onDone }: { onDone: (s: Session) => void }) {
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    try {
      const r = await api<{ user: string; admin: boolean; csrf: string }>('POST', '/api/login', {
        username: form.get('username'),
        password: form.get('password'),
      });
      onDone({ user: r.user, admin: r.admin, csrf: r.csrf, loginRequired: true });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="login" onSubmit={submit}>
      <h1>Smart Home</h1>
      <label>
        User <input name="username" autocomplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autocomplete="current-password" required />
      </label>
      <button type="submit">Log in</button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [page, setPage] = useState<Page>(pageFromHash());
  // the whole hash: going from one entity's page to another's is a change too
  const [, setHash] = useState(location.hash);
  const [menu, setMenu] = useState(false);
  const load = () =>
    api<Session>('GET', '/api/session')
      .then((s) => {
        setCsrf(s.csrf);
        setSession(s);
      })
      .catch(() => setSession({ user: null, admin: false, csrf: null, loginRequired: true }));
  useEffect(() => {
    void load();
    const onHash = () => {
      setPage(pageFromHash());
      setHash(location.hash);
    };
    const onOut = () => setSession((s) => (s && s.loginRequired ? { ...s, user: null } : s));
    window.addEventListener('hashchange', onHash);
    window.addEventListener('smart-home:logged-out', onOut);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener('smart-home:logged-out', onOut);
    };
  }, []);
  if (!session) return <p class="loading">Loading…</p>;
  if (session.loginRequired && !session.user)
    return (
      <Login
        onDone={(s) => {
          setCsrf(s.csrf);
          setSession(s);
        }}
      />
    );
  const logout = async () => {
    await api('POST', '/api/logout').catch(() => {});
    setCsrf(null);
    await load();
  };
  // an element, not a component made anew each render (that would remount the page every time)
  const Page = page === 'entity' || page === 'device' ? null : PAGES[page][1];
  const current =
    page === 'entity' ? (
      <EntityPage key={idFromHash()} id={idFromHash()} />
    ) : page === 'device' ? (
      <DevicePage key={idFromHash()} id={idFromHash()} />
    ) : (
      Page && <Page />
    );
  return (
    <div class="app">
      <header>
        <strong>Smart Home</strong>
        <button class="menu-button" aria-expanded={menu} aria-label="Menu" onClick={() => setMenu(!menu)}>
          ☰
        </button>
        <nav class={menu ? 'open' : ''} onClick={() => setMenu(false)}>
          {(Object.keys(PAGES) as (keyof typeof PAGES)[]).map((p) => (
            <a
              href={`#/${p}`}
              class={
                p === page || (p === 'home' && page === 'entity') || (p === 'entities' && page === 'device')
                  ? 'active'
                  : ''
              }
            >
              {PAGES[p][0]}
            </a>
          ))}
        </nav>
        <span class="who">
          <a href="/api/docs" target="_blank">
            API docs
          </a>
          {session.user && (
            <>
              {' '}
              · {session.user}
              {session.admin ? ' (admin)' : ''}
            </>
          )}
          {session.loginRequired && ' '}
          {session.loginRequired && (
            <button class="link" onClick={logout}>
              Log out
            </button>
          )}
        </span>
      </header>
      <main>{current}</main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
// installable as an app on a phone's home screen; the page works the same without it
if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js').catch(() => {});
