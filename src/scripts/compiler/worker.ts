// The worker thread that compiles and type-checks user source. It runs with its own heap limit
// (resourceLimits) and is terminated by its owner when a job runs past the time limit, so a
// TypeScript type bomb or CoffeeScript's quadratic cases cost a worker, never the hub's event loop.
import { parentPort } from 'node:worker_threads';
import { compileToCode, type Language } from '../compile.js';
import { ScriptError } from '../errors.js';
import { typeCheck } from '../typecheck.js';

export type Job =
  | { id: number; op: 'compile'; file: string; source: string; language?: Language }
  | { id: number; op: 'typecheck'; file: string; source: string };

export interface WireError {
  detail: string;
  /** The text of the file the error is in, when it is not the script's own (a module's). */
  frameSource?: string;
  file: string;
  line: number;
  col: number;
  kind: string;
}
export type Reply =
  | {
      id: number;
      ok: true;
      compiled?: { language: Language; code: string; map?: string; modules?: string[] };
      errors?: WireError[];
    }
  | { id: number; ok: false; error: WireError };

const wire = (e: ScriptError, job?: Job): WireError => ({
  detail: e.detail,
  ...(job && e.source !== undefined && e.source !== job.source ? { frameSource: e.source } : {}),
  file: e.location.file,
  line: e.location.line,
  col: e.location.col,
  kind: e.kind,
});

parentPort!.on('message', async (job: Job) => {
  let reply: Reply;
  try {
    reply =
      job.op === 'compile'
        ? { id: job.id, ok: true, compiled: await compileToCode(job.file, job.source, job.language) }
        : { id: job.id, ok: true, errors: (await typeCheck(job.file, job.source)).map((e) => wire(e)) };
  } catch (err) {
    reply = {
      id: job.id,
      ok: false,
      error:
        err instanceof ScriptError
          ? wire(err, job)
          : { detail: String((err as Error)?.message ?? err), file: job.file, line: 1, col: 1, kind: 'Error' },
    };
  }
  parentPort!.postMessage(reply);
});
