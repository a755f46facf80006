/*
 * wasql_udf.h — write wasql user-defined functions in C (ABI version 1).
 *
 * The contract is udfs/ABI.md; this header implements it for clang's wasm32
 * target. One file, no library to link: include it and compile.
 *
 * ---------------------------------------------------------------------------
 * A complete function (upper-case ASCII letters of a VARCHAR):
 *
 *   #include "wasql_udf.h"
 *
 *   WASQL_UDF_DESCRIBE({"abi":1,"name":"ascii_upper","kind":"scalar",
 *                       "export":"ascii_upper","args":["utf8"],"returns":"utf8"});
 *
 *   WASQL_EXPORT("ascii_upper")
 *   int32_t ascii_upper(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
 *                       struct ArrowArray *out, struct WasqlError *err) {
 *       if (nargs != 1) return wasql_error(err, "expected 1 argument");
 *       if (wasql_result_init_utf8(out, nrows, 0)) return wasql_error(err, "out of memory");
 *       for (int32_t i = 0; i < nrows; i++) {
 *           if (wasql_arg_is_null(&args[0], i)) { wasql_result_set_null(out, i); continue; }
 *           struct wasql_str s = wasql_arg_str(&args[0], i);
 *           char *dst = wasql_result_str_begin(out, i, s.len);
 *           if (!dst) { wasql_result_discard(out); return wasql_error(err, "out of memory"); }
 *           for (uint32_t k = 0; k < s.len; k++)
 *               dst[k] = (s.ptr[k] >= 'a' && s.ptr[k] <= 'z') ? s.ptr[k] - 32 : s.ptr[k];
 *           wasql_result_str_end(out, s.len);
 *       }
 *       return wasql_result_finish(out);
 *   }
 *
 * Build (a WASI reactor: no main, exports memory + the functions, and
 * `_initialize`, which the host calls once):
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-debug \
 *         -I udfs/include my_udfs.c -o my_udfs.wasm
 *
 * Do NOT add -nostartfiles: without crt1-reactor.o's `_initialize`, wasm-ld
 * wraps every export in a "command" wrapper that runs constructors before and
 * destructors (atexit handlers, stdio flush) after *each call*.
 * Debian/Ubuntu packages: clang lld wasi-libc libclang-rt-14-dev-wasm32.
 * ---------------------------------------------------------------------------
 *
 * What the header gives you
 *
 *  - `struct ArrowArray` (the Arrow C Data Interface struct, 64 bytes on
 *    wasm32, layout checked by _Static_assert) and `struct WasqlError`.
 *
 *  - The three exports every module needs: `wasql_alloc`, `wasql_free`,
 *    `wasql_release`, on top of malloc/free. They are defined as *weak*
 *    functions in every file that includes the header, so a module made of
 *    several .c files links without duplicate symbols and without a
 *    "define this in exactly one file" switch. To supply your own allocator,
 *    `#define WASQL_UDF_NO_DEFAULT_EXPORTS` before including the header (in
 *    every file) and define all three yourself with WASQL_EXPORT; the helpers
 *    below allocate only through wasql_alloc / wasql_free.
 *
 *  - WASQL_UDF_DESCRIBE({...json...}): one line of the `wasql.udfs` custom
 *    section (ABI.md §2). Pass the JSON object *unquoted*; the macro
 *    stringifies it and appends "\n". Use it once per SQL function, anywhere
 *    at file scope. It is emitted with top-level inline assembly, because
 *    clang 14 turns `__attribute__((section(".custom_section.X")))` on a C
 *    array into a *data segment* (which wasm-ld then drops), not a custom
 *    section. Caveat: the JSON passes through the C preprocessor, so keep it
 *    to ordinary JSON (string literals, numbers, [] {} : ,); true/false/null
 *    are stringified before macro expansion, so <stdbool.h> does not bite.
 *
 *    The same macro describes aggregates and table functions: a "columns"
 *    list of objects and "partitioned":true pass through unchanged.
 *
 *  - WASQL_EXPORT("name"): the attribute that exports a function under a name.
 *
 *  - Argument readers (all apply the broadcast rule: an argument whose length
 *    is 1 is a constant, the same value for every row):
 *      wasql_arg_is_null / wasql_arg_is_valid, wasql_arg_bool,
 *      wasql_arg_i8 … wasql_arg_i64, wasql_arg_u8 … wasql_arg_u64,
 *      wasql_arg_f32, wasql_arg_f64, wasql_arg_str (utf8 and binary),
 *      wasql_arg_value_ptr (any fixed-width type, e.g. decimal128).
 *
 *  - Result builders. Call one init, set rows, then `return
 *    wasql_result_finish(out);`. The result owns everything it allocated; the
 *    host frees it through wasql_release. If the function fails *after* an
 *    init, call wasql_result_discard(out) before returning the error (the
 *    host does not release `out` on failure).
 *      wasql_result_init_bool(out, nrows)               BOOLEAN
 *      wasql_result_init_fixed(out, nrows, width)       1/2/4/8/16-byte types
 *      wasql_result_init_utf8(out, nrows, data_hint)    VARCHAR and BYTEA
 *      wasql_result_set_null(out, row)                  any type
 *      wasql_result_set_bool(out, row, v)
 *      wasql_result_set_i8 … _i64, _u8 … _u64, _f32, _f64,
 *      wasql_result_value_ptr(out, row)                 fixed-width types
 *      wasql_result_set_str(out, row, ptr, len)         utf8 / binary
 *      wasql_result_str_begin(out, row, max) + wasql_result_str_end(out, len)
 *      wasql_result_finish(out)  -> 0
 *      wasql_result_discard(out)
 *    Results start all-valid with zeroed values (false / 0 / ""). Rows are
 *    0 <= row < nrows (not checked, as with any C array). Strings must be set
 *    in increasing row order, each at most once; rows skipped are "" (null if
 *    you set_null them, which works in any order, before or after).
 *
 *  - Errors: `return wasql_error(err, "message");` (or wasql_error_n,
 *    wasql_errorf with printf formatting) copies the message into a block
 *    from wasql_alloc(len, 1), as ABI.md §3 says, and returns 1. The host
 *    prefixes it with the function and module names. wasql_errorf links in
 *    vsnprintf: ~25 KB and imports of wasi_snapshot_preview1 fd_write,
 *    fd_seek, fd_close (allowed, never called by it).
 *
 *  - Aggregate functions (ABI.md §8; example: udfs/examples/weighted_c).
 *    WASQL_AGGREGATE(E, ACC) declares and exports the six functions E_new,
 *    E_update, E_merge, E_state, E_finish, E_drop over your accumulator type
 *    ACC (the typedefs wasql_agg_new_fn … wasql_agg_drop_fn document their
 *    signatures); describe it with WASQL_UDF_DESCRIBE({... "kind":"aggregate",
 *    "export":"E" ...}). Helpers:
 *      struct wasql_groups + wasql_groups_init / _resize (grow to ngroups,
 *        new groups zeroed) / _at / _remove_front (emit-and-shift, memmove) /
 *        _free / _check_emit (0 <= n <= count)
 *      states, a binary array: wasql_binary_init / wasql_binary_set to
 *        write them (E_state), wasql_binary_get to read them (E_merge; 0 for
 *        a null row), struct wasql_bytes
 *      wasql_put_u32le / _u64le / _i64le / _f64le and wasql_get_* for
 *        serialising a state's fields in a fixed byte order
 *
 *  - Table functions (ABI.md §9): WASQL_TABLE(name) declares the export
 *    (signature typedef wasql_table_fn); the description has "kind":"table",
 *    "columns":[{"name":...,"type":...}, ...], no "returns", and optionally
 *    "partitioned":true. out[0] (the part numbers) is a uint32 result:
 *    wasql_result_init_fixed(&out[0], m, 4) + wasql_result_set_u32.
 *    wasql_table_begin(out, ncolumns) zeroes the outputs first, so that
 *    wasql_table_discard(out, ncolumns) frees whatever was built on failure;
 *    wasql_result_truncate(out, m) shortens a result initialised with an
 *    upper bound on its rows.
 *
 *  - Network access (ABI.md §7): the structs WasqlHttpRequest
 *    and WasqlHttpResponse, the host import wasql_http_fetch (imported only
 *    if you call it) and wasql_http_response_free. Ask for hosts in the
 *    description, e.g. "capabilities":["net:api.example.com"]; the
 *    operator's configuration decides what is allowed.
 *
 * Everything except the three exports is `static inline`, so unused helpers
 * cost nothing (wasql_errorf pulls in vsnprintf only if you call it).
 */
