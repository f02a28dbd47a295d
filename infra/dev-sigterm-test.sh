#!/usr/bin/env bash
# Test: `make dev` stopped by SIGTERM to its process group (as `timeout`, a
# CI runner or a service manager stops it) leaves nothing running. Starts
# infra/dev.sh on ports of its own with keys and logs in
# .local/sigterm-test/, waits until the stack is up and a function has
# answered (so that cargo lambda watch has started a function process),
# sends SIGTERM to the group, and checks that every process it had started
# is gone and its ports are free within 20 seconds.
source "$(dirname "$0")/lib.sh"

DYNAMODB_PORT=$(port_setting HC_SIGTERM_DYNAMODB_PORT 8007)
FUNCTIONS_PORT=$(port_setting HC_SIGTERM_FUNCTIONS_PORT 9007)
WEB_PORT=$(port_setting HC_SIGTERM_WEB_PORT 8087)
STATE="$ROOT/.local/sigterm-test"
OUT="$ROOT/.local/logs/sigterm-test.log"
rm -rf "$STATE"
mkdir -p "$STATE"

port_open() {
    "$VENV/bin/python" -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1', $1)) == 0 else 1)"
}

# Every descendant of a process, by parent ids.
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root && p != root) print p } }'
}

setsid env HC_LOCAL_DIR="$STATE" HC_DEV_DYNAMODB_PORT="$DYNAMODB_PORT" HC_DEV_FUNCTIONS_PORT="$FUNCTIONS_PORT" \
    HC_DEV_WEB_PORT="$WEB_PORT" "$ROOT/infra/dev.sh" > "$OUT" 2>&1 &
DEV=$!
cleanup() { kill -KILL -- "-$DEV" 2> /dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 600); do
    grep -q "The local stack is up" "$OUT" && break
    kill -0 "$DEV" 2> /dev/null || { tail -n 20 "$OUT" >&2; die "infra/dev.sh exited before the stack was up (log: ${OUT#"$ROOT"/})"; }
    sleep 0.5
done
grep -q "The local stack is up" "$OUT" || die "the stack was not up within 5 minutes (log: ${OUT#"$ROOT"/})"
# One request, so that cargo lambda watch runs a function process too.
curl -sf -m 120 -X POST "http://127.0.0.1:$FUNCTIONS_PORT/lambda-url/login/v1/login" \
    -H 'content-type: application/json' -d '{"code":"dev:sigterm"}' > /dev/null \
    || die "the login function did not answer (log: ${OUT#"$ROOT"/})"

mapfile -t started < <(descendants "$DEV")
(( ${#started[@]} >= 6 )) || die "expected the emulator, cargo lambda watch, a function, the web server, hcctl aggregate and hcctl exposures work; found ${#started[@]} processes"

kill -TERM -- "-$DEV"
for _ in $(seq 1 200); do
    alive=()
    kill -0 "$DEV" 2> /dev/null && alive+=("$DEV")
    for pid in "${started[@]}"; do kill -0 "$pid" 2> /dev/null && alive+=("$pid"); done
    busy=()
    for port in "$DYNAMODB_PORT" "$FUNCTIONS_PORT" "$WEB_PORT"; do port_open "$port" && busy+=("$port"); done
    (( ${#alive[@]} == 0 && ${#busy[@]} == 0 )) && break
    sleep 0.1
done
if (( ${#alive[@]} || ${#busy[@]} )); then
    for pid in "${alive[@]}"; do ps -o pid=,args= -p "$pid" >&2 || true; done
    die "20 s after SIGTERM to make dev: still running ${alive[*]:-none}; ports still open ${busy[*]:-none}"
fi
say "make dev stopped ${#started[@]} processes and freed ports $DYNAMODB_PORT, $FUNCTIONS_PORT, $WEB_PORT on SIGTERM"
