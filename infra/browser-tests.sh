#!/usr/bin/env bash
# The browser tests: functions on 9002 (HC_TEST_BROWSER_FUNCTIONS_PORT) (`--ignore-changes`, one instance
# each, so that no rebuild or second cold start lands in the middle of a
# flow) and the web client on 8082 (HC_TEST_BROWSER_WEB_PORT), against the emulator on port $1 with
# tables of their own; then web/tests/run.mjs, which installs its npm
# packages and Debian's Chromium when they are missing.
source "$(dirname "$0")/lib.sh"

DYNAMODB_PORT=$1
FUNCTIONS_PORT=$(port_setting HC_TEST_BROWSER_FUNCTIONS_PORT 9002)
WEB_PORT=$(port_setting HC_TEST_BROWSER_WEB_PORT 8082)
PREFIX="web$(date +%s)-"
ENV_FILE="$LOCAL/web-e2e.env"
trap stop_children EXIT

require_free_port "$FUNCTIONS_PORT" "browser-test functions"
require_free_port "$WEB_PORT" "browser-test web client"
write_env_file "$ENV_FILE" "$DYNAMODB_PORT" "$FUNCTIONS_PORT" "$PREFIX" "$WEB_PORT"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" HC_TABLE_PREFIX="$PREFIX"
"$HCCTL" tables create > /dev/null

PATH="$VENV/bin:$PATH" background "$LOCAL/logs/web-e2e-functions.log" \
    cargo lambda watch -A 127.0.0.1 -P "$FUNCTIONS_PORT" --env-file "$ENV_FILE" --concurrency 1 --ignore-changes
wait_for_port "$FUNCTIONS_PORT" "cargo lambda watch" 120
start_exposure_worker "$ENV_FILE" "$LOCAL/logs/web-e2e-exposures.log"
background "$LOCAL/logs/web-e2e-web.log" "$ROOT/infra/web.sh" "$WEB_PORT" "http://127.0.0.1:$FUNCTIONS_PORT/lambda-url"
wait_for_port "$WEB_PORT" "the web client"

rm -f "$LOCAL/sent/web.txt"  # web/tests/lib.mjs records what this run sends
HC_WEB_URL="http://127.0.0.1:$WEB_PORT" HC_API_BASE="http://127.0.0.1:$FUNCTIONS_PORT/lambda-url" \
    HC_HCCTL="$HCCTL" node "$ROOT/web/tests/run.mjs" \
    || die "the browser tests failed (screenshots: web/test-results/; logs: .local/logs/web-e2e-functions.log)"
"$VENV/bin/python" "$ROOT/tests/e2e/no_personal_data.py" "$LOCAL/logs/web-e2e-functions.log" "$LOCAL/logs/web-e2e-web.log" \
    "$LOCAL/logs/web-e2e-exposures.log" \
    || die "personal data in the browser tests' logs, or a log missing or empty (.local/logs/web-e2e-*.log)"
