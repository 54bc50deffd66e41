// HTTP from scripts, run by the host: only to hosts the config allows (scripts.http.allow), never
// to a private, loopback or link-local address unless that address (or its range) is listed
// itself. The address is checked where the connection is made (node:http's lookup), so a name
// that resolves to 10.0.0.1 on the second lookup is refused too. Timeouts, a response size cap,
// redirects followed only to allowed hosts, and each request in the script's log with its line.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface HttpLimits {
  /** Host names ("api.example.com", "*.example.com"), addresses and CIDR ranges ("192.168.1.0/24"). */
  allow: string[];
  timeout_ms: number;
  max_timeout_ms: number;
  max_response_kb: number;
  max_redirects: number;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it is. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function isPrivateAddress(address: string): boolean {
  const a = unmapped(address);
  return PRIVATE.check(a, family(a));
}

/** The allow-list, compiled: names (with "*." wildcards) and a BlockList of listed addresses. */
export class AllowList {
  private readonly names: string[] = [];
  private readonly suffixes: string[] = [];
  private readonly addresses = new BlockList();
  private hasAddresses = false;

  constructor(readonly entries: string[]) {
    for (const raw of entries) {
      const e = raw.trim().toLowerCase();
      const cidr = /^([0-9a-f.:]+)\/(\d{1,3})$/i.exec(e);
      if (cidr && isIP(cidr[1]!)) {
        this.addresses.addSubnet(cidr[1]!, Number(cidr[2]), family(cidr[1]!));
        this.hasAddresses = true;
      } else if (isIP(e.replace(/^\[|\]$/g, ''))) {
        const a = e.replace(/^\[|\]$/g, '');
        this.addresses.addAddress(a, family(a));
        this.names.push(a);
        this.hasAddresses = true;
      } else if (e.startsWith('*.')) this.suffixes.push(e.slice(1));
      else this.names.push(e);
    }
  }

  /** The URL's host may be asked for. */
  hostAllowed(host: string): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    if (this.names.includes(h) || this.suffixes.some((s) => h.endsWith(s))) return true;
    return isIP(h) !== 0 && this.addressListed(h);
  }

  /** A private address is connected to only when it (or its range) is listed itself. */
  addressListed(address: string): boolean {
    const a = unmapped(address);
    return this.hasAddresses && this.addresses.check(a, family(a));
  }
}

/** Headers that frame the request on the wire: the hub sets them (a script's could smuggle a second request). */
const HOP_BY_HOP = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
]);

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

