// Builds the guest side of the script bindings (src/scripts/guest/*.ts): type-checks them on
// their own (ES2020 only: no Node or DOM types, as inside QuickJS) and bundles them with esbuild
// into one file the sandbox evaluates in every script's context before the script
// (dist/src/scripts/guest/prelude.bundle.js).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

execFileSync(
  process.execPath,
  [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'src/scripts/guest'],
  {
    stdio: 'inherit',
  },
);
const result = await build({
  entryPoints: ['src/scripts/guest/index.ts'],
  bundle: true,
  write: false,
  format: 'iife',
  globalName: 'guest',
  target: 'es2020',
  platform: 'neutral',
  legalComments: 'none',
  minify: process.env.GUEST_MINIFY !== '0',
});
const code = result.outputFiles[0].text;
mkdirSync('dist/src/scripts/guest', { recursive: true });
// evaluated as an expression: the value is `install(host, global)`
writeFileSync('dist/src/scripts/guest/prelude.bundle.js', `(function(){${code};return guest.install})()\n`);
