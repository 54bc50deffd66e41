// A small HTTP client for API tests: JSON in and out, a cookie jar, the CSRF header once logged in.
import WebSocket from 'ws';
import type { TestHub } from '../helpers.js';

export interface Reply<T = any> {
  status: number;
  body: { status: string; data: T; error?: { code: string; message: string; field?: string } };
  headers: Headers;
}

export class ApiClient {
  cookie = '';
  csrf = '';
  constructor(
    readonly base: string,
    public authorization = '',
  ) {}

  static of(t: TestHub): ApiClient {
    return new ApiClient(t.hub.api!.url);
  }

  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && method !== 'GET') h['x-csrf-token'] = this.csrf;
    if (this.authorization) h.authorization = this.authorization;
    const res = await fetch(this.base + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    const text = await res.text();
    let parsed: Reply<T>['body'];
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { status: 'text', data: text as T };
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.call<T>('POST', path, body);
  }
  put<T = any>(path: string, body?: unknown) {
    return this.call<T>('PUT', path, body);
  }
  del<T = any>(path: string) {
    return this.call<T>('DELETE', path);
  }

  async login(username: string, password: string): Promise<Reply> {
    const r = await this.post('/api/login', { username, password });
    if (r.status === 200) this.csrf = r.body.data.csrf;
    return r;
  }

  /** Opens /api/events with this client's credentials and subscribes; events are collected. */
  async events(
    streams: string[],
    filter = '#',
    headers: Record<string, string> = {},
  ): Promise<{ events: any[]; ws: WebSocket; next(pred: (e: any) => boolean, timeoutMs?: number): Promise<any> }> {
    const ws = new WebSocket(this.base.replace(/^http/, 'ws') + '/api/events', {
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(this.authorization ? { authorization: this.authorization } : {}),
        ...headers,
      },
    });
    const events: any[] = [];
    const waiters = new Set<() => void>();
    ws.on('message', (m) => {
      events.push(JSON.parse(String(m)));
      for (const w of waiters) w();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    ws.send(JSON.stringify({ id: 7, command: 'subscribe', streams, filter }));
    const next = (pred: (e: any) => boolean, timeoutMs = 5000) =>
      new Promise<any>((resolve, reject) => {
        const check = () => {
          const e = events.find(pred);
          if (e) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(e);
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event in ${JSON.stringify(events).slice(0, 500)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    await next((e) => e.id === 7);
    return { events, ws, next };
  }
}
