#!/usr/bin/env python3
"""Prints a wasql UDF module's imports, exports and `wasql.udfs` section, and
checks what udfs/ABI.md requires of every module: the exports memory,
wasql_alloc, wasql_free and wasql_release, one export per described
function, imports from wasi_snapshot_preview1 only, except the host import
wasql.http_fetch, which must be a function (i32, i32, i32) -> i32.

usage: inspect_wasm.py [--quiet] MODULE.wasm...   (exit 1 if a check fails)
"""
import sys

REQUIRED = ["memory", "wasql_alloc", "wasql_free", "wasql_release"]
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
I32 = 0x7F
# Imports other than wasi_snapshot_preview1 that the host provides, with their
# function types (params, results).
HOST_IMPORTS = {("wasql", "http_fetch"): ([I32] * 3, [I32])}


def leb(data, at):
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, at


def name(data, at):
    n, at = leb(data, at)
    return data[at:at + n].decode("utf-8"), at + n


def sections(data):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    at = 8
    while at < len(data):
        sid, at = data[at], at + 1
        size, at = leb(data, at)
        yield sid, data[at:at + size]
        at += size


def inspect(path):
    data = open(path, "rb").read()
    imports, exports, custom, types = [], [], {}, []
    for sid, body in sections(data):
        if sid == 1:
            count, at = leb(body, 0)
            for _ in range(count):
                at += 1  # 0x60
                nparams, at = leb(body, at)
                params = list(body[at:at + nparams])
                at += nparams
                nresults, at = leb(body, at)
                results = list(body[at:at + nresults])
                at += nresults
                types.append((params, results))
        elif sid == 0:
            cname, at = name(body, 0)
            custom.setdefault(cname, b"")
            custom[cname] += body[at:]
        elif sid == 2:
            count, at = leb(body, 0)
            for _ in range(count):
                module, at = name(body, at)
                field, at = name(body, at)
                kind, at = body[at], at + 1
                signature = None
                if kind == 0:
                    index, at = leb(body, at)
                    signature = types[index] if index < len(types) else None
                elif kind == 1:
                    at += 1
                    flags, at = leb(body, at)
                    _, at = leb(body, at)
                    if flags & 1:
                        _, at = leb(body, at)
                elif kind == 2:
                    flags, at = leb(body, at)
                    _, at = leb(body, at)
                    if flags & 1:
                        _, at = leb(body, at)
                elif kind == 3:
                    at += 2
                imports.append((module, field, KINDS.get(kind, kind), signature))
        elif sid == 7:
            count, at = leb(body, 0)
            for _ in range(count):
                field, at = name(body, at)
                kind, at = body[at], at + 1
                _, at = leb(body, at)
                exports.append((field, KINDS.get(kind, kind)))
    return imports, exports, custom


def main(argv):
    quiet = "--quiet" in argv
    paths = [a for a in argv if a != "--quiet"]
    failed = False
    for path in paths:
        import json

        imports, exports, custom = inspect(path)
        names = {e[0] for e in exports}
        problems = [f"missing export {r}" for r in REQUIRED if r not in names]
        for module, field, kind, signature in imports:
            if (module, field) in HOST_IMPORTS:
                if kind != "func" or signature != HOST_IMPORTS[(module, field)]:
                    problems.append(f"import {module}.{field} has the wrong type")
            elif module != "wasi_snapshot_preview1":
                problems.append(f"import {module}.{field} (only wasi_snapshot_preview1 and wasql.http_fetch)")
        text = custom.get("wasql.udfs", b"").decode("utf-8")
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            problems.append("no wasql.udfs section")
        for line in lines:
            try:
                spec = json.loads(line)
            except ValueError as e:
                problems.append(f"bad description line {line!r}: {e}")
                continue
            if spec.get("export") not in names:
                problems.append(f"described export {spec.get('export')} is missing")
        if not quiet:
            print(f"== {path}")
            print("exports:", ", ".join(f"{n} ({k})" for n, k in exports))
            print("imports:", ", ".join(f"{m}.{f}" for m, f, _, _ in imports) or "none")
            print("custom sections:", ", ".join(f"{n} ({len(b)} B)" for n, b in custom.items()))
            print("wasql.udfs:")
            print(text, end="" if text.endswith("\n") else "\n")
        for p in problems:
            print(f"{path}: {p}", file=sys.stderr)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
