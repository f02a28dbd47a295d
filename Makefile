# The two commands of the README, and the helpers behind them.

.PHONY: dev test lint bench cost clean

## make dev: start the whole local stack (DynamoDB emulator, every function); Ctrl-C stops it.
dev:
	@infra/dev.sh

## make test: run every test (unit, integration against the emulator, template lint, end to end).
test:
	@infra/test.sh

## make lint: rustfmt and clippy, as CI would want them.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## make bench: the code-issuing benchmark, and the cold-start benchmark with the arm64 sizes (release builds; some twenty minutes on 2 cores).
bench:
	cargo bench -p shared --bench code
	bench/coldstart.sh --arm64

## make cost: the cost per million of each operation at AWS list prices (release build).
cost:
	@bench/cost.sh

## make clean: remove build output and local state (keys, logs); keeps .venv.
clean:
	cargo clean
	rm -rf .local
