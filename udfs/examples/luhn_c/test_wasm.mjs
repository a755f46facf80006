// test_wasm.mjs LUHN.wasm [TEST_ABI.wasm] — runs the C modules under a
// miniature wasql host written in JavaScript (node's WebAssembly): passes
// Arrow arrays in exactly as ABI.md §3-4 describe, checks every result the
// way the host does, releases it, and checks memory stops growing (no leaks).
// It is a test of wasql_udf.h and luhn.c, not of the real host.
import { readFileSync } from "node:fs";

let failures = 0;
function check(cond, what) {
  if (!cond) {
    failures++;
    console.log("FAIL", what);
  }
}
function eq(got, want, what) {
  const g = JSON.stringify(got, (k, v) => (typeof v === "bigint" ? v.toString() + "n" : v));
  const w = JSON.stringify(want, (k, v) => (typeof v === "bigint" ? v.toString() + "n" : v));
  check(g === w, `${what}: got ${g}, want ${w}`);
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

class Guest {
  constructor(path) {
    const bytes = readFileSync(path);
    this.module = new WebAssembly.Module(bytes);
    for (const imp of WebAssembly.Module.imports(this.module))
      check(imp.module === "wasi_snapshot_preview1" || (imp.module === "wasql" && imp.name === "http_fetch"),
        `import ${imp.module}.${imp.name}`);
    const wasi = new Proxy({}, {
      get: (_, name) => (...args) => {
        // only reached if the guest prints; fd_write: pretend success
        if (name === "fd_write") {
          const mem = new DataView(this.memory.buffer);
          const [, iovs, n, nwritten] = args;
          let total = 0;
          for (let i = 0; i < n; i++) total += mem.getUint32(iovs + 8 * i + 4, true);
          mem.setUint32(nwritten, total, true);
          return 0;
        }
        return 52; // ENOSYS
      },
    });
    const wasql = { http_fetch: (requests, count, responses) => this.httpFetch(requests, count, responses) };
    this.instance = new WebAssembly.Instance(this.module, { wasi_snapshot_preview1: wasi, wasql });
    this.x = this.instance.exports;
    this.memory = this.x.memory;
    if (this.x._initialize) this.x._initialize();
    this.udfs = new Map();
    for (const sec of WebAssembly.Module.customSections(this.module, "wasql.udfs")) {
      const text = dec.decode(sec);
      check(text.endsWith("\n"), "section ends with newline");
      for (const line of text.split("\n").slice(0, -1)) {
        const obj = JSON.parse(line);
        this.udfs.set(obj.name, obj);
      }
    }
  }
  // ---- the import wasql.http_fetch (ABI.md "Network access"), faked --------
  // https://ok/... answers 200 with what it received; https://fail/...
  // gets no response (status 0 + error); a URL "deny-all" fails the call.
  httpFetch(requests, count, responses) {
    const text = (p, len) => (len ? dec.decode(this.u8().slice(p, p + len)) : "");
    const seen = [...Array(count)].map((_, i) => {
      const d = this.dv(), r = requests + 32 * i, f = (k) => d.getUint32(r + 4 * k, true);
      return { method: text(f(0), f(1)) || "GET", url: text(f(2), f(3)), headers: text(f(4), f(5)) };
    });
    if (seen.some((r) => r.url === "deny-all")) return 7;
    const give = (bytes) => {
      if (!bytes.length) return [0, 0];
      const p = this.alloc(bytes.length, 1);
      this.u8().set(bytes, p);
      return [p, bytes.length];
    };
    seen.forEach((r, i) => {
      const ok = r.url.startsWith("https://ok/");
      const [hp, hl] = give(enc.encode(ok ? "content-type: text/plain" : ""));
      const [bp, bl] = give(enc.encode(ok ? `${r.method} ${r.url} ${r.headers}` : ""));
      const [ep, el] = give(enc.encode(ok ? "" : `refused by policy: ${r.url}`));
      const d = this.dv(), o = responses + 32 * i;
      [ok ? 200 : 0, hp, hl, bp, bl, ep, el, 0].forEach((v, k) => d.setUint32(o + 4 * k, v, true));
    });
    this.fetches = (this.fetches ?? 0) + 1;
    return 0;
  }
  dv() { return new DataView(this.memory.buffer); }
  u8() { return new Uint8Array(this.memory.buffer); }
  alloc(size, align) {
    const p = this.x.wasql_alloc(size, align) >>> 0;
    check(p !== 0 && p % align === 0, `wasql_alloc(${size}, ${align}) = ${p}`);
    return p;
  }
  // ---- host -> guest: one argument array --------------------------------
  // values: array of JS values (null = SQL NULL)
  makeArg(type, values) {
    const n = values.length;
    const blocks = [];
    const a = (size, align) => { const p = this.alloc(size, align); blocks.push([p, size, align]); return p; };
    const nulls = values.filter((v) => v === null).length;
    let validity = 0;
    if (nulls) {
      validity = a(Math.ceil(n / 8), 8);
      const m = this.u8();
      for (let i = 0; i < Math.ceil(n / 8); i++) m[validity + i] = 0;
      values.forEach((v, i) => { if (v !== null) m[validity + (i >> 3)] |= 1 << (i & 7); });
    }
    let bufs;
    if (type === "utf8") {
      const parts = values.map((v) => enc.encode(v === null ? "" : v));
      const total = parts.reduce((s, p) => s + p.length, 0);
      const offs = a(4 * (n + 1), 4), data = a(total, 1);
      let o = 0;
      parts.forEach((p, i) => { this.dv().setInt32(offs + 4 * i, o, true); this.u8().set(p, data + o); o += p.length; });
      this.dv().setInt32(offs + 4 * n, o, true);
      bufs = [validity, offs, data];
    } else if (type === "boolean") {
      const b = a(Math.ceil(n / 8), 8);
      const m = this.u8();
      for (let i = 0; i < Math.ceil(n / 8); i++) m[b + i] = 0;
      values.forEach((v, i) => { if (v) m[b + (i >> 3)] |= 1 << (i & 7); });
      bufs = [validity, b];
    } else {
      const width = { int32: 4, int64: 8, float64: 8, "decimal128(10,2)": 16 }[type];
      const b = a(width * n, Math.min(width, 16));
      const d = this.dv();
      values.forEach((v, i) => {
        if (type === "int32") d.setInt32(b + 4 * i, v ?? 0, true);
        else if (type === "int64") d.setBigInt64(b + 8 * i, BigInt(v ?? 0), true);
        else if (type === "float64") d.setFloat64(b + 8 * i, v ?? 0, true);
        else {
          const x = BigInt.asUintN(128, BigInt(v ?? 0));
          d.setBigUint64(b + 16 * i, x & 0xffffffffffffffffn, true);
          d.setBigUint64(b + 16 * i + 8, x >> 64n, true);
        }
      });
      bufs = [validity, b];
    }
    const bp = a(4 * bufs.length, 4);
    bufs.forEach((p, i) => this.dv().setUint32(bp + 4 * i, p, true));
    return { n, nulls, bufs, bp, blocks };
  }
  // ---- one call ------------------------------------------------------------
  call(name, argSpecs, nrows) {
    const udf = this.udfs.get(name);
    check(udf, `udf ${name} described`);
    const args = argSpecs.map((vals, i) => this.makeArg(udf.args[i] ?? "utf8", vals));
    const argsPtr = this.alloc(64 * args.length || 1, 8);
    const out = this.alloc(64, 8), err = this.alloc(8, 4);
    const d = this.dv();
    for (let i = 0; i < 64; i++) { d.setUint8(out + i, 0xAB); }    // garbage in out
    args.forEach((arg, i) => {
      const s = argsPtr + 64 * i;
      for (let k = 0; k < 64; k++) d.setUint8(s + k, 0);
      d.setBigInt64(s, BigInt(arg.n), true);
      d.setBigInt64(s + 8, BigInt(arg.nulls), true);
      d.setBigInt64(s + 24, BigInt(arg.bufs.length), true);
      d.setUint32(s + 40, arg.bp, true);
    });
    d.setUint32(err, 0, true); d.setUint32(err + 4, 0, true);
    const rc = this.x[udf.export](argsPtr, args.length, nrows, out, err);
    let result;
    if (rc !== 0) {
      const p = this.dv().getUint32(err, true), len = this.dv().getUint32(err + 4, true);
      const msg = dec.decode(this.u8().slice(p, p + len));
      this.x.wasql_free(p, len, 1);
      result = { error: msg };
    } else {
      result = this.readResult(udf.returns, out, nrows);
      this.x.wasql_release(out);
    }
    // the host frees what it passed in
    for (const arg of args) for (const [p, s, al] of arg.blocks) this.x.wasql_free(p, s, al);
    this.x.wasql_free(argsPtr, 64 * args.length || 1, 8);
    this.x.wasql_free(out, 64, 8);
    this.x.wasql_free(err, 8, 4);
    return result;
  }
  // ---- the host's checks on `out` (ABI.md §4) ------------------------------
  readResult(type, out, nrows) {
    const d = this.dv();
    const memLen = this.memory.buffer.byteLength;
    const length = d.getBigInt64(out, true), nullCount = d.getBigInt64(out + 8, true);
    const nbuf = Number(d.getBigInt64(out + 24, true));
    const wantBufs = type === "utf8" ? 3 : 2;
    check(length === BigInt(nrows), `length ${length} == nrows ${nrows}`);
    check(d.getBigInt64(out + 16, true) === 0n, "offset == 0");
    check(nbuf === wantBufs, `n_buffers ${nbuf} == ${wantBufs}`);
    check(d.getBigInt64(out + 32, true) === 0n, "n_children == 0");
    check(d.getUint32(out + 44, true) === 0 && d.getUint32(out + 48, true) === 0, "no children/dictionary");
    const bp = d.getUint32(out + 40, true);
    check(bp !== 0 && bp + 4 * nbuf <= memLen, "buffers array in memory");
    const bufs = [...Array(nbuf)].map((_, i) => d.getUint32(bp + 4 * i, true));
    const inMem = (p, size, what) => check(p !== 0 && p + size <= memLen, `${what} in memory`);
    const validity = bufs[0];
    let counted = 0;
    const valid = (i) => validity === 0 || ((d.getUint8(validity + (i >> 3)) >> (i & 7)) & 1) === 1;
    if (validity) inMem(validity, Math.ceil(nrows / 8), "validity");
    for (let i = 0; i < nrows; i++) if (!valid(i)) counted++;
    check(nullCount === -1n || nullCount === BigInt(counted), `null_count ${nullCount} == ${counted}`);
    const rows = [];
    if (type === "utf8") {
      const [, offs, data] = bufs;
      inMem(offs, 4 * (nrows + 1), "offsets");
      check(data !== 0, "data pointer non-zero");
      let prev = d.getInt32(offs, true);
      check(prev >= 0, "first offset >= 0");
      for (let i = 0; i < nrows; i++) {
        const next = d.getInt32(offs + 4 * (i + 1), true);
        check(next >= prev, `offsets never decrease (row ${i})`);
        check(data + next <= memLen, "offsets end inside data");
        let s;
        try { s = dec.decode(this.u8().slice(data + prev, data + next)); } catch { check(false, "valid UTF-8"); }
        rows.push(valid(i) ? s : null);
        prev = next;
      }
    } else {
      const vals = bufs[1];
      if (type === "boolean") {
        inMem(vals, Math.ceil(nrows / 8), "values");
        for (let i = 0; i < nrows; i++)
          rows.push(valid(i) ? ((d.getUint8(vals + (i >> 3)) >> (i & 7)) & 1) === 1 : null);
      } else {
        const width = { int32: 4, int64: 8, float64: 8, "decimal128(10,2)": 16 }[type];
        inMem(vals, width * nrows, "values");
        for (let i = 0; i < nrows; i++) {
          let v;
          if (type === "int32") v = d.getInt32(vals + 4 * i, true);
          else if (type === "int64") v = d.getBigInt64(vals + 8 * i, true);
          else if (type === "float64") v = d.getFloat64(vals + 8 * i, true);
          else v = BigInt.asIntN(128, d.getBigUint64(vals + 16 * i, true) | (d.getBigUint64(vals + 16 * i + 8, true) << 64n));
          rows.push(valid(i) ? v : null);
        }
      }
    }
    return rows;
  }
}

// a batch with every row, and the same value broadcast as a constant
function both(g, name, values, want) {
  eq(g.call(name, [values], values.length), want, `${name}(${JSON.stringify(values)})`);
  values.forEach((v, i) => eq(g.call(name, [[v]], 3), [want[i], want[i], want[i]], `${name}(const ${JSON.stringify(v)}) x3`));
}

function leakCheck(g, label, fn) {
  for (let i = 0; i < 200; i++) fn();
  const before = g.memory.buffer.byteLength;
  for (let i = 0; i < 3000; i++) fn();
  const after = g.memory.buffer.byteLength;
  check(after === before, `${label}: memory grew from ${before} to ${after} over 3000 calls`);
}

// ---------------------------------------------------------------- luhn_c.wasm
const luhn = new Guest(process.argv[2]);
eq([...luhn.udfs.keys()], ["luhn_valid", "digit_count", "card_mask"], "described functions");
eq(luhn.udfs.get("luhn_valid").returns, "boolean", "luhn_valid returns");
const cards = ["4539 3195 0343 6467", "8273 1232 7352 0569", "79927398713", "1234-5678", null, "", "   ", "0", "4111111111111111", "é18"];
both(luhn, "luhn_valid", cards, [true, false, true, false, null, false, false, true, true, false]);
both(luhn, "digit_count", cards, [16n, 16n, 11n, 8n, null, 0n, 0n, 1n, 16n, 2n]);
both(luhn, "card_mask", cards, ["**** **** **** 6467", "**** **** **** 0569", "*******8713", "1234-5678".replace(/\d(?=(?:\D*\d){4})/g, "*"), null, "", "   ", "0", "************1111", "é18"]);
// a big batch crossing byte boundaries of the bitmaps
const big = [...Array(1000)].map((_, i) => (i % 7 === 3 ? null : String(79927398713 + i)));
const bigRes = luhn.call("luhn_valid", [big], big.length);
eq(bigRes.filter((v) => v === null).length, big.filter((v) => v === null).length, "big batch nulls");
eq(bigRes[0], true, "big batch row 0");
eq(luhn.call("luhn_valid", [["79927398713"], ["x"]], 1).error, "expected 1 argument", "nargs error");
leakCheck(luhn, "luhn_valid", () => luhn.call("luhn_valid", [cards], cards.length));
leakCheck(luhn, "card_mask", () => luhn.call("card_mask", [big], big.length));
// wasql_alloc: size 0, big alignments
for (const align of [1, 2, 4, 8, 16, 32, 64, 4096]) { const p = luhn.alloc(0, align); luhn.x.wasql_free(p, 0, align); }
check(luhn.x.wasql_alloc(8, 3) === 0, "wasql_alloc rejects a non-power-of-two alignment");

// ------------------------------------------------------------ test_abi.wasm
if (process.argv[3]) {
  const t = new Guest(process.argv[3]);
  eq(t.udfs.get("t_sparse").doc, 'x"y\\z é (escapes survive)', "JSON escapes survive the macro");
  eq(t.udfs.get("t_fail").ok, true, "true survives (stdbool not expanded)");
  eq(t.call("t_add_i32", [[1, 2, null, 2147483647], [10]], 4), [11, 12, null, -2147483639], "add const");
  eq(t.call("t_add_i32", [[1, 2, 3], [10, null, 30]], 3), [11, null, 33], "add columns");
  eq(t.call("t_add_i32", [[5], [6]], 1), [11], "add one row");
  eq(t.call("t_add_i32", [[1]], 1).error, "t_add_i32: expected 2 arguments, got 1", "errorf");
  eq(t.call("t_scale", [[1.5, null, -2], [2]], 3), [3, null, -4], "scale");
  eq(t.call("t_not", [[true, false, null, true, true, false, false, true, false]], 9), [false, true, null, false, false, true, true, false, true], "not");
  eq(t.call("t_not", [[null]], 5), [null, null, null, null, null], "not const null");
  eq(t.call("t_sparse", [[0, 1, 2, null, -4, 6, 7, 8888888888]], 8), ["0", "", "2", null, null, "6", "", "8888888888"], "sparse");
  eq(t.call("t_sparse", [[1, 3, 5]], 3), ["", "", ""], "sparse all skipped");
  eq(t.call("t_sparse", [[-1]], 4), [null, null, null, null], "sparse const null");
  eq(t.call("t_fail", [[1, 2, 13, 4]], 4).error, "unlucky row 2: 13 — ünïcödé", "failure message");
  eq(t.call("t_fail", [[1, null, 4]], 3), [1n, null, 4n], "no failure");
  eq(t.call("t_repeat", [["ab", "", null, "é"], [3, 5, 1, 100000]], 4), ["ababab", "", null, "é".repeat(100000)], "repeat (grows data)");
  eq(t.call("t_repeat", [["x"], [-1]], 1).error, "t_repeat: bad count", "repeat error");
  const decs = [12345n, -1n, null, (1n << 100n), -(1n << 127n) + 1n];
  eq(t.call("t_dec_neg", [decs], decs.length), decs.map((v) => (v === null ? null : -v)), "decimal128");
  leakCheck(t, "t_fail", () => t.call("t_fail", [[1, 2, 13]], 3));
  leakCheck(t, "t_repeat", () => t.call("t_repeat", [["abc", null, "é"], [50, 1, 300]], 3));
  leakCheck(t, "t_sparse", () => t.call("t_sparse", [[0, 1, 2, null, -4, 6]], 6));
  eq(t.call("luhn_valid", [["79927398713"]], 2), [true, true], "second file's export in the same module");
  const before = t.fetches ?? 0;
  eq(t.call("t_http", [["https://ok/a", null, "https://fail/b", "https://ok/é"]], 4),
    ["200 GET https://ok/a Accept: text/plain", null, "error: refused by policy: https://fail/b",
      "200 GET https://ok/é Accept: text/plain"], "http_fetch");
  eq(t.fetches - before, 1, "one wasql_http_fetch call per batch");
  eq(t.call("t_http", [["https://ok/a", "deny-all"]], 2).error, "wasql_http_fetch returned 7", "http_fetch refused");
  eq(t.call("t_http", [[null]], 3), [null, null, null], "no URL, no call");
  leakCheck(t, "t_http", () => t.call("t_http", [["https://ok/x", "https://fail/y", null]], 3));
}

if (failures) {
  console.log(`test_wasm: ${failures} failure(s)`);
  process.exit(1);
}
console.log("test_wasm: all passed");
