// What a guest throw becomes on the host: plain data with the wording a user can act on
// (interrupted, stack overflow, out of memory name the limit that was hit).
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import type { ScriptLimits } from '../../config/schema.js';
import { guestError } from '../guest-data.js';

/** An error thrown inside the sandbox, as plain data. */
export interface GuestError {
  name: string;
  message: string;
  stack: string;
}

/** An error the guest reported as parts, with the same wording as one it threw. */
export function describeThrown(e: GuestError, limits: ScriptLimits): GuestError {
  if (e.name === 'InternalError' && /interrupted/.test(e.message))
    e.message = `interrupted: the script ran longer than cpu_limit_ms (${limits.cpu_limit_ms} ms) without returning (an endless loop?)`;
  if (e.name === 'InternalError' && /stack overflow/.test(e.message))
    e.message = `stack overflow: recursion deeper than stack_size_kb (${limits.stack_size_kb} KiB) allows`;
  return e;
}

/** The error in `handle` (disposed here) as a GuestError. */
export function toGuestError(vm: QuickJSContext, handle: QuickJSHandle, limits: ScriptLimits): GuestError {
  const dumped = vm.dump(handle) as unknown;
  handle.dispose();
  if (dumped && typeof dumped === 'object') {
    const raw = dumped as { name?: unknown; message?: unknown; stack?: unknown };
    const e = guestError(raw.name, raw.message, raw.stack);
    if (typeof raw.message !== 'string') e.message = Array.isArray(dumped) ? 'uncaught array' : 'uncaught object';
    return describeThrown(e, limits);
  }
  if (dumped === null || /out of memory/i.test(String(dumped))) {
    return {
      name: 'InternalError',
      message: `out of memory: the script used more than memory_limit_mb (${limits.memory_limit_mb} MB)`,
      stack: '',
    };
  }
  return guestError('Error', `uncaught value: ${typeof dumped === 'string' ? dumped : String(dumped)}`, '');
}