#ifndef WASQL_UDF_H
#define WASQL_UDF_H

#if !defined(__wasm32__)
#error "wasql_udf.h targets wasm32: compile with clang --target=wasm32-wasi"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WASQL_ABI_VERSION 1

/* ------------------------------------------------------------------------ */
/* ABI structs (ABI.md §3, §4)                                               */
/* ------------------------------------------------------------------------ */

/* The Arrow C Data Interface struct, verbatim. The guard is Arrow's own, so
 * this header coexists with arrow/c/abi.h. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
    /* 4 bytes of tail padding on wasm32: the struct is 64 bytes */
};
#endif

_Static_assert(sizeof(void *) == 4, "wasm32 only: pointers must be 4 bytes");
_Static_assert(sizeof(struct ArrowArray) == 64, "ArrowArray must be 64 bytes");
_Static_assert(_Alignof(struct ArrowArray) == 8, "ArrowArray must be 8-byte aligned");
_Static_assert(offsetof(struct ArrowArray, length) == 0, "length");
_Static_assert(offsetof(struct ArrowArray, null_count) == 8, "null_count");
_Static_assert(offsetof(struct ArrowArray, offset) == 16, "offset");
_Static_assert(offsetof(struct ArrowArray, n_buffers) == 24, "n_buffers");
_Static_assert(offsetof(struct ArrowArray, n_children) == 32, "n_children");
_Static_assert(offsetof(struct ArrowArray, buffers) == 40, "buffers");
_Static_assert(offsetof(struct ArrowArray, children) == 44, "children");
_Static_assert(offsetof(struct ArrowArray, dictionary) == 48, "dictionary");
_Static_assert(offsetof(struct ArrowArray, release) == 52, "release");
_Static_assert(offsetof(struct ArrowArray, private_data) == 56, "private_data");

/* A failure message: `len` UTF-8 bytes at `ptr`, from wasql_alloc(len, 1). */
struct WasqlError {
    uint32_t ptr;
    uint32_t len;
};
_Static_assert(sizeof(struct WasqlError) == 8, "WasqlError must be 8 bytes");

/* The signature of every scalar function export. */
typedef int32_t (*wasql_scalar_fn)(const struct ArrowArray *args, int32_t nargs,
                                   int32_t nrows, struct ArrowArray *out,
                                   struct WasqlError *err);

/* ------------------------------------------------------------------------ */
/* Exports and self-description                                              */
/* ------------------------------------------------------------------------ */

#define WASQL_EXPORT(name) __attribute__((export_name(name)))

#define WASQL__STR(...) #__VA_ARGS__
#define WASQL__DESCRIBE_LIT(lit)                                   \
    __asm__(".section .custom_section.wasql.udfs,\"\",@\n"         \
            "\t.ascii " WASQL__STR(lit) "\n"                       \
            "\t.ascii \"\\n\"\n"                                   \
            "\t.text\n")
