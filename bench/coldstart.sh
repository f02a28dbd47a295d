#!/usr/bin/env bash
# Cold starts and sizes of every function next to two baselines, all built
# with the release profile (bench/coldstart/src/main.rs).
#
#   bench/coldstart.sh [runs]          x86_64 (this machine): start-up times and sizes
#   bench/coldstart.sh --arm64 [runs]  also builds the arm64 binaries as `sam build`
#                                      does (cargo lambda, Zig) and reports their sizes
#
# The arm64 binaries land in target/lambda/<function>/bootstrap, where the
# report reads their sizes; they stay there for later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
FUNCTIONS=(-p login -p declaration -p code -p venue -p scan -p admin -p aggregator -p exposure)
if [ "${1:-}" = "--arm64" ]; then
    shift
    source infra/lib.sh
    ensure_venv
    # An absolute PATH: the C builds of build scripts run in other directories
    # and must still find the venv's Zig.
    PATH="$VENV/bin:$PATH" cargo lambda build --release --arm64 "${FUNCTIONS[@]}"
fi
cargo build --release "${FUNCTIONS[@]}" -p coldstart --bins
./target/release/coldstart --runs "${1:-15}"
