#!/usr/bin/env bash
# Serves the browser client (web/) on http://127.0.0.1:$1 (default 8080)
# with Python's http.server (web/serve.py: JavaScript modules, `/v` for venue
# codes). Static files only, no build and no network; Ctrl-C stops it.
# The pages call the API of config.js (the local functions on port 9000),
# or of the `api` query parameter: http://127.0.0.1:8080/?api=<base URL>.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${1:-8080}
exec python3 "$ROOT/web/serve.py" "$PORT"
