// The pages' Content-Security-Policy: writes the same <meta> into every
// web/*.html, with connect-src naming the origins of config.js (apiBase and
// allowedApis), so that the pages can call those APIs and nothing else.
//   node scripts/csp.mjs          rewrite the pages (after editing config.js)
//   node scripts/csp.mjs --check  fail if a page's policy is not what this script writes (the browser tests run it)
// frame-ancestors works only as a header (serve.py sends it; in AWS, the CDN).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const { default: config } = await import(pathToFileURL(join(web, 'config.js')));

const origins = [...new Set([config.apiBase, ...(config.allowedApis || [])].map((base) => new URL(base).origin))];
export const policy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  `connect-src 'self' ${origins.join(' ')}`,
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');
const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}">`;
const existing = /<meta http-equiv="Content-Security-Policy" content="[^"]*">/;

const check = process.argv.includes('--check');
const stale = [];
for (const name of readdirSync(web).filter((f) => f.endsWith('.html')).sort()) {
  const path = join(web, name);
  const html = readFileSync(path, 'utf8');
  let written;
  if (existing.test(html)) written = html.replace(existing, meta);
  else if (html.includes('<meta charset="utf-8">\n')) written = html.replace('<meta charset="utf-8">\n', `<meta charset="utf-8">\n${meta}\n`);
  else throw new Error(`${name}: no <meta charset="utf-8"> line to put the policy after`);
  if (written === html) continue;
  if (check) stale.push(name);
  else writeFileSync(path, written);
}
if (stale.length) {
  console.error(`the Content-Security-Policy of ${stale.join(', ')} is not that of config.js: run node scripts/csp.mjs`);
  process.exit(1);
}
