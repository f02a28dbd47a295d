// Where the pages find the API. Edit this file when deploying web/ next to
// the API in AWS (web/README.md), then run `node scripts/csp.mjs` so that the
// pages' Content-Security-Policy lets them call it.
//
// layout 'lambda-url': route R of function F is at <apiBase>/F/R, as
//   `cargo lambda watch` serves the functions locally (make dev).
// layout 'gateway':    route R is at <apiBase>R, as the API Gateway HTTP API
//   serves them in AWS (apiBase = the stack output ApiUrl, without a trailing /).
//
// allowedApis: the only APIs a page may be pointed at with ?api=<base URL>
//   (compared by origin; apiBase is always allowed). Anything else is refused
//   and never remembered: a crafted link must not send this browser's tokens,
//   names and ID numbers to another server.
const config = {
  apiBase: 'http://127.0.0.1:9000/lambda-url',
  layout: 'lambda-url',
  allowedApis: ['http://127.0.0.1:9000/lambda-url'],
};
export default config;
