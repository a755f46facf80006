#!/bin/sh
# Builds the C example aggregate module udfs/dist/weighted_c.wasm and tests it.
#
#   udfs/examples/weighted_c/build.sh            build + tests
#   udfs/examples/weighted_c/build.sh --no-test  build only
#
# Needs clang, wasm-ld and wasi-libc for wasm32 (Debian/Ubuntu:
# apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32); the tests
# also need python3, and node for running the test module (skipped without
# node). Environment: WASM_CC (default clang).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
udfs=$(cd "$here/../.." && pwd)
dist="$udfs/dist"
WASM_CC=${WASM_CC:-clang}
# A WASI reactor: no main; crt1-reactor.o supplies the `_initialize` export.
# Not -nostartfiles: without `_initialize`, wasm-ld wraps each export in a
# wrapper that runs constructors and destructors around every call.
WASM_FLAGS="--target=wasm32-wasi -O2 -msimd128 -std=c11 -Wall -Wextra -mexec-model=reactor -Wl,--strip-debug -I $udfs/include"

mkdir -p "$dist"
# shellcheck disable=SC2086
"$WASM_CC" $WASM_FLAGS "$here/weighted.c" -o "$dist/weighted_c.wasm"
echo "built $dist/weighted_c.wasm"

[ "${1:-}" = "--no-test" ] && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# 1. what the host checks at registration (ABI.md §1-§2: the description,
#    the six aggregate exports and their types, imports)
python3 "$udfs/tools/inspect_wasm.py" --quiet "$dist/weighted_c.wasm"

# 2. the inspector rejects broken aggregate and table descriptions
# shellcheck disable=SC2086
"$WASM_CC" $WASM_FLAGS -Wno-unused-parameter "$here/test_inspect_bad.c" -o "$tmp/bad.wasm"
if python3 "$udfs/tools/inspect_wasm.py" --quiet "$tmp/bad.wasm" 2>"$tmp/bad.txt"; then
    echo "inspect_wasm.py accepted test_inspect_bad.c" >&2
    exit 1
fi
python3 - "$here/test_inspect_bad.c" "$tmp/bad.txt" <<'PY'
import re, sys
want = re.findall(r"EXPECT: (.*?) \*/", open(sys.argv[1]).read())
got = open(sys.argv[2]).read()
missing = [w for w in want if w not in got]
for w in missing:
    print("inspect_wasm.py did not report:", w)
count = got.count("\n")
if count != len(want):
    print(f"inspect_wasm.py reported {count} problems, want {len(want)}:\n{got}")
sys.exit(1 if missing or count != len(want) else 0)
PY
echo "inspect_wasm.py: all $(grep -c 'EXPECT: ' "$here/test_inspect_bad.c") expected problems reported"

# 3. the six functions driven as the host drives them (a WASI command that
#    includes weighted.c), under node's WASI
if command -v node >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    "$WASM_CC" $(echo "$WASM_FLAGS" | sed 's/-mexec-model=reactor//') -Werror \
        "$here/test_weighted.c" -o "$tmp/test_weighted.wasm"
    python3 "$udfs/tools/inspect_wasm.py" --quiet "$tmp/test_weighted.wasm"
    node --no-warnings "$here/run_wasi.mjs" "$tmp/test_weighted.wasm"
else
    echo "node not found: skipping the wasm run (test_weighted.c)"
fi
