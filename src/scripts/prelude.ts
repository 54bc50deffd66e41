// The script API as it lives inside the sandbox. It is plain JavaScript evaluated in each
// QuickJS context before the user's code. It validates arguments where the user called (so a
// TypeError's stack points at the user's line), normalizes payloads, and talks to the host
// through the captured `__host` object only, which it then removes from the global scope.
// The host validates everything again: this file runs in user space and may be tampered with.
export const PRELUDE_FILE = 'smart-home:prelude';

export const PRELUDE = String.raw`
(function (host, global) {
  'use strict';
  const PRELUDE = ${JSON.stringify(PRELUDE_FILE)};

  // The stack of the current call, for the host to find the user's line in (parsing it there is cheaper).
  function callStack() {
    return String(new Error().stack || '');
  }

  function describe(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'an array';
    if (typeof v === 'string') return 'the string ' + JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
    if (typeof v === 'object') return 'an object';
    return typeof v + ' ' + String(v);
  }

  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1; else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; } else n += 3;
    }
    return n;
  }

  function checkTopic(topic) {
    if (typeof topic !== 'string') throw new TypeError('Mqtt.publish: topic must be a string, got ' + describe(topic));
    if (topic.length === 0) throw new RangeError('Mqtt.publish: topic must not be empty');
    if (topic.indexOf('+') !== -1 || topic.indexOf('#') !== -1) throw new RangeError('Mqtt.publish: topic "' + topic + '" must not contain the wildcards + or # (they are only for subscribing)');
    if (topic.indexOf('\0') !== -1) throw new RangeError('Mqtt.publish: topic must not contain the NUL character');
    if (topic.charAt(0) === '$') throw new RangeError('Mqtt.publish: topic "' + topic + '" must not start with $ (reserved for the broker, e.g. $SYS)');
    if (topic.length > 16383 && utf8Length(topic) > 65535) throw new RangeError('Mqtt.publish: topic must be at most 65535 bytes in UTF-8');
  }

  function checkQos(qos) {
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      const hint = qos === 3 ? ' (the MQTT levels are 0, 1 and 2; there is no QoS 3)' : '';
      throw new RangeError('Mqtt.publish: qos must be 0 (at most once), 1 (at least once) or 2 (exactly once), got ' + describe(qos) + hint);
    }
  }

  // MQTT 5 properties travel as JSON; binary correlation data as an array of bytes.
  function propertiesJson(fn, p) {
    if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new TypeError(fn + ': properties must be an object, got ' + describe(p));
    const out = {};
    for (const k of Object.keys(p)) {
      const v = p[k];
      if (v === undefined) continue;
      out[k] = ArrayBuffer.isView(v) ? Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) : v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v;
    }
    return JSON.stringify(out);
  }
  function fromWireProperties(json) {
    if (!json) return undefined;
    const p = JSON.parse(json);
    if (Array.isArray(p.correlationData)) p.correlationData = new Uint8Array(p.correlationData);
    return p;
  }

  function toPayload(payload) {
    if (payload === null || payload === undefined) return '';
    if (typeof payload === 'string') return payload;
    if (payload instanceof ArrayBuffer) return payload;
    if (ArrayBuffer.isView(payload)) return payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength);
    if (typeof payload === 'function' || typeof payload === 'symbol') throw new TypeError('Mqtt.publish: payload must be a string, an object, a number, a boolean, binary data (Uint8Array/ArrayBuffer) or null, got ' + typeof payload);
    if (typeof payload === 'bigint') return String(payload);
    const json = JSON.stringify(payload);
    if (json === undefined) throw new TypeError('Mqtt.publish: payload cannot be sent as JSON');
    return json;
  }

  class MqttError extends Error {
    constructor(code, message) { super(message); this.name = 'MqttError'; this.code = code; }
  }

  // A promise that knows whether anyone is waiting for it, so a failure nobody handles is logged.
  class PublishPromise extends Promise {
    static get [Symbol.species]() { return Promise; }
    then(onOk, onErr) { this.handled = true; return super.then(onOk, onErr); }
  }

  const hostPublish = host.publish;
  const hostPublishBatch = host.publishBatch;
  const maxPending = host.maxPending;
  const maxPayload = host.maxPayload;
  const hostUtf8Length = host.utf8Length;
  const maxPendingBytes = host.maxPendingBytes;
  const hostLog = host.log;
  const hostUnhandled = host.unhandled;

  // Publishes in flight, by id. The host settles them in batches (one call per tick, see settle).
  const pending = new Map();
  let nextId = 1;
  let pendingBytes = 0;

  /** The pending entry with this id, removed (and its bytes no longer counted). */
  function take(id) {
    const p = pending.get(id);
    if (p) { pending.delete(id); pendingBytes -= p.size; }
    return p;
  }

  /** UTF-8 size of a payload (short strings counted here, longer ones by the host: much faster). */
  function byteSize(body) {
    if (typeof body !== 'string') return body.byteLength;
    if (body.length > 64) return hostUtf8Length(body);
    let n = 0;
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c < 0x80) n += 1; else if (c < 0x800) n += 2; else if (c >= 0xd800 && c < 0xdc00) { n += 4; i++; } else n += 3;
    }
    return n;
  }

  function settle(batch, values) {
    if (values) for (const [id, value] of JSON.parse(values)) {
      const p = take(id);
      if (p) p.resolve(value);
    }
    // batch: "id,id,...|[[id, code, message], ...]" — ok ids, then failures as JSON
    const bar = batch.indexOf('|');
    const ok = batch.slice(0, bar);
    if (ok) for (const id of ok.split(',')) {
      const p = take(+id);
      if (p) p.resolve(undefined);
    }
    const failed = batch.slice(bar + 1);
    if (failed) for (const [id, code, message, name] of JSON.parse(failed)) {
      const p = take(id);
      if (!p) continue;
      let err;
      if (name === 'RangeError' || name === 'TypeError') { err = new globalThis[name](message); err.code = code; }
      else if (name && name !== 'MqttError') { err = new Error(message); err.name = name; err.code = code; }
      else err = new MqttError(code, message);
      p.reject(err);
      const promise = p.promise;
      // Look again once the current jobs have run: an await or .catch attached by then counts.
      Promise.resolve().then(() => Promise.resolve()).then(() => {
        if (!promise.handled) hostUnhandled((p.what || 'Mqtt.publish') + ': ' + code + ': ' + message, p.stack);
      });
    }
  }

  const Mqtt = Object.freeze({
    subscribe: (filter, handler, options) => subscribe(filter, handler, options),
    request(topic, payload, options) {
      checkTopic(topic);
      const o = options === undefined ? {} : options;
      if (o === null || typeof o !== 'object') throw new TypeError('Mqtt.request: options must be an object like {timeout: 5000, qos: 1}, got ' + describe(o));
      const timeout = o.timeout === undefined ? 5000 : o.timeout;
      if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 600000) throw new RangeError('Mqtt.request: timeout must be a number of milliseconds between 1 and 600000, got ' + describe(timeout));
      const q = o.qos === undefined ? 0 : o.qos;
      checkQos(q);
      let body = toPayload(payload);
      if (typeof body !== 'string') body = Array.from(new Uint8Array(body));
      const props = o.properties === undefined ? '{}' : propertiesJson('Mqtt.request', o.properties);
      return callAsync('Mqtt.request', 'mqtt.request', [topic, body, q, timeout, props]).then((m) => {
        let json;
        try { json = JSON.parse(m.payload); } catch (e) { json = undefined; }
        return { topic: m.topic, payload: m.payload, bytes: new Uint8Array(m.bytes), json, qos: m.qos, retain: m.retain, params: [], properties: fromWireProperties(m.properties) };
      });
    },
    publish(topic, payload, qos, retain) {
      let q = qos, r = retain;
      let props = '';
      if (qos !== null && typeof qos === 'object') {
        if (retain !== undefined) throw new TypeError('Mqtt.publish: pass either (topic, payload, qos, retain) or (topic, payload, {qos, retain}), not both');
        q = qos.qos; r = qos.retain;
        if (qos.properties !== undefined) props = propertiesJson('Mqtt.publish', qos.properties);
      }
      if (q === undefined) q = 0;
      if (r === undefined) r = false;
      checkTopic(topic);
      checkQos(q);
      if (typeof r !== 'boolean') throw new TypeError('Mqtt.publish: retain must be true or false, got ' + describe(r));
      const body = toPayload(payload);
      if (pending.size >= maxPending) {
        throw new RangeError('Mqtt.publish: more than max_pending_publishes (' + maxPending + ') publishes are waiting for the broker; await some before publishing more');
      }
      const size = byteSize(body);
      if (size > maxPayload) {
        throw new RangeError('Mqtt.publish: payload of ' + size + ' bytes is larger than max_payload_kb (' + maxPayload / 1024 + ' KiB)');
      }
      if (pendingBytes + size > maxPendingBytes) {
        throw new RangeError('Mqtt.publish: more than max_pending_mb (' + maxPendingBytes / 1048576 + ' MB) of payloads are waiting for the broker; await some before publishing more');
      }
      const stack = callStack();
      const id = nextId++;
      const entry = { resolve: null, reject: null, stack, promise: null, size };
      pendingBytes += size;
      entry.promise = new PublishPromise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
      pending.set(id, entry);
      if (tracked) tracked.push(entry.promise);
      queue.push([id, topic, body, q, r ? 1 : 0, stack, props]);
      if (!flushScheduled) { flushScheduled = true; Promise.resolve().then(flush); }
      return entry.promise;
    },
  });

  // ---- MQTT input: Mqtt.subscribe(filter, handler[, {self}]) -------------------------------
  const hostCall = host.call;
  const hostCallAsync = host.callAsync;
  const call = (name, ...args) => {
    const out = hostCall(name, JSON.stringify(args));
    return out === undefined ? undefined : JSON.parse(out);
  };
  // an async host call: a promise settled through the same batches as publishes
  function callAsync(what, name, args) {
    const stack = callStack();
    const id = nextId++;
    const entry = { resolve: null, reject: null, stack, promise: null, what };
    entry.promise = new PublishPromise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
    pending.set(id, entry);
    hostCallAsync(id, name, JSON.stringify(args));
    return entry.promise;
  }

  // A call from the host (entity action, automation step): resolves when the function's result
  // and the publishes it started before returning are complete.
  let tracked = null;
  // Returns the JSON of the value when the call completed at once; otherwise undefined, and the
  // outcome arrives later through host.invokeDone(callId, ok, valueJson | error parts).
  const hostInvokeDone = host.invokeDone;
  function invoke(name, argsJson, callId) {
    const fn = global[name];
    if (typeof fn !== 'function') throw new TypeError(name + ' is not a function');
    const args = JSON.parse(argsJson);
    const outer = tracked;
    tracked = [];
    let result, mine;
    try {
      result = fn.apply(undefined, args);
    } finally {
      mine = tracked;
      tracked = outer;
    }
    if (mine.length === 0 && !(result && typeof result.then === 'function')) return JSON.stringify({ value: result });
    Promise.all([result].concat(mine)).then(
      (all) => hostInvokeDone(callId, true, JSON.stringify({ value: all[0] })),
      (e) => {
        const err = e instanceof Error ? e : new Error('uncaught value: ' + String(e));
        hostInvokeDone(callId, false, err.name || 'Error', String(err.message), String(err.stack || ''));
      });
    return undefined;
  }

  const handlers = new Map();
  let nextSub = 1;
  function subscribe(filter, handler, options) {
    if (typeof filter !== 'string') throw new TypeError('Mqtt.subscribe: filter must be a string, got ' + describe(filter));
    if (typeof handler !== 'function') throw new TypeError('Mqtt.subscribe: handler must be a function, got ' + describe(handler));
    const self = !!(options && options.self);
    const id = nextSub++;
    call('subscribe', id, filter, self); // the host checks the filter and throws a located error
    handlers.set(id, handler);
    let active = true;
    return function unsubscribe() {
      if (!active) return;
      active = false;
      handlers.delete(id);
      call('unsubscribe', id);
    };
  }

  // The host delivers one message at a time; a handler that returns a promise holds the next
  // message back until it settles. Returns true when every handler finished synchronously.
  // jsonTooDeep: the host found the payload nested deeper than parsing it safely allows, so it is
  // not parsed here (m.json stays undefined).
  function deliver(ids, topic, payload, buffer, qos, retain, params, propsJson, jsonTooDeep) {
    const properties = fromWireProperties(propsJson);
    let json;
    if (!jsonTooDeep) try { json = JSON.parse(payload); } catch (e) { json = undefined; }
    const waits = [];
    for (const id of ids.split(',')) {
      const handler = handlers.get(+id);
      if (!handler) continue;
      const message = { topic, payload, bytes: new Uint8Array(buffer.slice(0)), json, qos, retain, params: JSON.parse(params) };
      if (properties) message.properties = properties;
      try {
        const r = handler(message);
        if (r && typeof r.then === 'function') waits.push(r);
      } catch (e) {
        reportHandlerError(e);
      }
    }
    if (waits.length === 0) return true;
    Promise.all(waits.map((w) => Promise.resolve(w).then(undefined, reportHandlerError))).then(() => hostCall('handlerDone', '[]'));
    return false;
  }
  const hostUncaught = host.uncaught;
  function reportHandlerError(e) {
    if (e instanceof Error) hostUncaught(e.name || 'Error', e.message, String(e.stack || ''));
    else hostUncaught('Error', 'uncaught value: ' + String(e), '');
  }

  // ---- Entities and Storage ---------------------------------------------------------------
  function checkId(fn, id) {
    if (typeof id !== 'string' || id === '') throw new TypeError(fn + ': entity id must be a non-empty string like "light.living_room", got ' + describe(id));
  }
  const Entity = Object.freeze({
    getState(id) { checkId('Entity.getState', id); return call('entity.get', id); },
    get(id) { checkId('Entity.get', id); return call('entity.describe', id); },
    history(id, opts) {
      checkId('Entity.history', id);
      if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError('Entity.history: options must be an object like { since, until }, got ' + describe(opts));
      const o = opts || {};
      const when = (v, name) => {
        if (v === undefined) return undefined;
        const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : v;
        if (typeof t !== 'number' || !isFinite(t)) throw new TypeError('Entity.history: ' + name + ' must be a Date, an ISO time or milliseconds, got ' + describe(v));
        return t;
      };
      return callAsync('Entity.history', 'entity.history', [id, { since: when(o.since, 'since'), until: when(o.until, 'until'), resolution: o.resolution }]);
    },
    setState(id, state, attributes) {
      checkId('Entity.setState', id);
      if (attributes !== undefined && (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes))) {
        throw new TypeError('Entity.setState: attributes must be an object, got ' + describe(attributes));
      }
      return call('entity.set', id, state === undefined ? null : state, attributes === undefined ? null : attributes);
    },
    callAction(id, action, params) {
      checkId('Entity.callAction', id);
      if (typeof action !== 'string' || action === '') throw new TypeError('Entity.callAction: action must be a non-empty string, got ' + describe(action));
      return callAsync('Entity.callAction', 'entity.callAction', [id, action, params === undefined ? {} : params]);
    },
  });
  function checkKey(fn, key) {
    if (typeof key !== 'string') throw new TypeError(fn + ': key must be a string, got ' + describe(key));
  }
  const Storage = Object.freeze({
    get(key) { checkKey('Storage.get', key); return call('storage.get', key); },
    set(key, value) {
      checkKey('Storage.set', key);
      if (value === undefined) throw new TypeError('Storage.set: value must be JSON (use Storage.delete to remove a key)');
      call('storage.set', key, value);
    },
    delete(key) { checkKey('Storage.delete', key); return call('storage.delete', key); },
    keys() { return call('storage.keys'); },
  });

  // Publishes made in one turn go to the host in one call (JSON), in order; binary payloads
  // travel on their own, as ArrayBuffers. The flush runs before control returns to the host.
  const queue = [];
  let flushScheduled = false;
  function flush() {
    flushScheduled = false;
    // take the queue first: a publish made while this flush is in a host call goes to the next one
    const items = queue.splice(0);
    let text = [];
    for (const item of items) {
      if (typeof item[2] === 'string') { text.push(item); continue; }
      if (text.length) { hostPublishBatch(JSON.stringify(text)); text = []; }
      hostPublish(item[0], item[1], item[2], item[3], item[4], item[5], item[6]);
    }
    if (text.length) hostPublishBatch(JSON.stringify(text));
  }

  function format(args) {
    return args.map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return (a.name || 'Error') + ': ' + a.message;
      if (a === undefined || typeof a === 'function' || typeof a === 'symbol' || typeof a === 'bigint') return String(a);
      try { return JSON.stringify(a); } catch (e) { return String(a); }
    }).join(' ');
  }
  const console = Object.freeze({
    log: (...a) => hostLog('info', format(a)),
    info: (...a) => hostLog('info', format(a)),
    debug: (...a) => hostLog('debug', format(a)),
    warn: (...a) => hostLog('warn', format(a)),
    error: (...a) => hostLog('error', format(a)),
  });

  // Timers: the host keeps time; callbacks live here, keyed by id.
  const timers = new Map();
  let nextTimer = 1;
  const hostSetTimer = host.setTimer;
  const hostClearTimer = host.clearTimer;
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn !== 'function') throw new TypeError((repeat ? 'setInterval' : 'setTimeout') + ': the callback must be a function, got ' + describe(fn));
    const id = nextTimer++;
    const delay = Math.max(0, Number(ms) || 0);
    hostSetTimer(id, delay, repeat);
    timers.set(id, { fn, args, repeat });
    return id;
  }
  function clearTimer(id) {
    if (timers.delete(id)) hostClearTimer(id);
  }
  const fireTimer = (id) => {
    const t = timers.get(id);
    if (!t) return;
    if (!t.repeat) timers.delete(id);
    t.fn.apply(undefined, t.args);
  };

  const define = (name, value) => Object.defineProperty(global, name, { value, writable: false, enumerable: false, configurable: false });
  define('Mqtt', Mqtt);
  define('Entity', Entity);
  define('Storage', Storage);
  define('MqttError', MqttError);
  define('console', console);
  define('setTimeout', (fn, ms, ...args) => addTimer(fn, ms, args, false));
  define('setInterval', (fn, ms, ...args) => addTimer(fn, ms, args, true));
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  return { fireTimer, settle, deliver, invoke };
})
`;
