#!/usr/bin/env bash
# The first page of the trace of a person with 300,000 entries (or the count
# given), against an emulator of its own on port 8006 (HC_TRACE_BENCH_PORT):
# tests/src/bin/trace_bench.rs. Writing the entries takes minutes.
source "$(dirname "$0")/../infra/lib.sh"

PORT=$(port_setting HC_TRACE_BENCH_PORT 8006)
COUNT=${1:-300000}
ensure_venv
require_free_port "$PORT" "trace-benchmark DynamoDB emulator"
trap stop_children EXIT
start_emulator "$PORT"
HC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT" cargo run --release -q -p integration-tests --bin trace_bench -- "$COUNT"
