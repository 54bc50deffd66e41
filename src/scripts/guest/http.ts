// The guest side of http.get/post/put/delete and Http.request: the host makes the request (only to
// hosts scripts.http.allow lists) and the promise settles with the answer.
import { callAsync, callStack, describe } from './core.js';

export interface HttpOptions {
  headers?: Record<string, string>;
  body?: unknown;
  timeout?: number;
}

interface Wire {
  status: number;
  statusText: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function response(w: Wire) {
  return Object.freeze({
    status: w.status,
    statusText: w.statusText,
    ok: w.status >= 200 && w.status < 300,
    url: w.url,
    headers: Object.freeze(w.headers),
    body: w.body,
    text: () => w.body,
    json: () => JSON.parse(w.body),
  });
}

function request(method: string, url: unknown, opts?: unknown) {
  const fn = `http.${method.toLowerCase()}`;
  if (typeof url !== 'string') throw new TypeError(`${fn}: url must be a string, got ${describe(url)}`);
  if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts)))
    throw new TypeError(`${fn}: options must be an object like { headers, body, timeout }, got ${describe(opts)}`);
  const o = (opts || {}) as HttpOptions;
  const body = o.body instanceof Uint8Array ? Array.from(o.body) : o.body;
  return callAsync(fn, 'http.request', [
    { method, url, headers: o.headers, body, timeout: o.timeout },
    callStack(),
  ]).then((w) => response(w as Wire));
}

export const http = Object.freeze({
  get: (url: unknown, opts?: unknown) => request('GET', url, opts),
  post: (url: unknown, opts?: unknown) => request('POST', url, opts),
  put: (url: unknown, opts?: unknown) => request('PUT', url, opts),
  delete: (url: unknown, opts?: unknown) => request('DELETE', url, opts),
});

/** fetch-like: Http.request(url, { method, headers, body, timeout }). */
export const Http = Object.freeze({
  request(url: unknown, opts?: unknown) {
    const o = (opts && typeof opts === 'object' ? opts : {}) as { method?: unknown };
    const method = o.method === undefined ? 'GET' : o.method;
    if (typeof method !== 'string')
      throw new TypeError(`Http.request: method must be a string like "POST", got ${describe(method)}`);
    return request(method.toUpperCase(), url, opts);
  },
});
