#!/usr/bin/env python3
"""Prints a wasql UDF module's imports, exports and `wasql.udfs` section, and
checks what udfs/ABI.md §1-§2 require of every module: the exports memory,
wasql_alloc, wasql_free and wasql_release (with their types); imports from
wasi_snapshot_preview1 only, except the host import wasql.http_fetch, which
must be a function (i32, i32, i32) -> i32; and for each described function
its keys (abi, name, kind, export, args; returns for scalars and
aggregates; columns, a non-empty list of {name, type}, and no returns for
table functions; partitioned a boolean, on table functions only) and its
exports with their types:
  scalar     EXPORT            (i32 x5) -> i32
  aggregate  EXPORT_new        () -> i32
             EXPORT_update     (i32 x7) -> i32
             EXPORT_merge      (i32 x6) -> i32
             EXPORT_state      (i32 x4) -> i32
             EXPORT_finish     (i32 x4) -> i32
             EXPORT_drop       (i32) -> ()
  table      EXPORT            (i32 x7) -> i32
The abi version and the type strings are not checked: the host's own tests
use modules that get those wrong on purpose.

usage: inspect_wasm.py [--quiet] MODULE.wasm...   (exit 1 if a check fails)
"""
import json
import re
import sys

REQUIRED = ["memory", "wasql_alloc", "wasql_free", "wasql_release"]
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
I32 = 0x7F
# Imports other than wasi_snapshot_preview1 that the host provides, with their
# function types (params, results).
HOST_IMPORTS = {("wasql", "http_fetch"): ([I32] * 3, [I32])}
# Function types of the required exports (ABI.md §1).
REQUIRED_TYPES = {
    "wasql_alloc": ([I32] * 2, [I32]),
    "wasql_free": ([I32] * 3, []),
    "wasql_release": ([I32], []),
}
SQL_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# The exports of each kind of function (ABI.md §3, §8, §9): export-name
# suffix -> function type.
KIND_EXPORTS = {
    "scalar": {"": ([I32] * 5, [I32])},
    "aggregate": {
        "_new": ([], [I32]),
        "_update": ([I32] * 7, [I32]),
        "_merge": ([I32] * 6, [I32]),
        "_state": ([I32] * 4, [I32]),
        "_finish": ([I32] * 4, [I32]),
        "_drop": ([I32], []),
    },
    "table": {"": ([I32] * 7, [I32])},
}


def show_type(sig):
    if sig is None:
        return "?"
    params, results = sig
    hex_names = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64"}
    p = ", ".join(hex_names.get(t, hex(t)) for t in params)
    r = ", ".join(hex_names.get(t, hex(t)) for t in results)
    return f"({p}) -> ({r})"


def check_spec(spec, exports):
    """Problems with one description line; exports maps name -> (kind, type)."""
    problems = []
    label = spec.get("name", "?")
    for key in ("abi", "name", "kind", "export", "args"):
        if key not in spec:
            problems.append(f"{label}: missing key {key}")
    if "name" in spec and not (isinstance(spec["name"], str) and SQL_NAME.fullmatch(spec["name"])):
        problems.append(f"{label}: name {spec['name']!r} is not [a-z_][a-z0-9_]*")
    if "args" in spec and not (isinstance(spec["args"], list)
                               and all(isinstance(a, str) for a in spec["args"])):
        problems.append(f"{label}: args is not a list of type strings")
    kind = spec.get("kind")
    if "kind" in spec and kind not in KIND_EXPORTS:
        problems.append(f"{label}: kind {kind!r} is not scalar, aggregate or table")
    if kind in ("scalar", "aggregate") and not isinstance(spec.get("returns"), str):
        problems.append(f"{label}: missing returns (a type string), required for kind {kind}")
    if kind == "table":
        if "returns" in spec:
            problems.append(f"{label}: a table function has columns, not returns")
        columns = spec.get("columns")
        if not isinstance(columns, list) or not columns:
            problems.append(f"{label}: a table function needs columns, a non-empty list")
        else:
            for j, col in enumerate(columns):
                if not (isinstance(col, dict) and isinstance(col.get("name"), str)
                        and isinstance(col.get("type"), str)):
                    problems.append(f"{label}: column {j} is not {{\"name\": ..., \"type\": ...}}")
                elif not SQL_NAME.fullmatch(col["name"]):
                    problems.append(f"{label}: column name {col['name']!r} is not [a-z_][a-z0-9_]*")
    if "partitioned" in spec:
        if not isinstance(spec["partitioned"], bool):
            problems.append(f"{label}: partitioned is not true or false")
        elif kind != "table":
            problems.append(f"{label}: partitioned is for table functions only")
    export = spec.get("export")
    if not isinstance(export, str):
        if "export" in spec:
            problems.append(f"{label}: export is not a string")
        return problems
    for suffix, want in KIND_EXPORTS.get(kind, {}).items():
        field = export + suffix
        if field not in exports:
            problems.append(f"{label}: described export {field} is missing")
        elif exports[field][0] != "func":
            problems.append(f"{label}: export {field} is a {exports[field][0]}, not a function")
        elif exports[field][1] != want:
            problems.append(f"{label}: export {field} has type {show_type(exports[field][1])}, "
                            f"want {show_type(want)}")
    return problems


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
    imports, exports, custom, types, functions = [], [], {}, [], []
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
        elif sid == 3:
            count, at = leb(body, 0)
            for _ in range(count):
                index, at = leb(body, at)
                functions.append(types[index] if index < len(types) else None)
        elif sid == 7:
            count, at = leb(body, 0)
            for _ in range(count):
                field, at = name(body, at)
                kind, at = body[at], at + 1
                index, at = leb(body, at)
                exports.append((field, KINDS.get(kind, kind), index))
    # Function index space: imported functions first, then the module's own.
    space = [sig for _, _, kind, sig in imports if kind == "func"] + functions
    exports = [(field, kind, space[index] if kind == "func" and index < len(space) else None)
               for field, kind, index in exports]
    return imports, exports, custom


def main(argv):
    quiet = "--quiet" in argv
    paths = [a for a in argv if a != "--quiet"]
    failed = False
    for path in paths:
        imports, exports, custom = inspect(path)
        by_name = {field: (kind, sig) for field, kind, sig in exports}
        problems = [f"missing export {r}" for r in REQUIRED if r not in by_name]
        if "memory" in by_name and by_name["memory"][0] != "memory":
            problems.append("export memory is not a memory")
        for field, want in REQUIRED_TYPES.items():
            if field in by_name and by_name[field][1] != want:
                problems.append(f"export {field} has type {show_type(by_name[field][1])}, "
                                f"want {show_type(want)}")
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
            if not isinstance(spec, dict):
                problems.append(f"description line {line!r} is not a JSON object")
                continue
            problems.extend(check_spec(spec, by_name))
        if not quiet:
            print(f"== {path}")
            print("exports:", ", ".join(f"{n} ({k})" for n, k, _ in exports))
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
