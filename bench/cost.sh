#!/usr/bin/env bash
# `make cost`: what a million of each operation costs at AWS list prices,
# from the units of every DynamoDB call, priced by DynamoDB's rules from the
# item sizes read from the emulator (tests/src/capacity.rs), and handler
# time measured in a release build (tests/src/bin/cost.rs; prices in
# tests/src/prices.rs). Uses an emulator of its own on port 8004
# (HC_COST_DYNAMODB_PORT).
source "$(dirname "$0")/../infra/lib.sh"

PORT=$(port_setting HC_COST_DYNAMODB_PORT 8004)
RUNS=${1:-200}
ensure_venv
require_free_port "$PORT" "cost-report DynamoDB emulator"
trap stop_children EXIT
start_emulator "$PORT"
HC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT" cargo run --release -q -p integration-tests --bin cost -- "$RUNS"
