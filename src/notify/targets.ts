// One notification to one target, in the target's own API format. Each throws a DeliveryFailure
// saying whether trying again can help (a network error, 429 or 5xx can; a wrong token cannot).
// Formats: ntfy "publish as JSON" (POST to the server's root: topic, message, title, priority 1-5,
// tags; docs.ntfy.sh/publish), Telegram Bot API sendMessage (chat_id, text,
// disable_notification), Pushover /1/messages.json (token, user, message, title, priority -2..2),
// a webhook (this hub's JSON), e-mail over SMTP with nodemailer.
import type { NotifyTarget } from '../config/schema.js';

export const PRIORITIES = ['min', 'low', 'default', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface Notification {
  message: string;
  title?: string;
  priority: Priority;
  data?: unknown;
}

export class DeliveryFailure extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    /** The target asked to wait this long (Retry-After, Telegram's retry_after). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

async function post(
  url: string,
  body: unknown,
  timeoutMs: number,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; json: unknown; text: string; retryAfter?: number }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', 'user-agent': 'smart-home', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new DeliveryFailure(`${new URL(url).host}: ${why}`, false);
  }
  const text = (await res.text()).slice(0, 2000);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const ra = Number(res.headers.get('retry-after'));
  return { status: res.status, json, text, retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined };
}

/** 2xx is accepted; 408/429/5xx are worth another try; any other answer is not. */
function judge(what: string, r: { status: number; text: string; retryAfter?: number }, detail?: string): void {
  if (r.status >= 200 && r.status < 300) return;
  const transient = r.status === 408 || r.status === 429 || r.status >= 500;
  throw new DeliveryFailure(
    `${what} answered ${r.status}${detail ? `: ${detail}` : r.text ? `: ${r.text.slice(0, 200)}` : ''}`,
    !transient,
    r.retryAfter,
  );
}

const NTFY_PRIORITY: Record<Priority, number> = { min: 1, low: 2, default: 3, high: 4, urgent: 5 };
const PUSHOVER_PRIORITY: Record<Priority, number> = { min: -2, low: -1, default: 0, high: 1, urgent: 1 };

/** Sends one notification; resolves when the target accepted it. */
export async function deliver(
  name: string,
  t: NotifyTarget,
  n: Notification,
  meta: { id: number; source: string },
): Promise<void> {
  switch (t.type) {
    case 'ntfy': {
      const r = await post(
        t.url.replace(/\/+$/, '') + '/',
        {
          topic: t.topic,
          message: n.message,
          ...(n.title ? { title: n.title } : {}),
          priority: NTFY_PRIORITY[n.priority],
          ...(t.tags.length ? { tags: t.tags } : {}),
        },
        t.timeout_ms,
        t.token ? { authorization: `Bearer ${t.token}` } : {},
      );
      return judge(`ntfy (${name})`, r, (r.json as { error?: string } | undefined)?.error);
    }
    case 'telegram': {
      const r = await post(
        `${t.api_url.replace(/\/+$/, '')}/bot${t.token}/sendMessage`,
        {
          chat_id: t.chat_id,
          text: n.title ? `${n.title}\n${n.message}` : n.message,
          disable_notification: n.priority === 'min' || n.priority === 'low',
        },
        t.timeout_ms,
      );
      const j = r.json as { ok?: boolean; description?: string; parameters?: { retry_after?: number } } | undefined;
      if (r.status === 429 && j?.parameters?.retry_after)
        throw new DeliveryFailure(`Telegram (${name}): too many requests`, false, j.parameters.retry_after);
      judge(`Telegram (${name})`, r, j?.description);
      if (j?.ok !== true) throw new DeliveryFailure(`Telegram (${name}) did not say ok: ${r.text.slice(0, 200)}`, true);
      return;
    }
    case 'pushover': {
      const r = await post(
        `${t.api_url.replace(/\/+$/, '')}/1/messages.json`,
        {
          token: t.token,
          user: t.user,
          message: n.message,
          ...(n.title ? { title: n.title } : {}),
          priority: PUSHOVER_PRIORITY[n.priority],
          ...(t.device ? { device: t.device } : {}),
        },
        t.timeout_ms,
      );
      const j = r.json as { status?: number; errors?: string[] } | undefined;
      judge(`Pushover (${name})`, r, j?.errors?.join('; '));
      if (j?.status !== 1)
        throw new DeliveryFailure(`Pushover (${name}) did not accept it: ${r.text.slice(0, 200)}`, true);
      return;
    }
    case 'webhook': {
      const r = await post(
        t.url,
        {
          id: meta.id,
          target: name,
          title: n.title ?? null,
          message: n.message,
          priority: n.priority,
          data: n.data ?? null,
          source: meta.source,
        },
        t.timeout_ms,
        t.headers,
        t.method,
      );
      return judge(`webhook (${name})`, r);
    }
    case 'email': {
      // Loaded on the first e-mail: most homes never send one, and nodemailer is ~2 MiB of heap.
      const { default: nodemailer } = await import('nodemailer');
      const transport = nodemailer.createTransport({
        host: t.host,
        port: t.port,
        secure: t.secure,
        auth: t.username ? { user: t.username, pass: t.password ?? '' } : undefined,
        connectionTimeout: t.timeout_ms,
        greetingTimeout: t.timeout_ms,
        socketTimeout: t.timeout_ms,
      });
      try {
        await transport.sendMail({
          from: t.from,
          to: t.to,
          subject: n.title ?? 'Smart Home',
          text: n.message,
          priority:
            n.priority === 'urgent' || n.priority === 'high' ? 'high' : n.priority === 'default' ? 'normal' : 'low',
        });
      } catch (err) {
        const e = err as Error & { responseCode?: number; code?: string };
        // 5xx from the SMTP server (no such mailbox, bad login) will not get better by itself
        const permanent = (e.responseCode !== undefined && e.responseCode >= 500) || e.code === 'EAUTH';
        throw new DeliveryFailure(`e-mail (${name}) via ${t.host}:${t.port}: ${e.message}`, permanent);
      } finally {
        transport.close();
      }
      return;
    }
  }
}
