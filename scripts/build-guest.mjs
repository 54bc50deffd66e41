// Builds the guest side of the script bindings (src/scripts/guest/*.ts): type-checks them on
// their own (ES2020 only: no Node or DOM types, as inside QuickJS) and bundles them with esbuild
// into one file the sandbox evaluates in every script's context before the script
// (dist/src/scripts/guest/prelude.bundle.js), and the test API of smart-home test into another
// (test.bundle.js), installed only in a test file's sandbox.
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
const bundle = async (entry) => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'guest',
    target: 'es2020',
    platform: 'neutral',
    legalComments: 'none',
    minify: process.env.GUEST_MINIFY !== '0',
  });
  // evaluated as an expression: the value is the entry's `install`
  return `(function(){${result.outputFiles[0].text};return guest.install})()\n`;
};
mkdirSync('dist/src/scripts/guest', { recursive: true });
writeFileSync('dist/src/scripts/guest/prelude.bundle.js', await bundle('src/scripts/guest/index.ts'));
// the test API of smart-home test (test, expect, home, clock): only in a test file's sandbox
writeFileSync('dist/src/scripts/guest/test.bundle.js', await bundle('src/scripts/guest/testing.ts'));
