// Where the pages find the API. Edit this file when deploying web/ next to
// the API in AWS, or open any page once with ?api=<base URL> (remembered in
// this browser; ?api=default forgets it).
//
// layout 'lambda-url': route R of function F is at <apiBase>/F/R, as
//   `cargo lambda watch` serves the functions locally (make dev).
// layout 'gateway':    route R is at <apiBase>R, as the API Gateway HTTP API
//   serves them in AWS (apiBase = the stack output ApiUrl, without a trailing /).
export default {
  apiBase: 'http://127.0.0.1:9000/lambda-url',
  layout: 'lambda-url',
};
