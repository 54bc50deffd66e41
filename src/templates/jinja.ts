// The part of Home Assistant's Jinja templates that real discovery payloads use (ESPHome,
// Tasmota, Shelly, Zigbee2MQTT, OpenMQTTGateway), also used by automations' publish actions: `{{ value_json.x }}`, `value_json['x']`,
// filters float, int, round, lower, upper, default, is_defined, tojson, iif, string, trim,
// replace, abs; `a if c else b`; `is defined`; comparisons, and/or/not, arithmetic, `~`;
// `{% if %}{% elif %}{% else %}{% endif %}`. Parsed once into a tree and walked: nothing is
// evaluated as code. Anything else is refused when the config arrives (`TemplateUnsupported`),
// so the entity shows a warning instead of a guess.

export class TemplateUnsupported extends Error {
  override name = 'TemplateUnsupported';
}
export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** Jinja's undefined: renders as '', fails `is_defined`, `default` replaces it. */
const UNDEFINED: unique symbol = Symbol('undefined');
type Value = unknown;
type Vars = Record<string, Value>;

type Node =
  | { t: 'lit'; v: Value }
  | { t: 'var'; name: string }
  | { t: 'get'; obj: Node; key: Node }
  | { t: 'filter'; name: string; arg: Node; args: Node[] }
  | { t: 'call'; name: string; args: Node[] }
  | { t: 'un'; op: string; a: Node }
  | { t: 'bin'; op: string; a: Node; b: Node }
  | { t: 'cond'; c: Node; a: Node; b: Node }
  | { t: 'test'; a: Node; name: string; not: boolean };

type Part = { t: 'text'; s: string } | { t: 'out'; e: Node } | { t: 'if'; branches: [Node | null, Part[]][] };

const TOKEN =
  /\s*(?:(\d+\.\d*|\.\d+|\d+)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|\/\/|[-+*/%<>()[\].,|~]))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new TemplateUnsupported(`"${src.slice(pos).trim().slice(0, 20)}" is not in the template subset`);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
    pos = TOKEN.lastIndex;
  }
  return out;
}

const FILTERS = new Set([
  'float',
  'int',
  'round',
  'lower',
  'upper',
  'default',
  'd',
  'is_defined',
  'tojson',
  'to_json',
  'iif',
  'string',
  'trim',
  'replace',
  'abs',
  'bool',
  'from_json',
]);
const FUNCS = new Set(['float', 'int', 'iif', 'round', 'bool', 'abs']);

