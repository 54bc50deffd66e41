// Compiling and type-checking user source off the main thread (issue 14, breaks 4 and 6: a 153-byte
// TypeScript type bomb blocked the event loop 65 s and ended the process out of heap; 32 KB of
// CoffeeScript took 13 s). One worker per kind of job, started when first needed, with its own
// heap limit; a job past the time limit terminates its worker (the next job gets a new one), and
// both limits end in an error located at the script, not a hub outage. An idle worker exits
// after a while, so TypeScript's ~60 MiB are not kept for nothing.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { fromCompiled, languageOf, usesModules, type CompiledScript, type Language } from '../compiled.js';
import { ScriptError } from '../errors.js';
import type { Job, Reply, WireError } from './worker.js';

export interface CompileLimits {
  compile_timeout_ms: number;
  compile_memory_mb: number;
}

const WORKER = new URL('./worker.js', import.meta.url);
const IDLE_MS = 30_000;

type Pending = { job: Job; resolve: (r: Reply) => void; reject: (e: Error) => void };
type JobBody = Job extends infer J ? (J extends Job ? Omit<J, 'id'> : never) : never;

class WorkerLane {
  private worker?: Worker;
  private readonly queue: Pending[] = [];
  private current?: Pending & { timer: NodeJS.Timeout };
  private idle?: NodeJS.Timeout;
  private nextId = 1;

  constructor(
    private readonly limits: () => CompileLimits,
    private readonly what: string,
  ) {}

  run(body: JobBody): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { ...body, id: this.nextId++ } as Job, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = undefined;
    }
    const next = this.queue.shift()!;
    const { compile_timeout_ms: timeout, compile_memory_mb: memory } = this.limits();
    const worker = this.spawn(memory);
    const timer = setTimeout(
      () =>
        this.fail(
          `${this.what} took longer than scripts.compile_timeout_ms (${timeout} ms); simplify the code (deeply nested or very long types and expressions are the usual cause)`,
        ),
      timeout,
    );
    this.current = { ...next, timer };
    worker.ref(); // a job in flight keeps the process alive (the CLI awaits it); an idle worker does not
    worker.postMessage(next.job);
  }

  private spawn(memoryMb: number): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER, {
      resourceLimits: {
        maxOldGenerationSizeMb: memoryMb,
        maxYoungGenerationSizeMb: Math.min(64, Math.max(8, memoryMb / 8)),
        stackSizeMb: 4,
      },
    });
    w.unref();
    w.on('message', (reply: Reply) => {
      const cur = this.current;
      if (!cur || cur.job.id !== reply.id) return;
      clearTimeout(cur.timer);
      this.current = undefined;
      w.unref();
      cur.resolve(reply);
      this.afterJob();
    });
    w.on('error', (err: Error & { code?: string }) => {
      this.fail(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `${this.what} needed more memory than scripts.compile_memory_mb (${this.limits().compile_memory_mb} MB); simplify the code (deeply nested or recursive types are the usual cause)`
          : `${this.what} failed: ${err.message}`,
        false,
      );
    });
    w.on('exit', () => {
      if (this.worker !== w) return;
      this.worker = undefined;
      if (this.current) this.fail(`${this.what} stopped unexpectedly`, false);
    });
    this.worker = w;
    return w;
  }

  /** The current job failed (time, memory): its worker is gone, the job is rejected, the next one starts. */
  private fail(message: string, terminate = true): void {
    const cur = this.current;
    const w = this.worker;
    this.worker = undefined;
    if (terminate) void w?.terminate();
    if (!cur) return;
    clearTimeout(cur.timer);
    this.current = undefined;
    cur.resolve({
      id: cur.job.id,
      ok: false,
      error: { detail: message, file: cur.job.file, line: 1, col: 1, kind: 'Error' },
    });
    this.afterJob();
  }

  private afterJob(): void {
    if (this.queue.length > 0) return this.pump();
    this.idle = setTimeout(() => {
      const w = this.worker;
      this.worker = undefined;
      void w?.terminate();
    }, IDLE_MS);
    this.idle.unref();
  }

  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}

const toError = (e: WireError, source: string) =>
  new ScriptError(e.detail, { file: e.file, line: e.line, col: e.col }, e.frameSource ?? source, e.kind);

let limits: CompileLimits = { compile_timeout_ms: 10_000, compile_memory_mb: 512 };
const compileLane = new WorkerLane(() => limits, 'compiling');
const checkLane = new WorkerLane(() => limits, 'type-checking');

/** Sets the limits of every later job (from the config's `scripts` section). */
export function configureCompiler(l: CompileLimits): void {
  limits = { compile_timeout_ms: l.compile_timeout_ms, compile_memory_mb: l.compile_memory_mb };
}

/**
 * Compiles off the main thread; a syntax error, or a compile past the limits, rejects with a
 * ScriptError. Remembered by source (checked, then loaded; an action body run again and again),
 * bounded in entries and in source kept; failed compiles are not remembered.
 */
export function compileOffThread(file: string, source: string, language?: Language): Promise<CompiledScript> {
  let lang: Language;
  try {
    lang = language ?? languageOf(file);
  } catch (err) {
    return Promise.reject(err);
  }
  const key = `${lang}\0${file}\0${createHash('sha256').update(source).digest('base64')}`;
  // a script with modules is compiled each time: a module may have changed since
  const hit = usesModules(source) ? undefined : compiledCache.get(key);
  if (hit) {
    compiledCache.delete(key);
    compiledCache.set(key, hit);
    return hit.compiled;
  }
  const compiled = compileLane.run({ op: 'compile', file, source, language: lang }).then((r) => {
    if (!r.ok) throw toError(r.error, source);
    const c = r.compiled!;
    return fromCompiled(file, source, c.language, c.code, c.map, c.modules);
  });
  compiledCache.set(key, { compiled, size: source.length });
  compiledBytes += source.length;
  compiled.catch(() => forget(key));
  // a 1 MB script compiled 200 times would otherwise be 200 MB
  while (compiledCache.size > 200 || compiledBytes > 16 * 1024 * 1024) forget(compiledCache.keys().next().value!);
  return compiled;
}

const compiledCache = new Map<string, { compiled: Promise<CompiledScript>; size: number }>();
let compiledBytes = 0;

function forget(key: string): void {
  const e = compiledCache.get(key);
  if (!e) return;
  compiledCache.delete(key);
  compiledBytes -= e.size;
}

/** Type errors of a TypeScript script against the script API, checked off the main thread. */
export async function typeCheckOffThread(file: string, source: string): Promise<ScriptError[]> {
  const r = await checkLane.run({ op: 'typecheck', file, source });
  if (!r.ok) return [toError(r.error, source)];
  return (r.errors ?? []).map((e) => toError(e, source));
}

/** Ends the workers (tests, and the CLI before it exits). */
export async function closeCompiler(): Promise<void> {
  await Promise.all([compileLane.close(), checkLane.close()]);
}
