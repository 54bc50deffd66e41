// The API from the browser: one fetch wrapper (session cookie + CSRF header, the reply envelope)
// and the live event stream with reconnection.
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
export const setCsrf = (token: string | null) => {
  csrf = token;
};

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const reply = await res
    .json()
    .catch(() => ({ status: 'error', error: { code: 'BAD_REPLY', message: `${res.status} ${res.statusText}` } }));
  if (reply.status !== 'ok') {
    if (res.status === 401) window.dispatchEvent(new Event('smart-home:logged-out'));
    throw new ApiFailure(
      res.status,
      reply.error?.code ?? 'ERROR',
      reply.error?.message ?? res.statusText,
      reply.error?.field,
    );
  }
  return reply.data as T;
}

export interface Session {
  user: string | null;
  admin: boolean;
  csrf: string | null;
  loginRequired: boolean;
}

export type Stream = 'mqtt' | 'logs' | 'entities' | 'automations';
export interface LiveEvent {
  stream: Stream;
  data: any;
  dropped?: number;
}

/**
 * Subscribes to live events; reconnects after a drop. `onReady` runs each time the hub confirms the
 * subscription (first and after every reconnect): what changed before that was not sent, so a page
 * loads again there. Returns the function that closes it.
 */
export function live(
  streams: Stream[],
  onEvent: (e: LiveEvent) => void,
  filter = '#',
  onReady?: () => void,
): () => void {
  let ws: WebSocket | undefined;
  let closed = false;
  let retry: number | undefined;
  const open = () => {
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events`);
    ws.onopen = () => ws!.send(JSON.stringify({ id: 1, command: 'subscribe', streams, filter }));
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.stream) onEvent(e);
      else if (e.id === 1 && e.status === 'ok') onReady?.();
    };
    ws.onclose = () => {
      if (!closed) retry = window.setTimeout(open, 1000);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(retry);
    ws?.close();
  };
}

/**
 * For a page that loads again on every live event: `fresh(api(...))` resolves only for the newest
 * load, so an older answer that arrives late never replaces a newer one (it stays pending).
 */
export function newest(): <T>(answer: Promise<T>) => Promise<T> {
  let n = 0;
  return <T>(answer: Promise<T>) => {
    const mine = ++n;
    return answer.then((v) => (mine === n ? v : new Promise<T>(() => {})));
  };
}

/** "script.js:12" for a script, the automation step or "api:alice" otherwise. */
export function provenance(source?: { script: string; line?: number; col?: number }): string {
  if (!source) return '';
  const name = source.script.includes('/scripts/')
    ? source.script.slice(source.script.lastIndexOf('/') + 1)
    : source.script.replace(/^.*\/(automations\.yaml)/, '$1');
  return source.line ? `${name}:${source.line}` : name;
}
