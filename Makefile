# The two commands of the README, and the helpers behind them.

.PHONY: dev test lint deps audit bench cost clean

## make dev: start the whole local stack (DynamoDB emulator, every function); Ctrl-C or SIGTERM stops it.
dev:
	@infra/dev.sh

## make test: check prerequisites, lint, cargo deny (offline checks), then every test.
test:
	@infra/test.sh

## make lint: rustfmt and clippy, as CI wants them (make test runs it first).
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## make deps: the Debian packages of the browser tests (Chromium, a CJK font), with apt-get as root or sudo -n.
deps:
	@infra/deps.sh

## make audit: cargo deny check advisories; needs the network (the RustSec database is on GitHub).
audit:
	@infra/audit.sh

## make bench: the code-issuing benchmark, and the cold-start benchmark with the arm64 sizes (release builds; some twenty minutes on 2 cores).
bench:
	cargo bench -p shared --bench code
	bench/coldstart.sh --arm64

## make cost: the cost per million of each operation at AWS list prices (release build).
cost:
	@bench/cost.sh

## make clean: remove build output and local state (keys, logs); keeps .venv and .local/tools (cargo-deny).
clean:
	cargo clean
	find .local -mindepth 1 -maxdepth 1 ! -name tools -exec rm -rf {} + 2>/dev/null || true
