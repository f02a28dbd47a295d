#!/usr/bin/env bash
# `make audit`: cargo deny check advisories. It fetches the RustSec advisory
# database from GitHub, so it needs the network; `make test` runs the
# offline checks (licences, bans, sources) and not this.
source "$(dirname "$0")/lib.sh"

check_prerequisites rust
ensure_cargo_deny
say "cargo deny check advisories (fetches the RustSec database from GitHub)"
cd "$ROOT"
"$CARGO_DENY" check advisories \
    || die "cargo deny check advisories failed: an advisory above, or the database could not be fetched (this needs access to github.com)"