/* WASQL_UDF_DESCRIBE({"abi":1,"name":...}) — at file scope; JSON unquoted. */
#define WASQL_UDF_DESCRIBE(...) WASQL__DESCRIBE_LIT(#__VA_ARGS__)

/* The required exports (ABI.md §1). */
void *wasql_alloc(uint32_t size, uint32_t align);
void wasql_free(void *ptr, uint32_t size, uint32_t align);
void wasql_release(struct ArrowArray *array);

/* ------------------------------------------------------------------------ */
/* Result state, kept behind out->private_data                               */
/* ------------------------------------------------------------------------ */

#define WASQL__MAGIC 0x5157534cu /* "LSWQ" */

enum { WASQL__BOOL = 1, WASQL__FIXED = 2, WASQL__VARLEN = 3 };

struct wasql__result {
    uint32_t magic;
    int32_t kind;
    int32_t nrows;
    uint32_t width;        /* bytes per value (FIXED) */
    const void *bufs[3];   /* out->buffers points here */
    uint8_t *validity;     /* always allocated; bufs[0] is NULL while no nulls */
    uint32_t validity_size;
    uint8_t *values;       /* bool bitmap, fixed values, or i32 offsets */
    uint32_t values_size;
    uint32_t values_align;
    uint8_t *data;         /* VARLEN bytes */
    uint32_t data_len;
    uint32_t data_cap;
    int32_t str_rows;      /* VARLEN: offsets[0..str_rows] are final */
    int32_t pending_row;   /* VARLEN: row of an open str_begin, or -1 */
    uint32_t pending_max;
};

static inline struct wasql__result *wasql__state(struct ArrowArray *out) {
    return (struct wasql__result *)out->private_data;
}

/* Frees what a builder result owns. Safe on a result already released. */
static inline void wasql__result_free(struct ArrowArray *out) {
    struct wasql__result *st = wasql__state(out);
    if (!st || st->magic != WASQL__MAGIC) return;
    st->magic = 0;
    if (st->validity) wasql_free(st->validity, st->validity_size, 8);
    if (st->values) wasql_free(st->values, st->values_size, st->values_align);
    if (st->data) wasql_free(st->data, st->data_cap, 1);
    wasql_free(st, sizeof *st, _Alignof(struct wasql__result));
    out->private_data = NULL;
    out->buffers = NULL;
    out->n_buffers = 0;
}

/* ------------------------------------------------------------------------ */
/* Default exports (weak: one copy survives linking)                          */
/* ------------------------------------------------------------------------ */

#ifndef WASQL_UDF_NO_DEFAULT_EXPORTS
__attribute__((weak, export_name("wasql_alloc")))
void *wasql_alloc(uint32_t size, uint32_t align) {
    if (align == 0 || (align & (align - 1)) != 0) return NULL;
    if (size == 0) size = 1; /* ABI: size 0 still yields a non-zero pointer */
    if (align <= 16) return malloc(size); /* wasi-libc's malloc aligns to 16 */
    if (size > UINT32_MAX - align) return NULL;
    size = (size + align - 1) & ~(align - 1);
    return aligned_alloc(align, size);
}

__attribute__((weak, export_name("wasql_free")))
void wasql_free(void *ptr, uint32_t size, uint32_t align) {
    (void)size;
    (void)align;
    free(ptr);
}

/* Releases a result made by the builders below (private_data points to their
 * state, which records every block and its size). A result whose
 * private_data is not such a state is left alone: build results with the
 * builders, or define WASQL_UDF_NO_DEFAULT_EXPORTS and write your own. */
__attribute__((weak, export_name("wasql_release")))
void wasql_release(struct ArrowArray *array) {
    if (array) wasql__result_free(array);
}
#endif

/* ------------------------------------------------------------------------ */
/* Reading arguments                                                          */
/* ------------------------------------------------------------------------ */

/* A string or binary value: `len` bytes at `ptr` (not NUL-terminated). */
struct wasql_str {
    const char *ptr;
    uint32_t len;
};

/* Physical index of `row` in argument `a`: 0 for a constant (length 1). */
static inline int64_t wasql_arg_index(const struct ArrowArray *a, int32_t row) {
    return (a->length == 1 ? 0 : (int64_t)row) + a->offset;
}

/* True when the argument is a constant (length 1) broadcast to every row. */
static inline int wasql_arg_is_const(const struct ArrowArray *a) {
    return a->length == 1;
}

static inline int wasql__bit(const void *bitmap, int64_t i) {
    return (((const uint8_t *)bitmap)[i >> 3] >> (i & 7)) & 1;
}

static inline int wasql_arg_is_valid(const struct ArrowArray *a, int32_t row) {
    const void *validity = a->buffers[0];
    if (validity == NULL || a->null_count == 0) return 1;
    return wasql__bit(validity, wasql_arg_index(a, row));
}

static inline int wasql_arg_is_null(const struct ArrowArray *a, int32_t row) {
    return !wasql_arg_is_valid(a, row);
}

/* BOOLEAN: the value bit (0 or 1). Meaningless for a null row. */
static inline int wasql_arg_bool(const struct ArrowArray *a, int32_t row) {
    return wasql__bit(a->buffers[1], wasql_arg_index(a, row));
}

/* Any fixed-width type (e.g. decimal128: width 16, two's complement, LE). */
static inline const void *wasql_arg_value_ptr(const struct ArrowArray *a, int32_t row,
                                              uint32_t width) {
    return (const uint8_t *)a->buffers[1] + wasql_arg_index(a, row) * (int64_t)width;
}

#define WASQL__ARG_GETTER(suffix, T)                                            \
    static inline T wasql_arg_##suffix(const struct ArrowArray *a, int32_t row) { \
        T v;                                                                    \
        memcpy(&v, wasql_arg_value_ptr(a, row, sizeof(T)), sizeof(T));         \
        return v;                                                               \
    }
