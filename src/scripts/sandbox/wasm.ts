// The QuickJS WebAssembly module, compiled once per process, and one instance of it per script
// with its own memory.
//
// quickjs-emscripten's setMemoryLimit does not add up what a runtime holds (its WebAssembly build
// cannot see allocation sizes; upstream issues #255/#271): a script could grow a shared
// WebAssembly heap to gigabytes. So each script gets its own instance of the (once compiled)
// module with its own WebAssembly.Memory whose `maximum` is the hard cap: when a script's memory
// cannot grow, QuickJS raises "out of memory" in that script only.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC, type QuickJSWASMModule } from 'quickjs-emscripten';

const WASM_PAGE = 65536;
/** What the module itself needs before any script allocates: its declared minimum memory. */
const BASE_PAGES = 256;
let compiled: Promise<WebAssembly.Module> | undefined;

function compiledModule(): Promise<WebAssembly.Module> {
  return (compiled ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@jitl/quickjs-wasmfile-release-sync/package.json'));
    return WebAssembly.compile(await readFile(path.join(dir, 'dist', 'emscripten-module.wasm')));
  })());
}

export interface Instance {
  module: QuickJSWASMModule;
  memory: WebAssembly.Memory;
  /** The memory's hard cap in bytes (the module's own pages plus memory_limit_mb). */
  capBytes: number;
}

export async function quickjs(memoryLimitMb: number): Promise<Instance> {
  const wasmModule = await compiledModule();
  const maximum = BASE_PAGES + Math.ceil((memoryLimitMb * 1024 * 1024) / WASM_PAGE);
  const wasmMemory = new WebAssembly.Memory({ initial: BASE_PAGES, maximum });
  return {
    module: await newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmModule, wasmMemory })),
    memory: wasmMemory,
    capBytes: maximum * WASM_PAGE,
  };
}

export const PRELUDE_FILE = 'smart-home:prelude';
let prelude: string | undefined;

/** The guest side of the bindings, bundled at build time from src/scripts/guest (scripts/build-guest.mjs). */
export function preludeSource(): string {
  if (prelude !== undefined) return prelude;
  const file = new URL('../guest/prelude.bundle.js', import.meta.url);
  try {
    prelude = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `the script prelude ${file.pathname} is missing (${(err as Error).message}): run \`npm run build\` (it bundles src/scripts/guest)`,
    );
  }
  return prelude;
}
