#!/usr/bin/env python3
"""check_wasm.py MODULE.wasm — static checks of a wasql UDF module (ABI v1).

Parses the module's sections by hand (no dependencies) and checks what the
host checks at registration: the `wasql.udfs` custom section(s) hold JSON
Lines naming exported functions of the scalar signature; memory, wasql_alloc,
wasql_free and wasql_release are exported with the right types; every import
comes from wasi_snapshot_preview1, except wasql.http_fetch, which must be
(i32, i32, i32) -> i32. It also checks the description really is a
custom section and not (also) a data segment. Prints a summary; exits 1 on
any problem.
"""
import json
import re
import sys

I32 = 0x7F


def leb_u(b, i):
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def name(b, i):
    n, i = leb_u(b, i)
    return b[i:i + n].decode("utf-8"), i + n


def parse(b):
    if b[:4] != b"\0asm" or b[4:8] != b"\1\0\0\0":
        raise ValueError("not a wasm core module (version 1)")
    i = 8
    sections = []  # (id, name or None, payload)
    while i < len(b):
        sid = b[i]
        size, j = leb_u(b, i + 1)
        payload = b[j:j + size]
        cname = None
        if sid == 0:
            cname, k = name(payload, 0)
            payload = payload[k:]
        sections.append((sid, cname, payload))
        i = j + size
    return sections


def main(path):
    b = open(path, "rb").read()
    problems = []
    sections = parse(b)
    types, imports, funcs, exports, data = [], [], [], {}, []
    customs = []
    for sid, cname, p in sections:
        if sid == 0:
            customs.append((cname, p))
        elif sid == 1:
            n, i = leb_u(p, 0)
            for _ in range(n):
                assert p[i] == 0x60
                np_, i = leb_u(p, i + 1)
                params = list(p[i:i + np_])
                i += np_
                nr, i = leb_u(p, i)
                results = list(p[i:i + nr])
                i += nr
                types.append((params, results))
        elif sid == 2:
            n, i = leb_u(p, 0)
            for _ in range(n):
                mod, i = name(p, i)
                field, i = name(p, i)
                kind = p[i]
                i += 1
                if kind == 0:
                    t, i = leb_u(p, i)
                    imports.append((mod, field, "func", t))
                    continue
                if kind == 1:  # table: reftype + limits
                    i += 1
                if kind in (1, 2):  # limits
                    flags = p[i]
                    _, i = leb_u(p, i + 1)
                    if flags & 1:
                        _, i = leb_u(p, i)
                elif kind == 3:
                    i += 2
                imports.append((mod, field, ["func", "table", "memory", "global"][kind], None))
        elif sid == 3:
            n, i = leb_u(p, 0)
            for _ in range(n):
                t, i = leb_u(p, i)
                funcs.append(t)
        elif sid == 7:
            n, i = leb_u(p, 0)
            for _ in range(n):
                ename, i = name(p, i)
                kind = p[i]
                idx, i = leb_u(p, i + 1)
                exports[ename] = (kind, idx)
        elif sid == 11:
            data.append(p)

    func_imports = [im for im in imports if im[2] == "func"]

    def func_type(idx):
        if idx < len(func_imports):
            return types[func_imports[idx][3]]
        return types[funcs[idx - len(func_imports)]]

    for mod, field, kind, t in imports:
        if (mod, field) == ("wasql", "http_fetch"):
            if kind != "func" or types[t] != ([I32] * 3, [I32]):
                problems.append(f"import wasql.http_fetch has type {types[t] if kind == 'func' else kind}")
        elif mod != "wasi_snapshot_preview1":
            problems.append(f"import {mod}.{field} is neither from wasi_snapshot_preview1 nor wasql.http_fetch")

    want = {
        "wasql_alloc": ([I32, I32], [I32]),
        "wasql_free": ([I32, I32, I32], []),
        "wasql_release": ([I32], []),
    }
    if exports.get("memory", (None,))[0] != 2:
        problems.append("memory is not exported")
    for ename, sig in want.items():
        e = exports.get(ename)
        if not e or e[0] != 0:
            problems.append(f"{ename} is not an exported function")
        elif func_type(e[1]) != sig:
            problems.append(f"{ename} has type {func_type(e[1])}, want {sig}")

    desc = b"".join(p for n, p in customs if n == "wasql.udfs")
    if not desc:
        problems.append("no custom section named wasql.udfs")
    for seg in data:
        if desc and desc.strip() and desc.split(b"\n")[0] in seg:
            problems.append("the description also sits in a data segment")
    lines = desc.decode("utf-8").split("\n") if desc else []
    if lines and lines[-1] != "":
        problems.append("wasql.udfs does not end with \\n")
    described = []
    for line in lines[:-1]:
        try:
            obj = json.loads(line)
        except ValueError as e:
            problems.append(f"bad JSON line {line!r}: {e}")
            continue
        for key in ("abi", "name", "kind", "export", "args", "returns"):
            if key not in obj:
                problems.append(f"{obj.get('name')}: missing key {key}")
        if obj.get("abi") != 1:
            problems.append(f"{obj.get('name')}: abi is {obj.get('abi')}, want 1")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", str(obj.get("name"))):
            problems.append(f"bad SQL name {obj.get('name')!r}")
        e = exports.get(obj.get("export"))
        if not e or e[0] != 0:
            problems.append(f"{obj.get('name')}: export {obj.get('export')!r} missing")
        elif func_type(e[1]) != ([I32] * 5, [I32]):
            problems.append(f"{obj.get('name')}: export has type {func_type(e[1])}")
        described.append(obj)

    print(f"{path}: {len(b)} bytes")
    print("  imports:", ", ".join(f"{m}.{f}" for m, f, _, _ in imports) or "(none)")
    print("  exports:", ", ".join(exports))
    print("  custom sections:", ", ".join(f"{n} ({len(p)} B)" for n, p in customs))
    for obj in described:
        print(f"  udf {obj['name']}({', '.join(obj['args'])}) -> {obj['returns']}"
              f"  [export {obj['export']}]")
    for p in problems:
        print("  PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
