#!/usr/bin/env bash
# Serves the browser client (web/) on http://127.0.0.1:$1 (default 8080)
# with Python's http.server (web/serve.py: JavaScript modules, `/v` for venue
# codes, the frame-ancestors header). Static files only, no build and no
# network; Ctrl-C stops it.
# The pages call the API of config.js (the local functions on port 9000).
# Further arguments are API base URLs of a local stack on other ports: the
# first becomes the pages' default, and each may be chosen with ?api=<base URL>
# (config.js's allowedApis and the pages' connect-src, as served).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${1:-8080}
shift || true
APIS=()
for base in "$@"; do APIS+=(--api "$base"); done
exec python3 "$ROOT/web/serve.py" "$PORT" "${APIS[@]}"
