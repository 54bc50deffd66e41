// How deep JSON nests, found in one pass without parsing it: deep nesting is refused before any
// recursive parser (QuickJS's inside the sandbox, JSON.parse in a request) sees it.

/** Deepest JSON nesting the sandbox is handed to parse (QuickJS's recursion runs on the host's stack). */
export const MAX_JSON_DEPTH = 512;

/** True when `text` looks like JSON nested deeper than `max` (strings skipped; bytes or UTF-16). */
export function jsonTooDeep(text: Uint8Array | string, max = MAX_JSON_DEPTH): boolean {
  if (text.length <= max) return false;
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = at(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
