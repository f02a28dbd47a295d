# Shared shell functions of the local stack; sourced by dev.sh and test.sh.
# Everything it writes (the virtual environment, keys, logs, emulator state)
# lives in git-ignored folders: .venv/ and .local/.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL/logs"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Python tools, installed once and again whenever the pins change.
ensure_venv() {
    local stamp="$VENV/.requirements.sha256"
    local want
    want=$(sha256sum "$ROOT/infra/requirements.txt" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    say "installing the Python tools into .venv (infra/requirements.txt)"
    command -v python3 >/dev/null || die "python3 is required"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements.txt"
    echo "$want" > "$stamp"
}

# Refuses to start when a port is taken, saying by what if we can tell.
require_free_port() {
    local port=$1 what=$2
    if "$VENV/bin/python" -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1', $port)) == 0 else 1)"; then
        die "port $port ($what) is already in use: is another 'make dev' or 'make test' running? Stop it, or free the port."
    fi
}

# Waits until the last background process listens on the port; fails at
# once, with the end of its log, if it exits instead.
wait_for_port() {
    local port=$1 what=$2 seconds=${3:-30}
    local pid=${CHILDREN[-1]} log=${LOGS[-1]}
    for _ in $(seq 1 $((seconds * 10))); do
        if "$VENV/bin/python" -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1', $port)) == 0 else 1)"; then
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" >&2
            die "$what exited instead of listening on port $port (log: ${log#"$ROOT"/})"
        fi
        sleep 0.1
    done
    die "$what did not start on port $port within ${seconds}s (log: ${log#"$ROOT"/})"
}

# Starts the DynamoDB emulator on a port, in the background.
start_emulator() {
    local port=$1
    background "$LOCAL/logs/dynamodb-$port.log" \
        "$VENV/bin/python" "$ROOT/infra/dynamodb_emulator.py" --host 127.0.0.1 --port "$port"
    wait_for_port "$port" "the DynamoDB emulator"
}

# Writes an env file with fresh random keys for the functions. Venue codes
# point at the browser client's check-in page on the web port (8080 unless given).
write_env_file() {
    local file=$1 dynamodb_port=$2 functions_port=$3 prefix=$4 web_port=${5:-8080}
    "$VENV/bin/python" - "$file" "$dynamodb_port" "$functions_port" "$prefix" "$web_port" <<'PY'
import base64, os, sys
file, dynamodb, functions, prefix, web = sys.argv[1:]
# URL-safe and unpadded: cargo lambda's env-file parser refuses a trailing "=".
key = lambda: base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
lines = {
    "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{dynamodb}",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "HC_TABLE_PREFIX": prefix,
    "HC_LOGIN_PROVIDER": "dev",
    "HC_IDENTITY_VERIFIER": "local",
    "HC_SESSION_SECRET": key(),
    "HC_PII_HASH_KEY": key(),
    "HC_PII_ENC_KEY": key(),
    "HC_CODE_SIGNING_KEY": key(),
    "HC_CODE_ISSUER": f"http://127.0.0.1:{functions}/lambda-url/code",
    "HC_VENUE_KEY": key(),
    "HC_VENUE_URL_BASE": f"http://127.0.0.1:{web}/v",
    "RUST_LOG": "info",
}
with open(file, "w") as f:
    f.writelines(f"{k}={v}\n" for k, v in lines.items())
PY
}

# Runs a command in the background in a process group of its own, output to
# a log file, and remembers it so that stop_children ends it and everything
# it started (cargo lambda watch starts one process per function).
CHILDREN=()
LOGS=()
background() {
    local log=$1
    shift
    setsid "$@" > "$log" 2>&1 &
    CHILDREN+=($!)
    LOGS+=("$log")
}

stop_children() {
    local pid
    for pid in "${CHILDREN[@]:-}"; do
        [[ -n "$pid" ]] || continue
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${CHILDREN[@]:-}"; do
        [[ -n "$pid" ]] || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
}
