// What a script hands the host is data the host never trusts: an error's name, message and stack
// may be of any type, of any length and say anything (a stack can claim `at f (file.ts:0:1)`).
// Everything that crosses is bounded and typed here before host code reads it, and the stack is
// parsed in linear time (a 100 000-character "stack" once blocked the event loop for 17 s).
import type { GuestError } from './sandbox/guest-errors.js';

export const MAX_ERROR_NAME = 64;
export const MAX_ERROR_MESSAGE = 4096;
export const MAX_STACK = 16384;
/** Frames looked at when locating an error in the user's file. */
const MAX_FRAMES = 64;
/** Characters of one frame looked at (its location is at its end). */
const MAX_FRAME = 1024;

/** At most `max` characters of `v` as text; non-strings become "" (never a host toString of guest data). */
export function boundedText(v: unknown, max: number): string {
  if (typeof v !== 'string') return '';
  return v.length > max ? `${v.slice(0, max)}… (${v.length - max} more characters)` : v;
}

/** An error from the guest with its parts typed and bounded; a name that is not an identifier becomes "Error". */
export function guestError(name: unknown, message: unknown, stack: unknown): GuestError {
  const n = boundedText(name, MAX_ERROR_NAME);
  return {
    name: /^[A-Za-z_$][\w$]*$/.test(n) ? n : 'Error',
    message: boundedText(message, MAX_ERROR_MESSAGE),
    // a truncated stack is cut at a line end so the last frame is not a fragment
    stack:
      typeof stack === 'string' && stack.length > MAX_STACK
        ? stack.slice(0, stack.lastIndexOf('\n', MAX_STACK) + 1)
        : typeof stack === 'string'
          ? stack
          : '',
  };
}

export interface Site {
  file: string;
  line: number;
  col: number;
}

/**
 * "    at f (file.ts:3:5)", "    at file.ts:3" -> {file, line, col}; undefined when the frame has
 * no location or its numbers are not positive whole numbers. Linear: it splits at the last
 * space or "(" and the last two ":" only.
 */
export function parseFrame(frame: string): Site | undefined {
  let s = frame.length > MAX_FRAME ? frame.slice(frame.length - MAX_FRAME) : frame;
  s = s.trimEnd();
  if (s.endsWith(')')) s = s.slice(0, -1);
  const token = s.slice(Math.max(s.lastIndexOf('('), s.lastIndexOf(' ')) + 1);
  const last = token.lastIndexOf(':');
  if (last <= 0) return undefined;
  const before = token.lastIndexOf(':', last - 1);
  const num = (t: string) => (/^\d{1,9}$/.test(t) ? Number(t) : NaN);
  let file: string;
  let line: number;
  let col: number;
  const twoNumbers = before > 0 && !Number.isNaN(num(token.slice(before + 1, last)));
  if (twoNumbers) {
    file = token.slice(0, before);
    line = num(token.slice(before + 1, last));
    col = num(token.slice(last + 1));
  } else {
    file = token.slice(0, last);
    line = num(token.slice(last + 1));
    col = 1;
  }
  if (!file || !(line >= 1) || !(col >= 0)) return undefined;
  return { file, line, col: Math.max(1, col) };
}

/** The frames of a stack worth looking at: the first MAX_FRAMES lines. */
export function framesOf(stack: string): string[] {
  const out: string[] = [];
  let from = 0;
  while (out.length < MAX_FRAMES && from < stack.length) {
    const nl = stack.indexOf('\n', from);
    const end = nl === -1 ? stack.length : nl;
    out.push(stack.slice(from, Math.min(end, from + MAX_FRAME * 4)));
    from = end + 1;
  }
  return out;
}

export { MAX_JSON_DEPTH, jsonTooDeep } from '../json-depth.js';
