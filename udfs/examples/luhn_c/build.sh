#!/bin/sh
# Builds the C example UDF module udfs/dist/luhn_c.wasm and tests it.
#
#   udfs/examples/luhn_c/build.sh            build + tests
#   udfs/examples/luhn_c/build.sh --no-test  build only
#
# Needs clang, wasm-ld and wasi-libc for wasm32 (Debian/Ubuntu:
# apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32); the tests
# also need a native cc and python3, and node for the wasm run (skipped
# without node). Environment: WASM_CC (default clang), CC (default cc).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
udfs=$(cd "$here/../.." && pwd)
dist="$udfs/dist"
WASM_CC=${WASM_CC:-clang}
CC=${CC:-cc}
# A WASI reactor: no main; crt1-reactor.o supplies the `_initialize` export.
# Not -nostartfiles: without `_initialize`, wasm-ld wraps each export in a
# wrapper that runs constructors and destructors around every call.
WASM_FLAGS="--target=wasm32-wasi -O2 -msimd128 -std=c11 -Wall -Wextra -mexec-model=reactor -Wl,--strip-debug -I $udfs/include"

mkdir -p "$dist"
# shellcheck disable=SC2086
"$WASM_CC" $WASM_FLAGS "$here/luhn.c" -o "$dist/luhn_c.wasm"
echo "built $dist/luhn_c.wasm"

[ "${1:-}" = "--no-test" ] && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. the checksum logic, natively
"$CC" -std=c11 -Wall -Wextra -Werror -O2 "$here/test_luhn.c" -o "$tmp/test_luhn"
"$tmp/test_luhn"

# 2. what the host checks at registration (sections, exports, imports)
python3 "$here/check_wasm.py" "$dist/luhn_c.wasm"

# 3. calls through a miniature host (node's WebAssembly), with a second,
#    test-only module that exercises the rest of wasql_udf.h
if command -v node >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    "$WASM_CC" $WASM_FLAGS "$here/test_abi.c" "$here/luhn.c" -o "$tmp/test_abi.wasm"
    python3 "$here/check_wasm.py" "$tmp/test_abi.wasm" >/dev/null
    node "$here/test_wasm.mjs" "$dist/luhn_c.wasm" "$tmp/test_abi.wasm"
else
    echo "node not found: skipping the wasm run (test_wasm.mjs)"
fi
