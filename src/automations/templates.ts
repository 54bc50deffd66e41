// Templates in a `publish` action's topic and payload: `{{ trigger.json.seq }}`, `{{ value_json.x
// | float * 2 }}`, `{% if %}`. Rendered on the host with the discovery template subset (parsed
// once into a tree and walked, never run as code): no sandbox call per run. In an object payload
// each string leaf is a template; a leaf that is one `{{ }}` keeps its value's type (a number
// stays a number), as in Home Assistant.
import { compileTemplate, type Template } from '../templates/jinja.js';
import type { TriggerEvent } from './types.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Rendered = unknown;

/** A compiled value: the same shape, its template strings compiled. */
type Compiled =
  | { t: 'lit'; v: Json }
  | { t: 'tpl'; tpl: Template }
  | { t: 'arr'; items: Compiled[] }
  | { t: 'obj'; entries: [string, Compiled][] };

const isTemplate = (s: string) => s.includes('{{') || s.includes('{%');

/** Compiles the templates in a value; throws TemplateUnsupported (with the template's text) for one outside the subset. */
export function compileValue(v: Json): Compiled {
  if (typeof v === 'string') return isTemplate(v) ? { t: 'tpl', tpl: compileTemplate(v) } : { t: 'lit', v };
  if (Array.isArray(v)) return { t: 'arr', items: v.map(compileValue) };
  if (v !== null && typeof v === 'object')
    return { t: 'obj', entries: Object.entries(v).map(([k, x]) => [k, compileValue(x)]) };
  return { t: 'lit', v };
}

/** True when the value has no template at all (it is sent as it is). */
export function isLiteral(c: Compiled): boolean {
  return (
    c.t === 'lit' ||
    (c.t === 'arr' && c.items.every(isLiteral)) ||
    (c.t === 'obj' && c.entries.every(([, x]) => isLiteral(x)))
  );
}

export function render(c: Compiled, vars: Record<string, unknown>): Rendered {
  switch (c.t) {
    case 'lit':
      return c.v;
    case 'tpl':
      return c.tpl.render(vars);
    case 'arr':
      return c.items.map((x) => render(x, vars));
    case 'obj': {
      const out: Record<string, unknown> = {};
      for (const [k, x] of c.entries) out[k] = render(x, vars);
      return out;
    }
  }
}

/** What a publish action's templates see: `trigger`, and `value` / `value_json` as in Home Assistant. */
export function templateVars(trigger: TriggerEvent): Record<string, unknown> {
  const t = trigger as TriggerEvent & { payload?: unknown; json?: unknown };
  const vars: Record<string, unknown> = { trigger };
  if (t.payload !== undefined) vars.value = t.payload;
  if (t.json !== undefined) vars.value_json = t.json;
  return vars;
}
