/* test_abi.c — a test-only module exercising the rest of wasql_udf.h
 * (broadcast, every builder, errors). Built and run by build.sh through
 * test_wasm.mjs; never installed. Two files include the header (this one
 * and luhn.c) to check the weak default exports link once. */
#include "wasql_udf.h"

WASQL_UDF_DESCRIBE({"abi":1,"name":"t_add_i32","kind":"scalar","export":"t_add_i32","args":["int32","int32"],"returns":"int32"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_scale","kind":"scalar","export":"t_scale","args":["float64","float64"],"returns":"float64"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_not","kind":"scalar","export":"t_not","args":["boolean"],"returns":"boolean"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_sparse","kind":"scalar","export":"t_sparse","args":["int64"],"returns":"utf8","doc":"x\"y\\z é (escapes survive)"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_fail","kind":"scalar","export":"t_fail","args":["int64"],"returns":"int64","volatility":"volatile","ok":true,"none":null});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_repeat","kind":"scalar","export":"t_repeat","args":["utf8","int64"],"returns":"utf8"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_http","kind":"scalar","export":"t_http","args":["utf8"],"returns":"utf8","volatility":"volatile","capabilities":["net:*"]});
WASQL_UDF_DESCRIBE({"abi":1,"name":"t_dec_neg","kind":"scalar","export":"t_dec_neg","args":["decimal128(10,2)"],"returns":"decimal128(10,2)"});

/* a + b, null if either is null (b is usually a constant) */
WASQL_EXPORT("t_add_i32")
int32_t t_add_i32(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                  struct ArrowArray *out, struct WasqlError *err) {
    if (nargs != 2) return wasql_errorf(err, "t_add_i32: expected 2 arguments, got %d", (int)nargs);
    if (wasql_result_init_fixed(out, nrows, 4)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        if (wasql_arg_is_null(&args[0], i) || wasql_arg_is_null(&args[1], i))
            wasql_result_set_null(out, i);
        else
            wasql_result_set_i32(out, i, wasql_arg_i32(&args[0], i) + wasql_arg_i32(&args[1], i));
    }
    return wasql_result_finish(out);
}

WASQL_EXPORT("t_scale")
int32_t t_scale(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                struct ArrowArray *out, struct WasqlError *err) {
    (void)nargs;
    if (wasql_result_init_fixed(out, nrows, 8)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        if (wasql_arg_is_null(&args[0], i) || wasql_arg_is_null(&args[1], i))
            wasql_result_set_null(out, i);
        else
            wasql_result_set_f64(out, i, wasql_arg_f64(&args[0], i) * wasql_arg_f64(&args[1], i));
    }
    return wasql_result_finish(out);
}

WASQL_EXPORT("t_not")
int32_t t_not(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
              struct ArrowArray *out, struct WasqlError *err) {
    (void)nargs;
    if (wasql_result_init_bool(out, nrows)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        wasql_result_set_bool(out, i, 1); /* then overwrite: set_bool must clear too */
        if (wasql_arg_is_null(&args[0], i))
            wasql_result_set_null(out, i);
        else
            wasql_result_set_bool(out, i, !wasql_arg_bool(&args[0], i));
    }
    return wasql_result_finish(out);
}

/* n >= 0 and even: "<n>"; odd: skipped (""); negative: null (set after the
 * strings, out of order); null: null. Exercises skipped rows and late nulls. */
WASQL_EXPORT("t_sparse")
int32_t t_sparse(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                 struct ArrowArray *out, struct WasqlError *err) {
    (void)nargs;
    if (wasql_result_init_utf8(out, nrows, 1)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        int64_t v;
        char buf[32];
        int n;
        if (wasql_arg_is_null(&args[0], i)) continue;
        v = wasql_arg_i64(&args[0], i);
        if (v < 0 || v % 2) continue;
        n = snprintf(buf, sizeof buf, "%lld", (long long)v);
        if (wasql_result_set_str(out, i, buf, (uint32_t)n)) {
            wasql_result_discard(out);
            return wasql_error(err, "set_str failed");
        }
        if (wasql_result_set_str(out, i, buf, (uint32_t)n) == 0) { /* same row twice */
            wasql_result_discard(out);
            return wasql_error(err, "set_str accepted a row twice");
        }
    }
    for (int32_t i = nrows - 1; i >= 0; i--)
        if (wasql_arg_is_null(&args[0], i) || wasql_arg_i64(&args[0], i) < 0) {
            wasql_result_set_null(out, i);
            wasql_result_set_null(out, i); /* twice: counted once */
        }
    return wasql_result_finish(out);
}

/* fails when any value is 13, after building part of the result */
WASQL_EXPORT("t_fail")
int32_t t_fail(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
               struct ArrowArray *out, struct WasqlError *err) {
    (void)nargs;
    if (wasql_result_init_fixed(out, nrows, 8)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        int64_t v = wasql_arg_i64(&args[0], i);
        if (!wasql_arg_is_null(&args[0], i) && v == 13) {
            wasql_result_discard(out);
            return wasql_errorf(err, "unlucky row %d: %lld — ünïcödé", (int)i, (long long)v);
        }
        if (wasql_arg_is_null(&args[0], i))
            wasql_result_set_null(out, i);
        else
            wasql_result_set_i64(out, i, v);
    }
    return wasql_result_finish(out);
}

/* s repeated n times, built with str_begin/str_end (forces data growth) */
WASQL_EXPORT("t_repeat")
int32_t t_repeat(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                 struct ArrowArray *out, struct WasqlError *err) {
    (void)nargs;
    if (wasql_result_init_utf8(out, nrows, 0)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        struct wasql_str s;
        int64_t n;
        char *dst;
        if (wasql_arg_is_null(&args[0], i) || wasql_arg_is_null(&args[1], i)) {
            wasql_result_set_null(out, i);
            continue;
        }
        s = wasql_arg_str(&args[0], i);
        n = wasql_arg_i64(&args[1], i);
        if (n < 0 || (uint64_t)n * s.len > 1u << 24) {
            wasql_result_discard(out);
            return wasql_error(err, "t_repeat: bad count");
        }
        dst = wasql_result_str_begin(out, i, (uint32_t)(n * s.len) + 5);
        if (!dst) {
            wasql_result_discard(out);
            return wasql_error(err, "out of memory");
        }
        for (int64_t k = 0; k < n; k++) memcpy(dst + k * s.len, s.ptr, s.len);
        if (wasql_result_str_end(out, (uint32_t)(n * s.len) + 6) == 0 ||   /* > max */
            wasql_result_str_end(out, (uint32_t)(n * s.len)) != 0 ||
            wasql_result_str_end(out, 0) == 0) {                       /* none open */
            wasql_result_discard(out);
            return wasql_error(err, "str_end checks failed");
        }
    }
    return wasql_result_finish(out);
}

/* -x for decimal128 via value pointers (two's complement, little-endian) */
WASQL_EXPORT("t_dec_neg")
int32_t t_dec_neg(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                  struct ArrowArray *out, struct WasqlError *err) {
    (void)nargs;
    if (wasql_result_init_fixed(out, nrows, 16)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        __int128 v;
        if (wasql_arg_is_null(&args[0], i)) {
            wasql_result_set_null(out, i);
            continue;
        }
        memcpy(&v, wasql_arg_value_ptr(&args[0], i, 16), 16);
        v = -v;
        memcpy(wasql_result_value_ptr(out, i), &v, 16);
    }
    return wasql_result_finish(out);
}

/* Every non-null URL fetched in one wasql_http_fetch call (a GET with an
 * Accept header; rows after the first with method length 0, which means GET
 * too): "STATUS BODY", or "error: MESSAGE" for a request without a response.
 * Fails when the call as a whole fails. */
WASQL_EXPORT("t_http")
int32_t t_http(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
               struct ArrowArray *out, struct WasqlError *err) {
    static const char accept[] = "Accept: text/plain";
    WasqlHttpRequest *requests;
    WasqlHttpResponse *responses;
    int32_t count = 0, rc, failed = 0;
    (void)nargs;
    requests = calloc((size_t)nrows + 1, sizeof *requests);
    responses = calloc((size_t)nrows + 1, sizeof *responses);
    if (!requests || !responses) {
        free(requests);
        free(responses);
        return wasql_error(err, "out of memory");
    }
    for (int32_t i = 0; i < nrows; i++) {
        struct wasql_str url;
        if (wasql_arg_is_null(&args[0], i)) continue;
        url = wasql_arg_str(&args[0], i);
        if (count == 0) {
            requests[count].method_ptr = "GET";
            requests[count].method_len = 3;
        }
        requests[count].url_ptr = url.ptr;
        requests[count].url_len = url.len;
        requests[count].headers_ptr = accept;
        requests[count].headers_len = sizeof accept - 1;
        count++;
    }
    rc = count ? wasql_http_fetch(requests, count, responses) : 0;
    free(requests);
    if (rc != 0) {
        free(responses);
        return wasql_errorf(err, "wasql_http_fetch returned %d", (int)rc);
    }
    if (wasql_result_init_utf8(out, nrows, 0)) failed = 1;
    for (int32_t i = 0, k = 0; i < nrows && !failed; i++) {
        WasqlHttpResponse *r;
        char head[32];
        int n;
        char *dst;
        uint32_t tail;
        const char *text;
        if (wasql_arg_is_null(&args[0], i)) {
            wasql_result_set_null(out, i);
            continue;
        }
        r = &responses[k++];
        if (r->status == 0) {
            n = snprintf(head, sizeof head, "error: ");
            text = r->error_ptr;
            tail = r->error_len;
        } else {
            n = snprintf(head, sizeof head, "%d ", (int)r->status);
            text = (const char *)r->body_ptr;
            tail = r->body_len;
        }
        dst = wasql_result_str_begin(out, i, (uint32_t)n + tail);
        if (!dst) {
            wasql_result_discard(out);
            failed = 1;
            break;
        }
        memcpy(dst, head, (size_t)n);
        if (tail) memcpy(dst + n, text, tail);
        wasql_result_str_end(out, (uint32_t)n + tail);
    }
    for (int32_t k = 0; k < count; k++) {
        wasql_http_response_free(&responses[k]);
        wasql_http_response_free(&responses[k]); /* twice: harmless */
    }
    free(responses);
    if (failed) return wasql_error(err, "out of memory");
    return wasql_result_finish(out);
}
