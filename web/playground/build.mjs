// Bundles the playground (main.jsx, GraphiQL and React from the pinned
// packages in node_modules) and Monaco's three workers, minified, into
// internal/server/playground/ as gzip files the binary embeds, with
// SHA256SUMS: the sha256 of each file before compression, which the server
// uses as ETag and its tests check the embedded files against.
//
//   node build.mjs          write the assets (make playground-assets)
//   node build.mjs --check  build in memory and compare with SHA256SUMS
//                           (make playground-assets-check)
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', '..', 'internal', 'server', 'playground');
const check = process.argv.includes('--check');

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  legalComments: 'none',
  target: 'es2022',
  define: { 'process.env.NODE_ENV': '"production"' },
  outdir: 'out', // nothing is written: write is false
  write: false,
  logLevel: 'warning',
};

const page = await esbuild.build({
  ...common,
  entryPoints: { main: 'main.jsx' },
  format: 'esm',
  jsx: 'automatic',
  loader: { '.ttf': 'file' },
  assetNames: '[name]',
});
const workers = await esbuild.build({
  ...common,
  entryPoints: {
    'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
    'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
    'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
  },
  format: 'iife',
});

const files = [...page.outputFiles, ...workers.outputFiles]
  .map((f) => ({ name: basename(f.path), contents: f.contents }))
  .sort((a, b) => (a.name < b.name ? -1 : 1));

const version = (pkg) => JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const pinned = ['graphiql', '@graphiql/react', 'monaco-editor', 'react', 'react-dom', 'graphql', 'esbuild']
  .map((p) => `${p} ${version(p)}`)
  .join(', ');
const sums =
  `# Built by \`make playground-assets\` from web/playground: ${pinned}.\n` +
  '# sha256 of each file before gzip; the binary embeds <name>.gz.\n' +
  files.map((f) => `${createHash('sha256').update(f.contents).digest('hex')}  ${f.name}\n`).join('');

const sumsPath = join(outDir, 'SHA256SUMS');
if (check) {
  let committed = '';
  try {
    committed = readFileSync(sumsPath, 'utf8');
  } catch {
    // missing: reported as a difference below
  }
  if (committed !== sums) {
    console.error(`playground assets differ from ${sumsPath}; run make playground-assets.\nbuilt:\n${sums}committed:\n${committed}`);
    process.exit(1);
  }
  console.log(`playground assets match ${sumsPath} (${files.length} files)`);
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
for (const name of readdirSync(outDir)) {
  if (name.endsWith('.gz')) rmSync(join(outDir, name));
}
let total = 0;
for (const f of files) {
  const gz = gzipSync(f.contents, { level: 9 });
  total += gz.length;
  writeFileSync(join(outDir, `${f.name}.gz`), gz);
  console.log(`${f.name.padEnd(20)} ${(f.contents.length / 1024).toFixed(0).padStart(6)} KiB, ${(gz.length / 1024).toFixed(0).padStart(5)} KiB gzipped`);
}
writeFileSync(sumsPath, sums);
console.log(`${files.length} files, ${(total / 1024).toFixed(0)} KiB gzipped, in ${outDir}`);
