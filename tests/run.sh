#!/usr/bin/env bash
# The whole test command: builds the UDF modules the tests load, checks
# formatting and lints (host crates, and the guest SDK for wasm32), then runs
# every test of every crate. Installs the toolchain parts it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
for component in rustfmt clippy; do
    if command -v rustup >/dev/null && ! rustup component list --installed | grep -q "^$component"; then
        rustup component add "$component"
    fi
done
bash udfs/build.sh
cargo fmt --all --check
(cd udfs && cargo fmt --all --check)
cargo clippy --all-targets -- -D warnings
(cd udfs && CARGO_TARGET_DIR="${WASQL_UDFS_TARGET_DIR:-$HOME/.cache/wasql-udfs-target}" \
    cargo clippy --workspace --target wasm32-wasip1 -- -D warnings)
cargo test
