#!/usr/bin/env bash
# The end-to-end tests: serves every function with `cargo lambda watch`
# against the emulator on port $1, on port $2, with fresh keys and tables;
# drives them over HTTP with tests/e2e/smoke.py; fuzzes every route from
# docs/openapi.yaml with schemathesis behind infra/apigw.py (port $2 + 10),
# with the exposure worker (hcctl exposures work --follow) running;
# and searches its logs (functions, gateway, fuzzing) for personal data.
source "$(dirname "$0")/lib.sh"

DYNAMODB_PORT=$1
FUNCTIONS_PORT=$2
PREFIX="e2e$(date +%s)-"
ENV_FILE="$LOCAL/e2e.env"
trap stop_children EXIT

write_env_file "$ENV_FILE" "$DYNAMODB_PORT" "$FUNCTIONS_PORT" "$PREFIX"
cargo build --workspace --bins
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" HC_TABLE_PREFIX="$PREFIX"
"$HCCTL" tables create > /dev/null

PATH="$VENV/bin:$PATH" background "$LOCAL/logs/e2e-functions.log" \
    cargo lambda watch -A 127.0.0.1 -P "$FUNCTIONS_PORT" --env-file "$ENV_FILE" --concurrency 2
wait_for_port "$FUNCTIONS_PORT" "cargo lambda watch" 120
start_exposure_worker "$ENV_FILE" "$LOCAL/logs/e2e-exposures.log"

"$VENV/bin/python" "$ROOT/tests/e2e/smoke.py" --base "http://127.0.0.1:$FUNCTIONS_PORT" --hcctl "$HCCTL" \
    || die "the end-to-end smoke test failed (function logs: .local/logs/e2e-functions.log)"

GATEWAY_PORT=$(port_setting HC_TEST_GATEWAY_PORT $((FUNCTIONS_PORT + 10)))
require_free_port "$GATEWAY_PORT" "API gateway stand-in"
background "$LOCAL/logs/e2e-apigw.log" "$VENV/bin/python" "$ROOT/infra/apigw.py" --port "$GATEWAY_PORT" --functions "http://127.0.0.1:$FUNCTIONS_PORT"
wait_for_port "$GATEWAY_PORT" "the API gateway stand-in"
say "schema fuzzing of docs/openapi.yaml (schemathesis, deterministic generation, fixtures seeded)"
"$VENV/bin/python" "$ROOT/tests/e2e/fuzz.py" --base "http://127.0.0.1:$GATEWAY_PORT" --hcctl "$HCCTL" \
    > "$LOCAL/logs/e2e-fuzz.log" 2>&1 \
    || { tail -n 45 "$LOCAL/logs/e2e-fuzz.log"
         die "schema fuzzing found problems (report: .local/logs/e2e-fuzz.log)"; }
grep -E "^==> schemathesis|passed|generated" "$LOCAL/logs/e2e-fuzz.log" || true
sed -n '/^==> per-operation report/,$p' "$LOCAL/logs/e2e-fuzz.log"

"$VENV/bin/python" "$ROOT/tests/e2e/no_personal_data.py" \
    "$LOCAL/logs/e2e-functions.log" "$LOCAL/logs/e2e-apigw.log" "$LOCAL/logs/e2e-fuzz.log" \
    "$LOCAL/logs/e2e-exposures.log" \
    || die "personal data in the end-to-end logs, or a log missing or empty (.local/logs/e2e-*.log)"