WASQL__ARG_GETTER(i8, int8_t)
WASQL__ARG_GETTER(i16, int16_t)
WASQL__ARG_GETTER(i32, int32_t) /* also date32 */
WASQL__ARG_GETTER(i64, int64_t) /* also timestamp_us, timestamp_us_utc */
WASQL__ARG_GETTER(u8, uint8_t)
WASQL__ARG_GETTER(u16, uint16_t)
WASQL__ARG_GETTER(u32, uint32_t)
WASQL__ARG_GETTER(u64, uint64_t)
WASQL__ARG_GETTER(f32, float)
WASQL__ARG_GETTER(f64, double)
#undef WASQL__ARG_GETTER

/* utf8 / binary: the bytes of row `row` (empty for a null row, usually). */
static inline struct wasql_str wasql_arg_str(const struct ArrowArray *a, int32_t row) {
    const int32_t *offsets = (const int32_t *)a->buffers[1];
    const char *data = (const char *)a->buffers[2];
    int64_t i = wasql_arg_index(a, row);
    struct wasql_str s;
    s.ptr = data + offsets[i];
    s.len = (uint32_t)(offsets[i + 1] - offsets[i]);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Building results                                                           */
/* ------------------------------------------------------------------------ */

/* Common part of the inits: state + validity bitmap (all valid). */
static inline struct wasql__result *wasql__result_begin(struct ArrowArray *out,
                                                        int32_t nrows, int32_t kind) {
    struct wasql__result *st;
    uint32_t vsize;
    out->private_data = NULL;
    if (nrows < 0) return NULL;
    st = (struct wasql__result *)wasql_alloc(sizeof *st, _Alignof(struct wasql__result));
    if (!st) return NULL;
    memset(st, 0, sizeof *st);
    st->magic = WASQL__MAGIC;
    st->kind = kind;
    st->nrows = nrows;
    st->pending_row = -1;
    vsize = ((uint32_t)nrows + 7) / 8;
    st->validity_size = vsize ? vsize : 1;
    st->validity = (uint8_t *)wasql_alloc(st->validity_size, 8);
    out->length = nrows;
    out->null_count = 0;
    out->offset = 0;
    out->n_buffers = kind == WASQL__VARLEN ? 3 : 2;
    out->n_children = 0;
    out->buffers = st->bufs;
    out->children = NULL;
    out->dictionary = NULL;
    out->release = NULL;
    out->private_data = st;
    if (!st->validity) {
        wasql__result_free(out);
        return NULL;
    }
    memset(st->validity, 0xff, st->validity_size);
    st->bufs[0] = NULL; /* no nulls yet */
    return st;
}

static inline int wasql__result_values(struct ArrowArray *out, struct wasql__result *st,
                                       uint64_t size, uint32_t align) {
    if (size == 0) size = 1;
    if (size > 0x7fffffffu) {
        wasql__result_free(out);
        return -1;
    }
    st->values_size = (uint32_t)size;
    st->values_align = align;
    st->values = (uint8_t *)wasql_alloc(st->values_size, align);
    if (!st->values) {
        wasql__result_free(out);
        return -1;
    }
    memset(st->values, 0, st->values_size);
    st->bufs[1] = st->values;
    return 0;
}

/* BOOLEAN result of nrows rows, all false and valid. 0, or -1 if out of memory. */
static inline int wasql_result_init_bool(struct ArrowArray *out, int32_t nrows) {
    struct wasql__result *st = wasql__result_begin(out, nrows, WASQL__BOOL);
    if (!st) return -1;
    return wasql__result_values(out, st, ((uint64_t)nrows + 7) / 8, 8);
}

/* Fixed-width result: width 1, 2, 4, 8 or 16 bytes per row (int8 … int64,
 * uint*, float32/64, date32, timestamp_us*, decimal128), all 0 and valid. */
static inline int wasql_result_init_fixed(struct ArrowArray *out, int32_t nrows,
                                          uint32_t width) {
    struct wasql__result *st;
    if (width == 0 || width > 16 || (width & (width - 1)) != 0) {
        out->private_data = NULL;
        return -1;
    }
    st = wasql__result_begin(out, nrows, WASQL__FIXED);
    if (!st) return -1;
    st->width = width;
    return wasql__result_values(out, st, (uint64_t)nrows * width, width < 8 ? 8 : width);
}

/* utf8 (or binary) result, all "" and valid. data_hint: expected total bytes
 * (0 for a default); the data buffer grows as needed. */
static inline int wasql_result_init_utf8(struct ArrowArray *out, int32_t nrows,
                                         uint32_t data_hint) {
    struct wasql__result *st = wasql__result_begin(out, nrows, WASQL__VARLEN);
    if (!st) return -1;
    if (wasql__result_values(out, st, ((uint64_t)nrows + 1) * 4, 8)) return -1;
    st->data_cap = data_hint ? data_hint : 64;
    st->data = (uint8_t *)wasql_alloc(st->data_cap, 1);
    if (!st->data) {
        st->data_cap = 0;
        wasql__result_free(out);
        return -1;
    }
    st->bufs[2] = st->data;
    return 0;
}
#define wasql_result_init_binary wasql_result_init_utf8

/* Marks a row null (any result type, any order). */
static inline void wasql_result_set_null(struct ArrowArray *out, int32_t row) {
    struct wasql__result *st = wasql__state(out);
    uint8_t mask = (uint8_t)(1u << (row & 7));
    if (st->validity[row >> 3] & mask) {
        st->validity[row >> 3] &= (uint8_t)~mask;
        out->null_count++;
        st->bufs[0] = st->validity;
    }
}

static inline void wasql_result_set_bool(struct ArrowArray *out, int32_t row, int value) {
    struct wasql__result *st = wasql__state(out);
    uint8_t mask = (uint8_t)(1u << (row & 7));
    if (value)
        st->values[row >> 3] |= mask;
    else
        st->values[row >> 3] &= (uint8_t)~mask;
}

/* Fixed-width results: where row `row`'s `width` bytes go. */
static inline void *wasql_result_value_ptr(struct ArrowArray *out, int32_t row) {
    struct wasql__result *st = wasql__state(out);
    return st->values + (size_t)row * st->width;
}

#define WASQL__RESULT_SETTER(suffix, T)                                              \
    static inline void wasql_result_set_##suffix(struct ArrowArray *out, int32_t row, \
                                                 T v) {                              \
        memcpy(wasql_result_value_ptr(out, row), &v, sizeof(T));                     \
    }
