// Builds the web UI (web/ -> dist/web/) with esbuild, and the editor's completions from the
// script API's own type file (types/smart-home.d.ts), so the two cannot drift apart.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import ts from 'typescript';

const out = 'dist/web';
mkdirSync(out, { recursive: true });
mkdirSync('web/src/generated', { recursive: true });
writeFileSync('web/src/generated/completions.json', JSON.stringify(completions('types/smart-home.d.ts')));
// esbuild strips types without checking them: check first (after the generated file exists)
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'web'], {
  stdio: 'inherit',
});
await build({
  entryPoints: ['web/src/main.tsx'],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: 'es2022',
  // the script editor (CodeMirror) is its own chunk, loaded by the Scripts page
  splitting: true,
  outdir: out,
  entryNames: 'app',
  chunkNames: 'chunks/[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css', 'manifest.webmanifest', 'icon.svg', 'sw.js'])
  copyFileSync(`web/${f}`, `${out}/${f}`);

/** Globals (`Mqtt`, `Entity`, `actionName`...) and the members of each, with their signature and doc. */
function completions(file) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const doc = (node) =>
    ts
      .getJSDocCommentsAndTags(node)
      .map((d) => (typeof d.comment === 'string' ? d.comment : ''))
      .join('\n')
      .trim();
  const interfaces = new Map();
  const globals = [];
  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st)) interfaces.set(st.name.text, st);
    if (ts.isVariableStatement(st))
      for (const d of st.declarationList.declarations)
        globals.push({
          label: d.name.getText(sf),
          type: 'variable',
          detail: d.type?.getText(sf) ?? '',
          info: doc(st),
          iface: d.type?.getText(sf),
        });
    if (ts.isFunctionDeclaration(st) && st.name)
      globals.push({
        label: st.name.text,
        type: 'function',
        detail: st
          .getText(sf)
          .replace(/^declare function \w+/, '')
          .replace(/;$/, ''),
        info: doc(st),
      });
  }
  const members = {};
  for (const g of globals) {
    const iface = g.iface && interfaces.get(g.iface);
    delete g.iface;
    if (!iface) continue;
    const seen = new Map();
    for (const m of iface.members) {
      const label = m.name?.getText(sf);
      if (!label) continue;
      const detail = m.getText(sf).slice(label.length).replace(/;$/, '');
      const prev = seen.get(label);
      if (prev) prev.detail += `\n${detail}`;
      else seen.set(label, { label, type: ts.isMethodSignature(m) ? 'method' : 'property', detail, info: doc(m) });
    }
    members[g.label] = [...seen.values()];
  }
  return { globals, members };
}
