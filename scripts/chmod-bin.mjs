// npm links the bin on install; make the built entry executable so `./dist/src/cli/main.js` works too.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
