#!/usr/bin/env bash
# The load benchmark: check-ins and checkpoint scans through a local stack of
# its own, then as many plain PutItem calls straight to the emulator.
#   DynamoDB emulator  http://127.0.0.1:8002   (fresh, in memory)
#   functions          http://127.0.0.1:9003   (cargo lambda watch: debug build,
#                                              or with --release the release binaries)
# Both ports differ from those of `make dev` (8000, 9000, 8080) and `make test`
# (8001, 9001, and 9002 and 8082 for the browser tests), so it runs beside
# either. Everything it starts stops when it exits.
#
# Usage: bench/load.sh [--release] [--operations N] [--concurrency N] [--instances N] [-- <more bench/load.py options>]
#   --release      serve the release binaries (Cargo.toml's release profile, as
#                  sam build builds them, for this machine's architecture)
#                  instead of the debug ones
#   --operations   operations to send, half check-ins, half scans (default 5000)
#   --concurrency  client threads, one keep-alive connection each (default 32)
#   --instances    function instances per function (default 4)
# See docs/benchmarks.md for what it measures and the results.
source "$(dirname "$0")/../infra/lib.sh"

DYNAMODB_PORT=$(port_setting HC_LOAD_DYNAMODB_PORT 8002)
FUNCTIONS_PORT=$(port_setting HC_LOAD_FUNCTIONS_PORT 9003)
OPERATIONS=5000
CONCURRENCY=32
INSTANCES=4
EXTRA=()
BUILD=debug
# The functions the HTTP API serves (the aggregator reads streams, not requests).
FUNCTIONS=(login declaration code venue scan admin)

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
number() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 takes a positive whole number"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --operations|-n) number "$1" "${2:-}"; OPERATIONS=$2; shift 2 ;;
        --concurrency|-c) number "$1" "${2:-}"; CONCURRENCY=$2; shift 2 ;;
        --instances|-i) number "$1" "${2:-}"; INSTANCES=$2; shift 2 ;;
        --release) BUILD=release; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) usage 0 ;;
        *) printf 'unknown option: %s\n\n' "$1" >&2; usage 2 ;;
    esac
done

PREFIX="load$(date +%s)-"
ENV_FILE="$LOCAL/load.env"

ensure_venv
require_free_port "$DYNAMODB_PORT" "load-benchmark DynamoDB emulator"
require_free_port "$FUNCTIONS_PORT" "load-benchmark functions"
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "generating fresh keys into .local/load.env"
write_env_file "$ENV_FILE" "$DYNAMODB_PORT" "$FUNCTIONS_PORT" "$PREFIX"

if [[ $BUILD == release ]]; then
    # The same build as bench/coldstart.sh's, so that the two share it.
    say "building the functions (release, $(uname -m)) and hcctl (debug)"
    cargo build --release -p login -p declaration -p code -p venue -p scan -p admin -p aggregator -p coldstart --bins
    cargo build -p hcctl
else
    say "building the functions and hcctl (debug)"
    cargo build --workspace --bins
fi

say "starting the DynamoDB emulator on 127.0.0.1:$DYNAMODB_PORT"
start_emulator "$DYNAMODB_PORT"
AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT" HC_TABLE_PREFIX="$PREFIX" \
    "$HCCTL" tables create > /dev/null

if [[ $BUILD == release ]]; then
    # cargo lambda watch only routes the requests (--only-lambda-apis); the
    # release binaries themselves poll its runtime API, $INSTANCES processes
    # a function, with the same settings as the debug run's env file.
    say "serving the release binaries on 127.0.0.1:$FUNCTIONS_PORT, $INSTANCES instances each (logs: .local/logs/load-<function>-<n>.log)"
    background "$LOCAL/logs/load-functions.log" \
        "$VENV/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$FUNCTIONS_PORT" --only-lambda-apis
    wait_for_port "$FUNCTIONS_PORT" "cargo lambda watch" 120
    mapfile -t SETTINGS < "$ENV_FILE"
    for function in "${FUNCTIONS[@]}"; do
        for n in $(seq 1 "$INSTANCES"); do
            background "$LOCAL/logs/load-$function-$n.log" env "${SETTINGS[@]}" \
                AWS_LAMBDA_FUNCTION_NAME="$function" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
                AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$FUNCTIONS_PORT/.rt/$function" \
                "$TARGET_DIR/release/$function"
        done
    done
else
    # --ignore-changes: a source edit during the run must not restart the functions.
    say "serving every function on 127.0.0.1:$FUNCTIONS_PORT, $INSTANCES instances each (logs: .local/logs/load-functions.log)"
    PATH="$VENV/bin:$PATH" background "$LOCAL/logs/load-functions.log" \
        "$VENV/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$FUNCTIONS_PORT" --env-file "$ENV_FILE" \
        --concurrency "$INSTANCES" --ignore-changes
    wait_for_port "$FUNCTIONS_PORT" "cargo lambda watch" 120
fi

say "running bench/load.py"
"$VENV/bin/python" "$ROOT/bench/load.py" \
    --base "http://127.0.0.1:$FUNCTIONS_PORT" --dynamodb "http://127.0.0.1:$DYNAMODB_PORT" --prefix "$PREFIX" \
    --operations "$OPERATIONS" --concurrency "$CONCURRENCY" --instances "$INSTANCES" --build "$BUILD" "${EXTRA[@]}"
