// QuickJS's sync build (the hub's) next to its asyncify build: what e154's synchronous
// http.get(url) would cost. Measures a plain host call in each build, a host call that suspends the
// guest until a host promise settles (asyncify), the same await in plain Node, the .wasm sizes and
// the RSS of 50 module+context pairs of each. Run: npm run bench:asyncify.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { newQuickJSWASMModuleFromVariant, newQuickJSAsyncWASMModuleFromVariant } from 'quickjs-emscripten-core';
import syncVariant from '@jitl/quickjs-wasmfile-release-sync';
import asyncVariant from '@jitl/quickjs-wasmfile-release-asyncify';
const N = 20000;
function rss() { global.gc?.(); return process.memoryUsage().rss / 1048576; }
const r0 = rss();
const sync = await newQuickJSWASMModuleFromVariant(syncVariant);
const ctxS = sync.newContext();
const f = ctxS.newFunction('h', (x) => ctxS.newNumber(ctxS.getNumber(x) + 1));
ctxS.setProp(ctxS.global, 'h', f); f.dispose();
let t = performance.now();
ctxS.unwrapResult(ctxS.evalCode(`let s=0; for (let i=0;i<${N};i++) s=h(s); s`)).dispose();
const syncCall = (performance.now() - t) / N * 1000;
const r1 = rss();
const as = await newQuickJSAsyncWASMModuleFromVariant(asyncVariant);
const ctxA = as.newContext();
const g = ctxA.newFunction('h', (x) => ctxA.newNumber(ctxA.getNumber(x) + 1));
ctxA.setProp(ctxA.global, 'h', g); g.dispose();
t = performance.now();
ctxA.unwrapResult(ctxA.evalCode(`let s=0; for (let i=0;i<${N};i++) s=h(s); s`)).dispose();
const asyncPlain = (performance.now() - t) / N * 1000;
const a = ctxA.newAsyncifiedFunction('ha', async (x) => { const v = ctxA.getNumber(x); await new Promise((r) => setImmediate(r)); return ctxA.newNumber(v + 1); });
ctxA.setProp(ctxA.global, 'ha', a); a.dispose();
const M = 2000;
t = performance.now();
(await ctxA.evalCodeAsync(`let s2=0; for (let i=0;i<${M};i++) s2=ha(s2); s2`)).value?.dispose?.();
const asyncSusp = (performance.now() - t) / M * 1000;
// baseline of the same await in plain Node
t = performance.now();
for (let i = 0; i < M; i++) await new Promise((r) => setImmediate(r));
const nodeAwait = (performance.now() - t) / M * 1000;
const r2 = rss();
// per-context memory: 50 contexts of each
const cs = []; const m0 = rss(); for (let i = 0; i < 50; i++) { const m = await newQuickJSWASMModuleFromVariant(syncVariant); cs.push(m.newContext()); } const m1 = rss();
const ca = []; for (let i = 0; i < 50; i++) { const m = await newQuickJSAsyncWASMModuleFromVariant(asyncVariant); ca.push(m.newContext()); } const m2 = rss();
console.log(JSON.stringify({
  syncHostCall_us: +syncCall.toFixed(3), asyncifyBuild_plainHostCall_us: +asyncPlain.toFixed(3),
  asyncify_suspendingCall_us: +asyncSusp.toFixed(2), node_setImmediate_await_us: +nodeAwait.toFixed(2),
  wasm_kb: Object.fromEntries(['sync', 'asyncify'].map((v) => [v, Math.round(statSync(createRequire(import.meta.url).resolve(`@jitl/quickjs-wasmfile-release-${v}/wasm`)).size / 1024)])),
  rss_per_module_and_context_mb: { sync: +((m1 - m0) / 50).toFixed(2), asyncify: +((m2 - m1) / 50).toFixed(2) },
}));