WASQL__RESULT_SETTER(i8, int8_t)
WASQL__RESULT_SETTER(i16, int16_t)
WASQL__RESULT_SETTER(i32, int32_t)
WASQL__RESULT_SETTER(i64, int64_t)
WASQL__RESULT_SETTER(u8, uint8_t)
WASQL__RESULT_SETTER(u16, uint16_t)
WASQL__RESULT_SETTER(u32, uint32_t)
WASQL__RESULT_SETTER(u64, uint64_t)
WASQL__RESULT_SETTER(f32, float)
WASQL__RESULT_SETTER(f64, double)
#undef WASQL__RESULT_SETTER

/* VARLEN: make room for `extra` more data bytes. 0 or -1. */
static inline int wasql__reserve(struct wasql__result *st, uint32_t extra) {
    uint64_t need = (uint64_t)st->data_len + extra;
    uint64_t cap;
    uint8_t *data;
    if (need <= st->data_cap) return 0;
    if (need > 0x7fffffffu) return -1; /* i32 offsets */
    cap = (uint64_t)st->data_cap * 2;
    if (cap < need) cap = need;
    if (cap > 0x7fffffffu) cap = 0x7fffffffu;
    data = (uint8_t *)wasql_alloc((uint32_t)cap, 1);
    if (!data) return -1;
    memcpy(data, st->data, st->data_len);
    wasql_free(st->data, st->data_cap, 1);
    st->data = data;
    st->data_cap = (uint32_t)cap;
    st->bufs[2] = data;
    return 0;
}

/* VARLEN: rows before `row` not yet written become "". -1 if out of order. */
static inline int wasql__seek_row(struct wasql__result *st, int32_t row) {
    int32_t *offsets = (int32_t *)st->values;
    if (row < st->str_rows || row >= st->nrows || st->pending_row >= 0) return -1;
    while (st->str_rows < row) offsets[++st->str_rows] = (int32_t)st->data_len;
    return 0;
}

/* utf8 / binary: row `row` is `len` bytes at `ptr`. Rows must come in
 * increasing order. 0, or -1 (out of memory or row out of order). */
static inline int wasql_result_set_str(struct ArrowArray *out, int32_t row,
                                       const void *ptr, uint32_t len) {
    struct wasql__result *st = wasql__state(out);
    if (wasql__seek_row(st, row) || wasql__reserve(st, len)) return -1;
    if (len) memcpy(st->data + st->data_len, ptr, len);
    st->data_len += len;
    ((int32_t *)st->values)[row + 1] = (int32_t)st->data_len;
    st->str_rows = row + 1;
    return 0;
}

/* utf8 / binary, written in place: returns room for up to `max` bytes of row
 * `row` (NULL: out of memory or row out of order); write them, then call
 * wasql_result_str_end(out, len) with len <= max. The pointer is valid until
 * str_end. */
static inline char *wasql_result_str_begin(struct ArrowArray *out, int32_t row,
                                           uint32_t max) {
    struct wasql__result *st = wasql__state(out);
    if (wasql__seek_row(st, row) || wasql__reserve(st, max)) return NULL;
    st->pending_row = row;
    st->pending_max = max;
    return (char *)st->data + st->data_len;
}

/* 0, or -1 (no open str_begin, or len > max). */
static inline int wasql_result_str_end(struct ArrowArray *out, uint32_t len) {
    struct wasql__result *st = wasql__state(out);
    int32_t row = st->pending_row;
    if (row < 0 || len > st->pending_max) return -1;
    st->data_len += len;
    ((int32_t *)st->values)[row + 1] = (int32_t)st->data_len;
    st->str_rows = row + 1;
    st->pending_row = -1;
    return 0;
}

/* Completes the result (fills the offsets of trailing rows). Returns 0 so a
 * function can end with `return wasql_result_finish(out);`. */
static inline int32_t wasql_result_finish(struct ArrowArray *out) {
    struct wasql__result *st = wasql__state(out);
    if (st->kind == WASQL__VARLEN) {
        int32_t *offsets = (int32_t *)st->values;
        st->pending_row = -1;
        while (st->str_rows < st->nrows) offsets[++st->str_rows] = (int32_t)st->data_len;
    }
    st->bufs[0] = out->null_count ? st->validity : NULL;
    return 0;
}

/* Frees a result that will not be returned (after an init, on failure). */
static inline void wasql_result_discard(struct ArrowArray *out) {
    wasql__result_free(out);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* Sets *err to a copy of `len` bytes of UTF-8 and returns 1 (a failure code). */
static inline int32_t wasql_error_n(struct WasqlError *err, const char *msg, uint32_t len) {
    char *p;
    err->ptr = 0;
    err->len = 0;
    p = (char *)wasql_alloc(len, 1);
    if (p) {
        if (len) memcpy(p, msg, len);
        err->ptr = (uint32_t)(uintptr_t)p;
        err->len = len;
    }
    return 1;
}

static inline int32_t wasql_error(struct WasqlError *err, const char *msg) {
    return wasql_error_n(err, msg, (uint32_t)strlen(msg));
}

/* printf-style; messages longer than 1 KiB are cut (at a UTF-8 boundary). */
__attribute__((format(printf, 2, 3)))
static inline int32_t wasql_errorf(struct WasqlError *err, const char *fmt, ...) {
    char buf[1024 + 4];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > 1024) {
        n = 1024; /* buf[1024] is a real byte: do not split its sequence */
        while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80) n--;
    }
    return wasql_error_n(err, buf, (uint32_t)n);
}

