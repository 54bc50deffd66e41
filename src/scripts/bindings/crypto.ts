// e154's Encrypt/Decrypt for scripts: AES-256-GCM under a key of the hub's own (made once, kept in
// the hub's SQLite file). Scripts never see the key; a text Decrypt did not get from Encrypt (or
// one changed on the way) is an error, never garbage.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'shc1:';

export function cryptoCalls(key: (() => Buffer) | undefined, maxBytes: number) {
  const need = (fn: string): Buffer => {
    if (!key) throw new TypeError(`${fn} is not available in this run (no hub, so no key)`);
    return key();
  };
  const text = (fn: string, v: unknown): string => {
    if (typeof v !== 'string') throw new TypeError(`${fn}: expects a string, got ${v === null ? 'null' : typeof v}`);
    if (v.length > maxBytes)
      throw new RangeError(`${fn}: at most ${maxBytes} characters (scripts.max_payload_kb), got ${v.length}`);
    return v;
  };
  return {
    'crypto.encrypt': ([data]: unknown[]) => {
      const plain = Buffer.from(text('Encrypt', data), 'utf8');
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', need('Encrypt'), iv);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    'crypto.decrypt': ([data]: unknown[]) => {
      const s = text('Decrypt', data);
      const raw = s.startsWith(PREFIX) ? Buffer.from(s.slice(PREFIX.length), 'base64') : undefined;
      if (!raw || raw.length < 28)
        throw new TypeError('Decrypt: this is not a text Encrypt made (it starts with "shc1:")');
      try {
        const decipher = createDecipheriv('aes-256-gcm', need('Decrypt'), raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        throw new TypeError("Decrypt: the text was changed, or Encrypt made it with another hub's key");
      }
    },
  };
}