/** The script's arguments, checked: what the guest sent is not trusted. */
export function checkRequest(fn: string, limits: HttpLimits, maxBody: number, args: unknown): HttpRequest {
  const a = (args && typeof args === 'object' ? args : {}) as Record<string, unknown>;
  const method = typeof a.method === 'string' ? a.method.toUpperCase() : 'GET';
  if (!METHODS.has(method))
    throw new TypeError(`${fn}: method must be one of ${[...METHODS].join(', ')}, got ${JSON.stringify(a.method)}`);
  if (typeof a.url !== 'string') throw new TypeError(`${fn}: url must be a string like "https://api.example.com/x"`);
  let url: URL;
  try {
    url = new URL(a.url);
  } catch {
    throw new TypeError(`${fn}: "${a.url}" is not a URL (it needs http:// or https:// and a host)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`${fn}: only http:// and https:// URLs, got ${url.protocol}//`);
  if (url.username || url.password)
    throw new TypeError(`${fn}: put credentials in an Authorization header, not in the URL`);
  const headers: Record<string, string> = {};
  if (a.headers !== undefined && a.headers !== null) {
    if (typeof a.headers !== 'object' || Array.isArray(a.headers))
      throw new TypeError(`${fn}: headers must be an object of strings, like {"Accept": "application/json"}`);
    for (const [k, v] of Object.entries(a.headers as Record<string, unknown>)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new TypeError(`${fn}: "${k}" is not a header name`);
      if (HOP_BY_HOP.has(k.toLowerCase()))
        throw new TypeError(`${fn}: header ${k} is set by the hub (it frames the request), not by a script`);
      if (typeof v !== 'string' && typeof v !== 'number')
        throw new TypeError(`${fn}: header ${k} must be a string, got ${v === null ? 'null' : typeof v}`);
      const value = String(v);
      if (/[\r\n\0]/.test(value)) throw new TypeError(`${fn}: header ${k} has a line break in it`);
      headers[k.toLowerCase()] = value;
    }
  }
  let body: Buffer | undefined;
  if (a.body !== undefined && a.body !== null) {
    if (typeof a.body === 'string') body = Buffer.from(a.body, 'utf8');
    else if (Array.isArray(a.body)) body = Buffer.from(a.body as number[]);
    else {
      body = Buffer.from(JSON.stringify(a.body), 'utf8');
      headers['content-type'] ??= 'application/json';
    }
    if (body.length > maxBody)
      throw new RangeError(`${fn}: the body is ${body.length} bytes; at most ${maxBody} (scripts.max_payload_kb)`);
  }
  let timeoutMs = limits.timeout_ms;
  if (a.timeout !== undefined) {
    if (typeof a.timeout !== 'number' || !(a.timeout > 0))
      throw new TypeError(`${fn}: timeout must be a number of milliseconds, got ${JSON.stringify(a.timeout)}`);
    timeoutMs = Math.min(a.timeout, limits.max_timeout_ms);
  }
  return { method, url: url.href, headers, body, timeoutMs };
}

/** A lookup that refuses, at connect time, every private address the allow-list does not name. */
function guardedLookup(allow: AllowList, host: string): LookupFunction {
  return ((hostname: string, options: object, callback: (...a: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const list = addresses as LookupAddress[];
      const usable = list.filter((a) => !isPrivateAddress(a.address) || allow.addressListed(a.address));
      if (usable.length === 0)
        return callback(
          new HttpError(
            'PRIVATE_ADDRESS',
            `${host} resolves to ${list.map((a) => a.address).join(', ')}, a private address; add the address or its range (e.g. "${list[0]?.address}") to scripts.http.allow to reach it`,
          ),
        );
      if ((options as { all?: boolean }).all) callback(null, usable);
      else callback(null, usable[0]!.address, usable[0]!.family);
    });
  }) as LookupFunction;
}

/** One request (redirects followed to allowed hosts only); the body is cut off past the cap. */
export async function httpRequest(limits: HttpLimits, allow: AllowList, req: HttpRequest): Promise<HttpResponse> {
  let url = new URL(req.url);
  let { method, body } = req;
  const deadline = Date.now() + req.timeoutMs;
  for (let hop = 0; ; hop++) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!allow.hostAllowed(host))
      throw new HttpError(
        'HOST_NOT_ALLOWED',
        `${host} is not in scripts.http.allow${hop > 0 ? ` (a redirect from ${req.url} went there)` : ''}; add "${host}" to it to let scripts reach it`,
      );
    if (isIP(host) && isPrivateAddress(host) && !allow.addressListed(host))
      throw new HttpError('PRIVATE_ADDRESS', `${host} is a private address; list it in scripts.http.allow`);
    const res = await once(url, method, req.headers, body, deadline - Date.now(), req.timeoutMs, limits, allow, host);
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location && method !== 'HEAD') {
      if (hop >= limits.max_redirects)
        throw new HttpError('TOO_MANY_REDIRECTS', `more than ${limits.max_redirects} redirects from ${req.url}`);
      url = new URL(location, url);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    return res;
  }
}

function once(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
  timeoutAsked: number,
  limits: HttpLimits,
  allow: AllowList,
  host: string,
): Promise<HttpResponse> {
  const late = () => new HttpError('TIMEOUT', `no answer from ${host} within ${timeoutAsked} ms`);
  const max = limits.max_response_kb * 1024;
  return new Promise((resolve, reject) => {
    if (timeoutMs <= 0) return reject(late());
    const lib = url.protocol === 'https:' ? https : http;
    const r = lib.request(
      url,
      {
        method,
        headers: { 'user-agent': 'smart-home', ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        lookup: guardedLookup(allow, host),
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            r.destroy(
              new HttpError(
                'RESPONSE_TOO_LARGE',
                `the answer from ${host} is larger than ${limits.max_response_kb} KiB (scripts.http.max_response_kb)`,
              ),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            url: url.href,
            headers: out,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => r.destroy(late()), timeoutMs);
    r.on('close', () => clearTimeout(timer));
    r.on('timeout', () => r.destroy(late()));
    r.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(err instanceof HttpError ? err : new HttpError(err.code ?? 'NETWORK', `${host}: ${err.message}`));
    });
    r.end(body);
  });
}

/** The host calls behind http.get/post/put/delete and Http.request. */
export function httpCalls(limits: HttpLimits, maxBody: number, trace: (line: string, stack: string) => void) {
  const allow = new AllowList(limits.allow);
  return {
    'http.request': async ([args, stack]: unknown[]) => {
      const fn = `http.${String((args as { method?: unknown })?.method ?? 'get').toLowerCase()}`;
      const req = checkRequest(fn, limits, maxBody, args);
      const started = Date.now();
      const where = `${req.method} ${redactQuery(req.url)}`;
      try {
        const res = await httpRequest(limits, allow, req);
        trace(`${where} -> ${res.status} in ${Date.now() - started} ms`, String(stack ?? ''));
        return res;
      } catch (err) {
        const e = err as HttpError;
        trace(`${where} failed: ${e.message}`, String(stack ?? ''));
        throw { name: 'HttpError', code: e.code ?? 'NETWORK', message: `${fn}: ${e.message}` };
      }
    },
  };
}

/** A URL as the trace shows it: the query string's values are not written down. */
function redactQuery(href: string): string {
  const u = new URL(href);
  for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, '…');
  return u.href;
}