/* ------------------------------------------------------------------------ */
/* Aggregate functions (ABI.md §8)                                            */
/* ------------------------------------------------------------------------ */

/* The six exports of an aggregate whose description says "export":"E", as
 * function-pointer types. The accumulator handle is an i32 in the ABI; in C
 * it is a pointer to your own accumulator struct (any pointer is an i32 on
 * wasm32), shown here as void *.
 *
 *   E_new()                      a new accumulator with no groups, or NULL
 *   E_update(acc, args, nargs, nrows, groups, ngroups, err)
 *                                fold row i of args into group groups[i]
 *   E_merge(acc, states, nrows, groups, ngroups, err)
 *                                fold state i (a binary array, made by E_state;
 *                                null rows skipped) into group groups[i]
 *   E_state(acc, n, out, err)    states of groups 0..n as a binary array,
 *                                then remove those groups
 *   E_finish(acc, n, out, err)   results of groups 0..n, of type "returns",
 *                                then remove those groups
 *   E_drop(acc)                  free everything
 *
 * `ngroups` is the number of groups after the call (never fewer than
 * before); new groups start empty. `groups` holds nrows u32 numbers below
 * ngroups. Arguments are never constants here: every one is nrows long.
 * Removing groups 0..n renumbers group n as 0, n+1 as 1, and so on. */
typedef void *(*wasql_agg_new_fn)(void);
typedef int32_t (*wasql_agg_update_fn)(void *acc, const struct ArrowArray *args,
                                       int32_t nargs, int32_t nrows,
                                       const uint32_t *groups, int32_t ngroups,
                                       struct WasqlError *err);
typedef int32_t (*wasql_agg_merge_fn)(void *acc, const struct ArrowArray *states,
                                      int32_t nrows, const uint32_t *groups,
                                      int32_t ngroups, struct WasqlError *err);
typedef int32_t (*wasql_agg_state_fn)(void *acc, int32_t n, struct ArrowArray *out,
                                      struct WasqlError *err);
typedef int32_t (*wasql_agg_finish_fn)(void *acc, int32_t n, struct ArrowArray *out,
                                       struct WasqlError *err);
typedef void (*wasql_agg_drop_fn)(void *acc);

/* WASQL_AGGREGATE(E, ACC) declares the six functions E_new … E_drop, with
 * ACC your accumulator type, each exported under its own name; then define
 * them. Pair it with a description whose "export" is "E":
 *
 *   WASQL_UDF_DESCRIBE({"abi":1,"name":"my_sum","kind":"aggregate",
 *                       "export":"my_sum","args":["float64"],"returns":"float64"});
 *   struct my_acc { struct wasql_groups sums; };
 *   WASQL_AGGREGATE(my_sum, struct my_acc);
 *   struct my_acc *my_sum_new(void) { ... }
 *   int32_t my_sum_update(struct my_acc *acc, ...) { ... }   and so on. */
