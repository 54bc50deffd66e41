// The host-call table: one named handler per function of the wire's HostApi. Arguments arrive
// decoded by their runtime type (the guest is user space: a handler gets `unknown` and checks it);
// only the wire's types are decoded (string, number, boolean, ArrayBuffer as a copy), anything else
// arrives as undefined. A handler's string or number result goes back; a throw becomes the same
// error in the guest.
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import type { HostApi } from '../guest/wire.js';

type FunctionNames = {
  [K in keyof HostApi]: HostApi[K] extends (...args: never[]) => unknown ? K : never;
}[keyof HostApi];
type ConstantNames = Exclude<keyof HostApi, FunctionNames>;
type Untrusted<T extends unknown[]> = { [I in keyof T]: unknown };

/** The host's side of every HostApi function, with the guest's arguments untrusted. */
export type HostHandlers = {
  [K in FunctionNames]: (...args: Untrusted<Parameters<HostApi[K]>>) => ReturnType<HostApi[K]>;
};
export type HostConstants = { [K in ConstantNames]: HostApi[K] };

function decode(vm: QuickJSContext, h: QuickJSHandle): unknown {
  switch (vm.typeof(h)) {
    case 'string':
      return vm.getString(h);
    case 'number':
      return vm.getNumber(h);
    case 'boolean':
      return vm.dump(h) as boolean;
    case 'object':
      try {
        const life = vm.getArrayBuffer(h);
        const copy = new Uint8Array(life.value); // out of WebAssembly memory before it is released
        life.dispose();
        return copy;
      } catch {
        return undefined; // not an ArrayBuffer: not a wire type
      }
    default:
      return undefined;
  }
}

/** A guest object with the host's handlers and constants (the caller disposes it). */
export function hostObject(vm: QuickJSContext, handlers: HostHandlers, constants: HostConstants): QuickJSHandle {
  const obj = vm.newObject();
  for (const [name, handler] of Object.entries(handlers) as [string, (...a: unknown[]) => unknown][]) {
    const fn = vm.newFunction(name, (...args) => {
      const out = handler(...args.map((a) => decode(vm, a)));
      if (typeof out === 'string') return vm.newString(out);
      if (typeof out === 'number') return vm.newNumber(out);
      return undefined;
    });
    vm.setProp(obj, name, fn);
    fn.dispose();
  }
  for (const [name, value] of Object.entries(constants)) {
    const h = vm.newNumber(value);
    vm.setProp(obj, name, h);
    h.dispose();
  }
  return obj;
}
