// The browser tests: node web/tests/run.mjs (or npm --prefix web test).
//
// Needs a running local stack; where it is comes from the environment:
//   HC_WEB_URL                 the pages, served by infra/web.sh     [http://127.0.0.1:8080]
//   HC_API_BASE                the functions (cargo lambda watch)    [http://127.0.0.1:9000/lambda-url]
//   HC_HCCTL                   the hcctl binary                      [target/debug/hcctl]
//   AWS_ENDPOINT_URL_DYNAMODB  the stack's DynamoDB, for hcctl       [http://127.0.0.1:8000]
//   HC_TABLE_PREFIX            the stack's table prefix, for hcctl   [hc-]
//   HC_CHROMIUM                the browser                           [/usr/bin/chromium]
//
// Before the tests it installs what is missing: the npm packages of
// package-lock.json (npm ci), Debian's Chromium and a CJK font (apt-get),
// and checks that the vendored files are those scripts/vendor.mjs writes.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const chromium = process.env.HC_CHROMIUM || '/usr/bin/chromium';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: web, ...options });
  if (result.error) throw result.error;
  return result.status === 0;
}

function must(command, args, options) {
  if (!run(command, args, options)) {
    console.error(`failed: ${command} ${args.join(' ')}`);
    process.exit(1);
  }
}

// npm packages: installed exactly as package-lock.json says.
function npmCurrent() {
  const lock = JSON.parse(readFileSync(join(web, 'package-lock.json'), 'utf8'));
  return Object.entries(lock.packages)
    .filter(([path]) => path.startsWith('node_modules/'))
    .every(([path, { version }]) => {
      try {
        return JSON.parse(readFileSync(join(web, path, 'package.json'), 'utf8')).version === version;
      } catch {
        return false;
      }
    });
}
if (!npmCurrent()) {
  console.log('==> npm ci (web/package-lock.json)');
  must('npm', ['ci', '--no-audit', '--no-fund']);
}

// Debian packages: the browser, and a font with Chinese characters for the screenshots.
const asRoot = (args) => (process.getuid && process.getuid() === 0 ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]]);
const missing = [];
if (!existsSync(chromium)) missing.push('chromium');
const fonts = spawnSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' });
if (fonts.error || !fonts.stdout.trim()) missing.push('fonts-wqy-microhei');
if (missing.length) {
  console.log(`==> apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  must(...asRoot(['update', '-qq']), { env });
  must(...asRoot(['install', '-y', '-qq', ...missing]), { env });
}

must('node', ['scripts/vendor.mjs', '--check']);
must('node', ['scripts/csp.mjs', '--check']);

// The stack: the pages, and every function (the first request to a function
// of `cargo lambda watch` may wait for it to build and start).
const WEB = (process.env.HC_WEB_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const API = (process.env.HC_API_BASE || 'http://127.0.0.1:9000/lambda-url').replace(/\/+$/, '');
const probes = [
  ['web', `${WEB}/index.html`],
  ['login', `${API}/login/v1/me`],
  ['declaration', `${API}/declaration/v1/declarations`],
  ['code', `${API}/code/.well-known/jwks.json`],
  ['venue', `${API}/venue/v1/venues/mine`],
  ['scan', `${API}/scan/v1/checkins`],
  ['admin', `${API}/admin/v1/admin/rankings`],
];
console.log(`==> waiting for the stack: pages at ${WEB}, functions at ${API}`);
await Promise.all(
  probes.map(async ([what, url]) => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(240_000) });
        if (response.status < 500) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) {
        console.error(`${what} does not answer at ${url}: is the stack running (see web/tests/run.mjs)?`);
        process.exit(1);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }),
);

const tests = ['tests/flows.test.mjs', 'tests/find.test.mjs', 'tests/paper.test.mjs', 'tests/idcard.test.mjs'];
const ok = run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...tests]);
process.exit(ok ? 0 : 1);
