#!/usr/bin/env bash
# The end-to-end smoke test: serves every function with `cargo lambda watch`
# against the emulator on port $1, on port $2, with fresh keys and tables,
# and drives them over HTTP with tests/e2e/smoke.py.
source "$(dirname "$0")/lib.sh"

DYNAMODB_PORT=$1
FUNCTIONS_PORT=$2
PREFIX="e2e$(date +%s)-"
ENV_FILE="$LOCAL/e2e.env"
trap stop_children EXIT

write_env_file "$ENV_FILE" "$DYNAMODB_PORT" "$FUNCTIONS_PORT" "$PREFIX"
cargo build --workspace --bins
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" HC_TABLE_PREFIX="$PREFIX"
"$ROOT/target/debug/hcctl" tables create > /dev/null

PATH="$VENV/bin:$PATH" background "$LOCAL/logs/e2e-functions.log" \
    cargo lambda watch -A 127.0.0.1 -P "$FUNCTIONS_PORT" --env-file "$ENV_FILE" --concurrency 2
wait_for_port "$FUNCTIONS_PORT" "cargo lambda watch" 120

"$VENV/bin/python" "$ROOT/tests/e2e/smoke.py" --base "http://127.0.0.1:$FUNCTIONS_PORT" --hcctl "$ROOT/target/debug/hcctl" \
    --log "$LOCAL/logs/e2e-functions.log" \
    || die "the end-to-end smoke test failed (function logs: .local/logs/e2e-functions.log)"