class Parser {
  private i = 0;
  constructor(private readonly tok: string[]) {}
  private peek = () => this.tok[this.i];
  private next = () => this.tok[this.i++];
  private eat(t: string): boolean {
    if (this.tok[this.i] !== t) return false;
    this.i++;
    return true;
  }
  private expect(t: string): void {
    if (!this.eat(t)) throw new TemplateUnsupported(`expected "${t}", found "${this.peek() ?? 'the end'}"`);
  }
  done(): void {
    if (this.i < this.tok.length) throw new TemplateUnsupported(`unexpected "${this.peek()}"`);
  }
  expr(): Node {
    const a = this.or();
    if (this.eat('if')) {
      const c = this.or();
      const b = this.eat('else') ? this.expr() : { t: 'lit' as const, v: UNDEFINED };
      return { t: 'cond', c, a, b };
    }
    return a;
  }
  private or(): Node {
    let a = this.and();
    while (this.eat('or')) a = { t: 'bin', op: 'or', a, b: this.and() };
    return a;
  }
  private and(): Node {
    let a = this.not();
    while (this.eat('and')) a = { t: 'bin', op: 'and', a, b: this.not() };
    return a;
  }
  private not(): Node {
    if (this.eat('not')) return { t: 'un', op: 'not', a: this.not() };
    return this.compare();
  }
  private compare(): Node {
    let a = this.concat();
    for (;;) {
      const op = this.peek();
      if (op === 'is') {
        this.next();
        const not = this.eat('not');
        const name = this.next();
        if (name !== 'defined' && name !== 'none' && name !== 'number' && name !== 'string')
          throw new TemplateUnsupported(`the test "is ${name}" is not in the template subset`);
        a = { t: 'test', a, name, not };
      } else if (op === 'in' || (op === 'not' && this.tok[this.i + 1] === 'in')) {
        if (op === 'not') this.next();
        this.next();
        a = { t: 'bin', op: op === 'not' ? 'not in' : 'in', a, b: this.concat() };
      } else if (op && ['==', '!=', '<', '>', '<=', '>='].includes(op)) {
        this.next();
        a = { t: 'bin', op, a, b: this.concat() };
      } else return a;
    }
  }
  private concat(): Node {
    let a = this.add();
    while (this.eat('~')) a = { t: 'bin', op: '~', a, b: this.add() };
    return a;
  }
  private add(): Node {
    let a = this.mul();
    for (let op = this.peek(); op === '+' || op === '-'; op = this.peek()) {
      this.next();
      a = { t: 'bin', op, a, b: this.mul() };
    }
    return a;
  }
  private mul(): Node {
    let a = this.unary();
    for (let op = this.peek(); op === '*' || op === '/' || op === '//' || op === '%'; op = this.peek()) {
      this.next();
      a = { t: 'bin', op, a, b: this.unary() };
    }
    return a;
  }
  private unary(): Node {
    if (this.eat('-')) return { t: 'un', op: '-', a: this.unary() };
    return this.filtered();
  }
  private filtered(): Node {
    let a = this.postfix();
    while (this.eat('|')) {
      const name = this.next() ?? '';
      if (!FILTERS.has(name)) throw new TemplateUnsupported(`the filter "${name}" is not in the template subset`);
      a = { t: 'filter', name, arg: a, args: this.eat('(') ? this.args() : [] };
    }
    return a;
  }
  private args(): Node[] {
    const out: Node[] = [];
    if (this.eat(')')) return out;
    do out.push(this.expr());
    while (this.eat(','));
    this.expect(')');
    return out;
  }
  private postfix(): Node {
    let a = this.primary();
    for (;;) {
      if (this.eat('.')) {
        const key = this.next();
        if (!key || !/^[A-Za-z_0-9]+$/.test(key)) throw new TemplateUnsupported(`bad attribute after "."`);
        a = { t: 'get', obj: a, key: { t: 'lit', v: key } };
      } else if (this.eat('[')) {
        a = { t: 'get', obj: a, key: this.expr() };
        this.expect(']');
      } else return a;
    }
  }
  private primary(): Node {
    const tok = this.next();
    if (tok === undefined) throw new TemplateUnsupported('the expression ends too soon');
    if (/^[\d.]/.test(tok)) return { t: 'lit', v: Number(tok) };
    if (tok[0] === "'" || tok[0] === '"') return { t: 'lit', v: tok.slice(1, -1).replace(/\\(.)/g, '$1') };
    if (tok === '(') {
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (tok === 'true' || tok === 'True') return { t: 'lit', v: true };
    if (tok === 'false' || tok === 'False') return { t: 'lit', v: false };
    if (tok === 'none' || tok === 'None') return { t: 'lit', v: null };
    if (/^[A-Za-z_]/.test(tok)) {
      if (this.peek() === '(') {
        if (!FUNCS.has(tok)) throw new TemplateUnsupported(`the function "${tok}" is not in the template subset`);
        this.next();
        return { t: 'call', name: tok, args: this.args() };
      }
      return { t: 'var', name: tok };
    }
    throw new TemplateUnsupported(`unexpected "${tok}"`);
  }
}

function parseExpr(src: string): Node {
  const p = new Parser(tokenize(src));
  const e = p.expr();
  p.done();
  return e;
}

/** Splits `{{ }}` and `{% %}` (with `-` whitespace control) and builds the if/elif/else tree. */
function parseTemplate(src: string): Part[] {
  const re = /\{\{-?([\s\S]*?)-?\}\}|\{%-?([\s\S]*?)-?%\}/g;
  const root: Part[] = [];
  const stack: { branches: [Node | null, Part[]][] }[] = [];
  let into = root;
  let last = 0;
  const text = (s: string) => {
    if (/\{\{|\{%/.test(s)) throw new TemplateUnsupported('a "{{" or "{%" is never closed');
    return { t: 'text' as const, s };
  };
  for (let m = re.exec(src); m; m = re.exec(src)) {
    if (m.index > last) into.push(text(src.slice(last, m.index)));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      into.push({ t: 'out', e: parseExpr(m[1]) });
      continue;
    }
    const stmt = m[2]!.trim();
    const [kw] = stmt.split(/\s+/, 1);
    const rest = stmt.slice(kw!.length);
    if (kw === 'if') {
      const part = { t: 'if' as const, branches: [[parseExpr(rest), []]] as [Node | null, Part[]][] };
      into.push(part);
      stack.push(part);
      into = part.branches[0]![1];
    } else if ((kw === 'elif' || kw === 'else') && stack.length) {
      const top = stack[stack.length - 1]!;
      const body: Part[] = [];
      top.branches.push([kw === 'elif' ? parseExpr(rest) : null, body]);
      into = body;
    } else if (kw === 'endif' && stack.length) {
      stack.pop();
      const top = stack[stack.length - 1];
      into = top ? top.branches[top.branches.length - 1]![1] : root;
    } else throw new TemplateUnsupported(`{% ${kw} %} is not in the template subset (only if/elif/else/endif)`);
  }
  if (stack.length) throw new TemplateUnsupported('an {% if %} has no {% endif %}');
  if (last < src.length) root.push(text(src.slice(last)));
  return root;
}

const isUndef = (v: Value) => v === UNDEFINED;
const truthy = (v: Value) =>
  !(isUndef(v) || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0));

function toNumber(v: Value, name: string, fallback: Value[]): number {
  const n =
    typeof v === 'number'
      ? v
      : typeof v === 'string' && v.trim() !== ''
        ? Number(v)
        : typeof v === 'boolean'
          ? Number(v)
          : NaN;
  if (Number.isFinite(n)) return n;
  if (fallback.length > 0) return fallback[0] as number;
  throw new TemplateError(`${name}: ${show(v)} is not a number`);
}

const show = (v: Value) => (isUndef(v) ? 'undefined' : JSON.stringify(v)?.slice(0, 40));

function text(v: Value): string {
  if (isUndef(v) || v === null || v === undefined) return isUndef(v) || v === undefined ? '' : 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function applyFilter(name: string, v: Value, args: Value[]): Value {
  switch (name) {
    case 'float':
      return toNumber(v, 'float', args);
    case 'int':
      return Math.trunc(toNumber(v, 'int', args));
    case 'abs':
      return Math.abs(toNumber(v, 'abs', []));
    case 'round': {
      const digits = typeof args[0] === 'number' ? args[0] : 0;
      const f = 10 ** digits;
      return Math.round(toNumber(v, 'round', []) * f) / f;
    }
    case 'lower':
      return text(v).toLowerCase();
    case 'upper':
      return text(v).toUpperCase();
    case 'string':
      return text(v);
    case 'trim':
      return text(v).trim();
    case 'replace':
      return text(v).split(text(args[0])).join(text(args[1]));
    case 'default':
    case 'd':
      return isUndef(v) || (args[1] === true && !truthy(v)) ? (args[0] ?? '') : v;
    case 'is_defined':
      if (isUndef(v)) throw new TemplateError('is_defined: the value is not defined');
      return v;
    case 'tojson':
    case 'to_json':
      return JSON.stringify(isUndef(v) ? null : v);
    case 'from_json':
      try {
        return JSON.parse(text(v));
      } catch {
        throw new TemplateError(`from_json: ${show(v)} is not JSON`);
      }
    case 'bool':
      return v === true || v === 1 || (typeof v === 'string' && ['true', 'on', 'yes', '1'].includes(v.toLowerCase()));
    case 'iif':
      return truthy(v) ? (args[0] ?? true) : (args[1] ?? false);
    default:
      throw new TemplateUnsupported(`the filter "${name}" is not in the template subset`);
  }
}

function get(obj: Value, key: Value): Value {
  if (obj === null || typeof obj !== 'object' || isUndef(obj)) return UNDEFINED;
  if (Array.isArray(obj) && typeof key === 'number')
    return key < 0 ? (obj[obj.length + key] ?? UNDEFINED) : (obj[key] ?? UNDEFINED);
  const k = String(key);
  return Object.hasOwn(obj, k) ? (obj as Record<string, Value>)[k] : UNDEFINED;
}

function evaluate(n: Node, vars: Vars): Value {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'var':
      return Object.hasOwn(vars, n.name) ? vars[n.name] : UNDEFINED;
    case 'get':
      return get(evaluate(n.obj, vars), evaluate(n.key, vars));
    case 'filter':
      return applyFilter(
        n.name,
        evaluate(n.arg, vars),
        n.args.map((a) => evaluate(a, vars)),
      );
    case 'call': {
      const [first, ...rest] = n.args.map((a) => evaluate(a, vars));
      return applyFilter(n.name, first, rest);
    }
    case 'un':
      return n.op === 'not' ? !truthy(evaluate(n.a, vars)) : -toNumber(evaluate(n.a, vars), '-', []);
    case 'cond':
      return truthy(evaluate(n.c, vars)) ? evaluate(n.a, vars) : evaluate(n.b, vars);
    case 'test': {
      const v = evaluate(n.a, vars);
      const r =
        n.name === 'defined'
          ? !isUndef(v)
          : n.name === 'none'
            ? v === null
            : n.name === 'number'
              ? typeof v === 'number'
              : typeof v === 'string';
      return n.not ? !r : r;
    }
    case 'bin': {
      if (n.op === 'and') {
        const a = evaluate(n.a, vars);
        return truthy(a) ? evaluate(n.b, vars) : a;
      }
      if (n.op === 'or') {
        const a = evaluate(n.a, vars);
        return truthy(a) ? a : evaluate(n.b, vars);
      }
      const a = evaluate(n.a, vars);
      const b = evaluate(n.b, vars);
      switch (n.op) {
        case '==':
          return a === b || (isUndef(a) && isUndef(b));
        case '!=':
          return !(a === b || (isUndef(a) && isUndef(b)));
        case '~':
          return text(a) + text(b);
        case 'in':
        case 'not in': {
          const r =
            typeof b === 'string'
              ? b.includes(text(a))
              : Array.isArray(b)
                ? b.includes(a)
                : b !== null && typeof b === 'object' && Object.hasOwn(b, text(a));
          return n.op === 'in' ? r : !r;
        }
        case '+':
          if (typeof a === 'string' && typeof b === 'string') return a + b;
      }
      const x = toNumber(a, n.op, []);
      const y = toNumber(b, n.op, []);
      switch (n.op) {
        case '<':
          return x < y;
        case '>':
          return x > y;
        case '<=':
          return x <= y;
        case '>=':
          return x >= y;
        case '+':
          return x + y;
        case '-':
          return x - y;
        case '*':
          return x * y;
        case '/':
          return x / y;
        case '//':
          return Math.floor(x / y);
        default:
          return x % y;
      }
    }
  }
}

function render(parts: Part[], vars: Vars): Value[] {
  const out: Value[] = [];
  for (const p of parts) {
    if (p.t === 'text') out.push(p.s);
    else if (p.t === 'out') out.push(evaluate(p.e, vars));
    else {
      const branch = p.branches.find(([c]) => c === null || truthy(evaluate(c, vars)));
      if (branch) out.push(...render(branch[1], vars));
    }
  }
  return out;
}

export interface Template {
  /** The result: a single `{{ }}` gives its value (a number stays a number), anything else a string. */
  render(vars: Vars): Value;
  source: string;
}

/** Parses a template; throws TemplateUnsupported for anything outside the subset. */
export function compileTemplate(source: string): Template {
  if (source.length > 4096) throw new TemplateUnsupported('a template longer than 4096 characters');
  const parts = parseTemplate(source);
  return {
    source,
    render(vars) {
      const values = render(parts, vars);
      const meaningful = values.filter((v) => !(typeof v === 'string' && v.trim() === ''));
      if (meaningful.length === 1 && typeof meaningful[0] !== 'string')
        return isUndef(meaningful[0]) ? '' : meaningful[0];
      return values.map(text).join('').trim();
    },
  };
}

/** The variables a state template sees: `value` (the payload as text) and `value_json` (when it is JSON). */
let last: { payload: string; vars: Vars } | undefined;

export function payloadVars(payload: string): Vars {
  // the entities of one device read the same message one after another: parse it once
  if (last?.payload === payload) return last.vars;
  let json: Value = UNDEFINED;
  try {
    json = JSON.parse(payload);
  } catch {
    // not JSON: value_json stays undefined
  }
  const vars = { value: payload, value_json: json };
  if (payload.length <= 64 * 1024) last = { payload, vars };
  return vars;
}
