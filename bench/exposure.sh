#!/usr/bin/env bash
# An exposure of a venue with 100,000 entries in its window (or the count
# given), against an emulator of its own on port 8005
# (HC_EXPOSURE_BENCH_PORT): tests/src/bin/exposure_bench.rs. It writes the
# entries and their profiles with BatchWriteItem, measures the units per
# contact on a metered sample of 1,000 (or the second argument), then times
# the worker on the whole venue. Writing and working take many minutes.
source "$(dirname "$0")/../infra/lib.sh"

PORT=$(port_setting HC_EXPOSURE_BENCH_PORT 8005)
COUNT=${1:-100000}
SAMPLE=${2:-1000}
ensure_venv
require_free_port "$PORT" "exposure-benchmark DynamoDB emulator"
trap stop_children EXIT
start_emulator "$PORT"
HC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT" cargo run --release -q -p integration-tests --bin exposure_bench -- "$COUNT" "$SAMPLE"
