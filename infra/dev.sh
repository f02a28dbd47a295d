#!/usr/bin/env bash
# `make dev`: the whole local stack in the foreground. Ctrl-C, or SIGTERM to
# its process group, stops it all.
#   DynamoDB emulator  http://127.0.0.1:8000   (data in memory; HC_DEV_DYNAMODB_PORT)
#   functions          http://127.0.0.1:9000/lambda-url/<function>/<route>  (HC_DEV_FUNCTIONS_PORT)
#   browser client     http://127.0.0.1:8080/  (web/, against these functions; HC_DEV_WEB_PORT)
source "$(dirname "$0")/lib.sh"

DYNAMODB_PORT=$(port_setting HC_DEV_DYNAMODB_PORT 8000)
FUNCTIONS_PORT=$(port_setting HC_DEV_FUNCTIONS_PORT 9000)
WEB_PORT=$(port_setting HC_DEV_WEB_PORT 8080)
ENV_FILE="$LOCAL/dev.env"

check_prerequisites rust python
ensure_venv
require_free_port "$DYNAMODB_PORT" "DynamoDB emulator"
require_free_port "$FUNCTIONS_PORT" "functions"
require_free_port "$WEB_PORT" "web client"
trap 'say "stopping"; stop_children' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Written once and kept, unless the ports it names have changed.
if ! { grep -qx "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT" "$ENV_FILE" &&
    grep -qx "HC_CODE_ISSUER=http://127.0.0.1:$FUNCTIONS_PORT/lambda-url/code" "$ENV_FILE" &&
    grep -qx "HC_VENUE_URL_BASE=http://127.0.0.1:$WEB_PORT/v" "$ENV_FILE"; } 2> /dev/null; then
    say "generating development keys into ${ENV_FILE#"$ROOT"/}"
    write_env_file "$ENV_FILE" "$DYNAMODB_PORT" "$FUNCTIONS_PORT" "hc-" "$WEB_PORT"
fi

say "building the functions and hcctl"
cargo build --workspace --bins

say "starting the DynamoDB emulator on 127.0.0.1:$DYNAMODB_PORT"
start_emulator "$DYNAMODB_PORT"
AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" HC_TABLE_PREFIX=hc- "$HCCTL" tables create

say "serving every function on 127.0.0.1:$FUNCTIONS_PORT (logs: .local/logs/functions.log)"
PATH="$VENV/bin:$PATH" background "$LOCAL/logs/functions.log" \
    cargo lambda watch -A 127.0.0.1 -P "$FUNCTIONS_PORT" --env-file "$ENV_FILE" --concurrency 4
wait_for_port "$FUNCTIONS_PORT" "cargo lambda watch" 120

say "serving the browser client on 127.0.0.1:$WEB_PORT (logs: .local/logs/web.log)"
background "$LOCAL/logs/web.log" "$ROOT/infra/web.sh" "$WEB_PORT" "http://127.0.0.1:$FUNCTIONS_PORT/lambda-url"
wait_for_port "$WEB_PORT" "the web client"

setsid tail -n +1 -F "$LOCAL/logs/functions.log" &
CHILDREN+=($!)

# The rankings are counted from the tables' streams: in AWS by the
# aggregator Lambda, here by hcctl polling the emulator's streams.
say "counting the rankings from the tables' streams (logs: .local/logs/aggregator.log)"
background "$LOCAL/logs/aggregator.log" \
    env AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" HC_TABLE_PREFIX=hc- \
    "$HCCTL" aggregate --follow --from-start
sleep 1
if ! kill -0 "${CHILDREN[-1]}" 2>/dev/null; then
    tail -n 20 "$LOCAL/logs/aggregator.log" >&2
    die "hcctl aggregate exited (log: .local/logs/aggregator.log)"
fi

say "working on exposures as they are recorded (logs: .local/logs/exposures.log)"
start_exposure_worker "$ENV_FILE" "$LOCAL/logs/exposures.log"

cat <<MSG

The local stack is up. Open the browser client: http://127.0.0.1:$WEB_PORT/
Or try:
  curl -s -X POST http://127.0.0.1:$FUNCTIONS_PORT/lambda-url/login/v1/login -H 'content-type: application/json' -d '{"code":"dev:alice"}'
Operate it with:
  AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT cargo run -q -p hcctl -- --help
The rankings are counted as scans, check-ins and first declarations happen, by
'hcctl aggregate --follow' in the background (log: .local/logs/aggregator.log):
  AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT cargo run -q -p hcctl -- rankings
Exposures recorded by the dashboard (or 'hcctl exposures create') are worked
on by 'hcctl exposures work --follow' in the background (log: .local/logs/exposures.log).
Press Ctrl-C to stop.

MSG
wait
