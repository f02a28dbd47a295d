#!/usr/bin/env bash
# `make test`: every test, with its own emulator and function server on other
# ports than `make dev`, so both can run at once. Prerequisites are checked
# first, then the quick static checks, before the long build.
source "$(dirname "$0")/lib.sh"

DYNAMODB_PORT=$(port_setting HC_TEST_DYNAMODB_PORT 8001)
FUNCTIONS_PORT=$(port_setting HC_TEST_FUNCTIONS_PORT 9001)

say "checking prerequisites"
check_prerequisites rust python browser
if packages=$(browser_packages_missing); then
    say "the browser tests need $packages: running 'make deps' (apt-get)"
    "$ROOT/infra/deps.sh"
fi

ensure_venv
require_free_port "$DYNAMODB_PORT" "test DynamoDB emulator"
require_free_port "$FUNCTIONS_PORT" "test functions"
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

static_checks

say "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

say "sam validate --lint"
AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$VENV/bin/sam" validate --lint --template template.yaml

say "the log search's own test (tests/e2e/test_no_personal_data.py)"
"$VENV/bin/python" "$ROOT/tests/e2e/test_no_personal_data.py"

say "the reopening-morning simulation (bench/test_surge.py: it runs, and the proposed settings are the template's)"
"$VENV/bin/python" "$ROOT/bench/test_surge.py"

say "starting the test DynamoDB emulator on 127.0.0.1:$DYNAMODB_PORT"
start_emulator "$DYNAMODB_PORT"

say "cargo test"
HC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT" cargo test --workspace

say "end-to-end smoke test through cargo lambda watch"
"$ROOT/infra/e2e.sh" "$DYNAMODB_PORT" "$FUNCTIONS_PORT"

say "make dev stops everything it started on SIGTERM (infra/dev-sigterm-test.sh)"
"$ROOT/infra/dev-sigterm-test.sh"

say "browser tests (web/tests: Playwright, Debian's Chromium) through cargo lambda watch and infra/web.sh"
"$ROOT/infra/browser-tests.sh" "$DYNAMODB_PORT"

say "all tests passed"
