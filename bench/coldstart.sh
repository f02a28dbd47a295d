#!/usr/bin/env bash
# Cold starts and sizes of every function next to two baselines, all built
# with the release profile (bench/coldstart/src/main.rs). For the arm64
# sizes as `sam build` makes them, build them first with
#   .venv/bin/cargo-lambda lambda build --release --arm64
# (they land in target/lambda/<function>/bootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p login -p declaration -p code -p venue -p scan -p admin -p aggregator -p coldstart --bins
./target/release/coldstart --runs "${1:-15}"
