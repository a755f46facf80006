#!/usr/bin/env bash
# Builds every UDF module into udfs/dist/ (examples) and udfs/dist/hostile/
# (modules for the host's sandbox tests). Idempotent: cargo rebuilds only what
# changed, and a module is copied only when its bytes differ.
set -euo pipefail

UDFS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIST="$UDFS/dist"
TARGET=wasm32-wasip1
# Its own target directory, outside the clone, whatever the main build uses.
export CARGO_TARGET_DIR="${WASQL_UDFS_TARGET_DIR:-$HOME/.cache/wasql-udfs-target}"

# copy_if_changed SRC DEST: keeps DEST's timestamp when nothing changed.
copy_if_changed() {
    if ! cmp -s "$1" "$2"; then
        cp "$1" "$2"
        echo "  updated $(realpath --relative-to="$UDFS" "$2")"
    fi
}

mkdir -p "$DIST" "$DIST/hostile"

# --- Rust: the SDK, examples/* and hostile/* -------------------------------
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi
# From inside udfs/, so that udfs/.cargo/config.toml (SIMD) applies.
(cd "$UDFS" && cargo build --release --target "$TARGET" --workspace)

# Each crate's library is named after its directory, so its module is
# <dir>.wasm.
OUT="$CARGO_TARGET_DIR/$TARGET/release"
for kind in examples hostile; do
    dest="$DIST"
    [ "$kind" = hostile ] && dest="$DIST/hostile"
    for manifest in "$UDFS/$kind"/*/Cargo.toml; do
        [ -e "$manifest" ] || continue
        name="$(basename "$(dirname "$manifest")")"
        wasm="$OUT/$name.wasm"
        if [ ! -f "$wasm" ]; then
            echo "build.sh: $kind/$name built no $name.wasm (is its [lib] name \"$name\"?)" >&2
            exit 1
        fi
        copy_if_changed "$wasm" "$dest/$name.wasm"
    done
done

# --- The same SDK on wasm32-unknown-unknown (no WASI at all) ----------------
# Two examples, into udfs/dist/unknown/, for the host's tests.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
(cd "$UDFS" && cargo build --release --target wasm32-unknown-unknown \
    -p wasql-example-haversine -p wasql-example-slugify)
mkdir -p "$DIST/unknown"
for name in haversine slugify; do
    copy_if_changed "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/$name.wasm" "$DIST/unknown/$name.wasm"
done

# --- C examples --------------------------------------------------------------
# clang for wasm32 with wasi-libc, from Debian's packages, installed when
# missing.
have_wasm_c() {
    command -v clang && command -v wasm-ld && [ -e /usr/lib/wasm32-wasi/crt1-reactor.o ] \
        && ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a
} >/dev/null 2>&1
if ! have_wasm_c; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32 >/dev/null
    else
        echo "build.sh: C examples need clang, lld, wasi-libc and libclang-rt-14-dev-wasm32" >&2
        exit 1
    fi
fi
for build in "$UDFS"/examples/*_c/build.sh; do
    sh "$build" --no-test
done

# --- Check every module against udfs/ABI.md §1-§2 ---------------------------
if command -v python3 >/dev/null; then
    python3 "$UDFS/tools/inspect_wasm.py" --quiet "$DIST"/*.wasm "$DIST"/hostile/*.wasm "$DIST"/unknown/*.wasm
fi

echo "UDF modules in $DIST"