#define WASQL_AGGREGATE(E, ACC)                                                       \
    WASQL_EXPORT(#E "_new") ACC *E##_new(void);                                       \
    WASQL_EXPORT(#E "_update")                                                        \
    int32_t E##_update(ACC *acc, const struct ArrowArray *args, int32_t nargs,        \
                       int32_t nrows, const uint32_t *groups, int32_t ngroups,        \
                       struct WasqlError *err);                                       \
    WASQL_EXPORT(#E "_merge")                                                         \
    int32_t E##_merge(ACC *acc, const struct ArrowArray *states, int32_t nrows,       \
                      const uint32_t *groups, int32_t ngroups, struct WasqlError *err); \
    WASQL_EXPORT(#E "_state")                                                         \
    int32_t E##_state(ACC *acc, int32_t n, struct ArrowArray *out,                    \
                      struct WasqlError *err);                                        \
    WASQL_EXPORT(#E "_finish")                                                        \
    int32_t E##_finish(ACC *acc, int32_t n, struct ArrowArray *out,                   \
                       struct WasqlError *err);                                       \
    WASQL_EXPORT(#E "_drop") void E##_drop(ACC *acc)

/* Per-group storage: `count` groups of `size` bytes each, contiguous, in
 * memory from wasql_alloc. Zero bytes are an empty group, so choose a
 * layout whose all-zero value means "no rows yet" (two sums of 0, a count
 * of 0, ...). */
struct wasql_groups {
    uint8_t *items;
    uint32_t count; /* groups held */
    uint32_t cap;   /* groups allocated */
    uint32_t size;  /* bytes per group */
};

/* An empty store of groups of `size` bytes (8-byte aligned). */
static inline void wasql_groups_init(struct wasql_groups *g, uint32_t size) {
    g->items = NULL;
    g->count = 0;
    g->cap = 0;
    g->size = size ? size : 1;
}

/* Makes the store hold `ngroups` groups, as E_update and E_merge are asked
 * to: new groups are zero bytes (empty); existing ones keep their values.
 * Returns 0; -1 if out of memory; -2 if ngroups is below the current count
 * (the host never does that: report it as an error). */
static inline int wasql_groups_resize(struct wasql_groups *g, int32_t ngroups) {
    uint32_t want, cap;
    uint8_t *items;
    if (ngroups < 0 || (uint32_t)ngroups < g->count) return -2;
    want = (uint32_t)ngroups;
    if (want > g->cap) {
        cap = g->cap * 2;
        if (cap < want) cap = want;
        if (cap < 8) cap = 8;
        if ((uint64_t)cap * g->size > 0x7fffffffu) {
            cap = want;
            if ((uint64_t)cap * g->size > 0x7fffffffu) return -1;
        }
        items = (uint8_t *)wasql_alloc(cap * g->size, 8);
        if (!items) return -1;
        if (g->count) memcpy(items, g->items, (size_t)g->count * g->size);
        if (g->items) wasql_free(g->items, g->cap * g->size, 8);
        g->items = items;
        g->cap = cap;
    }
    if (want > g->count)
        memset(g->items + (size_t)g->count * g->size, 0, (size_t)(want - g->count) * g->size);
    g->count = want;
    return 0;
}

/* Group `i` (i < count): `size` bytes, 8-byte aligned when size is a
 * multiple of 8. */
static inline void *wasql_groups_at(const struct wasql_groups *g, uint32_t i) {
    return g->items + (size_t)i * g->size;
}

/* Removes groups 0..n (n <= count; what E_state and E_finish do after
 * writing them): group n becomes group 0. Keeps the allocation. */
static inline void wasql_groups_remove_front(struct wasql_groups *g, uint32_t n) {
    if (n >= g->count) {
        g->count = 0;
        return;
    }
    memmove(g->items, g->items + (size_t)n * g->size, (size_t)(g->count - n) * g->size);
    g->count -= n;
}

/* Frees the groups (E_drop); the store is empty and usable again. */
static inline void wasql_groups_free(struct wasql_groups *g) {
    if (g->items) wasql_free(g->items, g->cap * g->size, 8);
    g->items = NULL;
    g->count = 0;
    g->cap = 0;
}

/* Checks E_state / E_finish's `n` against the groups held: 0 when
 * 0 <= n <= count, else an error in *err (returns 1). */
static inline int32_t wasql_groups_check_emit(const struct wasql_groups *g, int32_t n,
                                              struct WasqlError *err) {
    static const char msg[] = "asked to emit more groups than the accumulator holds";
    if (n < 0 || (uint32_t)n > g->count) return wasql_error_n(err, msg, sizeof msg - 1);
    return 0;
}

/* ---- States: binary arrays (ABI.md §8, "States") --------------------- */

/* A binary value: `len` bytes at `ptr`. */
struct wasql_bytes {
    const uint8_t *ptr;
    uint32_t len;
};

/* Row `row` of a binary array from the host (the `states` of E_merge, or a
 * binary argument): 1 and *value set when the row is present, 0 for a null
 * row (to be skipped, for states). */
static inline int wasql_binary_get(const struct ArrowArray *a, int32_t row,
                                   struct wasql_bytes *value) {
    struct wasql_str s;
    if (wasql_arg_is_null(a, row)) {
        value->ptr = NULL;
        value->len = 0;
        return 0;
    }
    s = wasql_arg_str(a, row);
    value->ptr = (const uint8_t *)s.ptr;
    value->len = s.len;
    return 1;
}

/* A binary result of `n` rows (E_state's `out`), with room reserved for
 * `bytes_each` bytes per row (it grows if a state is larger). 0 or -1. */
static inline int wasql_binary_init(struct ArrowArray *out, int32_t n, uint32_t bytes_each) {
    uint64_t hint = (uint64_t)(n > 0 ? n : 0) * bytes_each;
    if (hint > 0x7fffffffu) hint = 0;
    return wasql_result_init_utf8(out, n, (uint32_t)hint);
}

/* Row `row` of a binary result is `len` bytes at `ptr`; rows in increasing
 * order, as wasql_result_set_str (which it is). 0 or -1. */
static inline int wasql_binary_set(struct ArrowArray *out, int32_t row, const void *ptr,
                                   uint32_t len) {
    return wasql_result_set_str(out, row, ptr, len);
}

/* Little-endian encoding of fixed-width fields, for self-contained states
 * (wasm32 is little-endian, so these are plain copies, but they make the
 * byte order of a state explicit). */
static inline void wasql_put_u32le(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void wasql_put_u64le(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void wasql_put_i64le(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
static inline void wasql_put_f64le(uint8_t *p, double v) { memcpy(p, &v, 8); }
static inline uint32_t wasql_get_u32le(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t wasql_get_u64le(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline int64_t wasql_get_i64le(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline double wasql_get_f64le(const uint8_t *p) { double v; memcpy(&v, p, 8); return v; }

/* ------------------------------------------------------------------------ */
/* Table functions (ABI.md §9)                                                */
/* ------------------------------------------------------------------------ */

/* The signature of a table function export. Rows bounds[p]..bounds[p+1]-1
 * form part p (per row: part i is row i; "partitioned": part p is one whole
 * partition). The function writes 1 + ncolumns arrays of one length m into
 * out[0..ncolumns]: out[0] a uint32 array without nulls, the part of each
 * output row, never decreasing; out[1 + j] column j of "columns". */
typedef int32_t (*wasql_table_fn)(const struct ArrowArray *args, int32_t nargs,
                                  int32_t nrows, const uint32_t *bounds, int32_t nparts,
                                  struct ArrowArray *out, struct WasqlError *err);

/* WASQL_TABLE(name) declares a table function exported as "name"; follow it
 * with the definition. With a description such as
 *   WASQL_UDF_DESCRIBE({"abi":1,"name":"tokenize","kind":"table","export":"tokenize",
 *                       "args":["utf8"],"columns":[{"name":"token","type":"utf8"},
 *                       {"name":"pos","type":"int32"}]});
 * (add "partitioned":true for whole partitions; no "returns"). */
#define WASQL_TABLE(name)                                                               \
    WASQL_EXPORT(#name)                                                                 \
    int32_t name(const struct ArrowArray *args, int32_t nargs, int32_t nrows,           \
                 const uint32_t *bounds, int32_t nparts, struct ArrowArray *out,        \
                 struct WasqlError *err)

/* Clears the 1 + ncolumns output structs, so that wasql_table_discard can
 * run whatever was initialised. Call it first. */
static inline void wasql_table_begin(struct ArrowArray *out, int32_t ncolumns) {
    memset(out, 0, sizeof *out * (size_t)(1 + ncolumns));
}

/* On failure: frees the 1 + ncolumns results built so far (after
 * wasql_table_begin, ones never initialised are skipped). */
static inline void wasql_table_discard(struct ArrowArray *out, int32_t ncolumns) {
    for (int32_t j = 0; j <= ncolumns; j++) wasql_result_discard(&out[j]);
}

/* Shortens a result to its first m rows (m <= the nrows it was initialised
 * with), for outputs whose length is known only at the end: init with an
 * upper bound, fill, truncate, finish. Nulls set at rows >= m are dropped.
 * 0, or -1 (m out of range, or a string already written at a row >= m). */
static inline int wasql_result_truncate(struct ArrowArray *out, int32_t m) {
    struct wasql__result *st = wasql__state(out);
    if (m < 0 || m > st->nrows || st->pending_row >= 0) return -1;
    if (st->kind == WASQL__VARLEN && st->str_rows > m) return -1;
    for (int32_t row = m; row < st->nrows; row++)
        if (!(st->validity[row >> 3] & (1u << (row & 7)))) {
            st->validity[row >> 3] |= (uint8_t)(1u << (row & 7));
            out->null_count--;
        }
    if (out->null_count == 0) st->bufs[0] = NULL;
    st->nrows = m;
    out->length = m;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Network access: the host import wasql.http_fetch (ABI.md §7)              */
/* ------------------------------------------------------------------------ */

/* One request: `len` bytes at each pointer (not NUL-terminated; a pointer
 * may be NULL when its length is 0).
 *   method   e.g. "GET"; length 0 means GET
 *   url      an absolute URL
 *   headers  "Name: value" lines separated by "\n"; may be empty
 *   body     any bytes; may be empty */
typedef struct WasqlHttpRequest {
    const char *method_ptr;
    uint32_t method_len;
    const char *url_ptr;
    uint32_t url_len;
    const char *headers_ptr;
    uint32_t headers_len;
    const void *body_ptr;
    uint32_t body_len;
} WasqlHttpRequest;

/* One response, filled in by the host.
 *   status   the HTTP status code, or 0 when the request got no response
 *            (refused by the operator's policy, timeout, too large,
 *            connection error); then `error` says why
 *   headers  "name: value" lines separated by "\n", names in lowercase
 *   body     the body
 *   error    a UTF-8 message, when status == 0
 * Each non-empty buffer was allocated by the host with wasql_alloc(len, 1)
 * and belongs to the module: free it with wasql_http_response_free. Empty
 * buffers are NULL with length 0. */
typedef struct WasqlHttpResponse {
    int32_t status;
    char *headers_ptr;
    uint32_t headers_len;
    uint8_t *body_ptr;
    uint32_t body_len;
    char *error_ptr;
    uint32_t error_len;
    uint32_t reserved; /* 0 */
} WasqlHttpResponse;

_Static_assert(sizeof(WasqlHttpRequest) == 32, "WasqlHttpRequest must be 32 bytes");
_Static_assert(_Alignof(WasqlHttpRequest) == 4, "WasqlHttpRequest must be 4-byte aligned");
_Static_assert(offsetof(WasqlHttpRequest, url_ptr) == 8, "url_ptr");
_Static_assert(offsetof(WasqlHttpRequest, headers_ptr) == 16, "headers_ptr");
_Static_assert(offsetof(WasqlHttpRequest, body_len) == 28, "body_len");
_Static_assert(sizeof(WasqlHttpResponse) == 32, "WasqlHttpResponse must be 32 bytes");
_Static_assert(_Alignof(WasqlHttpResponse) == 4, "WasqlHttpResponse must be 4-byte aligned");
_Static_assert(offsetof(WasqlHttpResponse, headers_ptr) == 4, "headers_ptr");
_Static_assert(offsetof(WasqlHttpResponse, body_ptr) == 12, "body_ptr");
_Static_assert(offsetof(WasqlHttpResponse, error_ptr) == 20, "error_ptr");
_Static_assert(offsetof(WasqlHttpResponse, reserved) == 28, "reserved");

/* Sends `count` requests in one call; the host runs them concurrently (up
 * to the operator's limit) and fills in `count` responses. Returns 0 when
 * every response was filled in (each with a status, or status 0 and an
 * error); non-zero when the call as a whole failed (e.g. the module may not
 * use the network at all): then no response is filled in and nothing is
 * allocated. Zero the responses before the call. The module imports
 * wasql.http_fetch only if it calls this. */
__attribute__((import_module("wasql"), import_name("http_fetch")))
int32_t wasql_http_fetch(const WasqlHttpRequest *requests, int32_t count,
                         WasqlHttpResponse *responses);

/* Frees the buffers the host allocated in `*response` (each as
 * wasql_free(ptr, len, 1)) and sets them to NULL/0, so calling it twice is
 * harmless. */
static inline void wasql_http_response_free(WasqlHttpResponse *response) {
    if (response->headers_ptr && response->headers_len)
        wasql_free(response->headers_ptr, response->headers_len, 1);
    if (response->body_ptr && response->body_len)
        wasql_free(response->body_ptr, response->body_len, 1);
    if (response->error_ptr && response->error_len)
        wasql_free(response->error_ptr, response->error_len, 1);
    response->headers_ptr = NULL;
    response->headers_len = 0;
    response->body_ptr = NULL;
    response->body_len = 0;
    response->error_ptr = NULL;
    response->error_len = 0;
}

#ifdef __cplusplus
}
#endif

#endif /* WASQL_UDF_H */
