/*
 * luhn.c — wasql UDFs in C: Luhn checksums over card-like numbers.
 *
 *   luhn_valid(VARCHAR) -> BOOLEAN   the Luhn (mod 10) check
 *   digit_count(VARCHAR) -> BIGINT   how many ASCII digits the string has
 *   card_mask(VARCHAR) -> VARCHAR    every digit but the last four as '*'
 *
 * NULL in gives NULL out. Build: ./build.sh (udfs/dist/luhn_c.wasm).
 *
 * The pure functions come first and need no wasm: test_luhn.c includes this
 * file with LUHN_NO_UDF defined and runs them natively.
 */
#include <stddef.h>
#include <stdint.h>

/* The Luhn check over the digits of s[0..n). ASCII spaces are ignored; any
 * other non-digit byte makes the string invalid; a string without digits
 * (including "" and "   ") is invalid. A single "0" is valid, as the plain
 * algorithm says; length rules belong to the caller. */
int luhn_check(const char *s, size_t n) {
    unsigned sum = 0, digits = 0;
    int twice = 0; /* doubles every second digit from the right */
    for (size_t k = n; k-- > 0;) {
        unsigned char c = (unsigned char)s[k];
        unsigned d;
        if (c == ' ') continue;
        if (c < '0' || c > '9') return 0;
        d = c - '0';
        if (twice) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum = (sum + d) % 10;
        twice = !twice;
        digits = 1;
    }
    return digits && sum == 0;
}

/* How many bytes of s[0..n) are ASCII digits. */
int64_t digit_count(const char *s, size_t n) {
    int64_t count = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] >= '0' && s[k] <= '9') count++;
    return count;
}

/* Writes s[0..n) to dst (n bytes) with every ASCII digit except the last
 * four replaced by '*'. Other bytes, UTF-8 included, are copied unchanged. */
void card_mask(const char *s, size_t n, char *dst) {
    int64_t keep_from = digit_count(s, n) - 4; /* digits with index >= this stay */
    int64_t seen = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (c >= '0' && c <= '9') {
            if (seen < keep_from) c = '*';
            seen++;
        }
        dst[k] = c;
    }
}

#ifndef LUHN_NO_UDF
#include "wasql_udf.h"

WASQL_UDF_DESCRIBE({"abi":1,"name":"luhn_valid","kind":"scalar","export":"luhn_valid","args":["utf8"],"returns":"boolean","volatility":"immutable","capabilities":[],"doc":"Luhn mod-10 check of a card-like number; spaces ignored, other non-digits fail (C example)"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"digit_count","kind":"scalar","export":"digit_count","args":["utf8"],"returns":"int64","doc":"number of ASCII digits in a string (C example)"});
WASQL_UDF_DESCRIBE({"abi":1,"name":"card_mask","kind":"scalar","export":"card_mask","args":["utf8"],"returns":"utf8","doc":"replaces every digit but the last four with * (C example)"});

WASQL_EXPORT("luhn_valid")
int32_t luhn_valid_udf(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                       struct ArrowArray *out, struct WasqlError *err) {
    if (nargs != 1) return wasql_error(err, "expected 1 argument");
    if (wasql_result_init_bool(out, nrows)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        if (wasql_arg_is_null(&args[0], i)) {
            wasql_result_set_null(out, i);
        } else {
            struct wasql_str s = wasql_arg_str(&args[0], i);
            wasql_result_set_bool(out, i, luhn_check(s.ptr, s.len));
        }
    }
    return wasql_result_finish(out);
}

WASQL_EXPORT("digit_count")
int32_t digit_count_udf(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                        struct ArrowArray *out, struct WasqlError *err) {
    if (nargs != 1) return wasql_error(err, "expected 1 argument");
    if (wasql_result_init_fixed(out, nrows, sizeof(int64_t)))
        return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        if (wasql_arg_is_null(&args[0], i)) {
            wasql_result_set_null(out, i);
        } else {
            struct wasql_str s = wasql_arg_str(&args[0], i);
            wasql_result_set_i64(out, i, digit_count(s.ptr, s.len));
        }
    }
    return wasql_result_finish(out);
}

WASQL_EXPORT("card_mask")
int32_t card_mask_udf(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                      struct ArrowArray *out, struct WasqlError *err) {
    if (nargs != 1) return wasql_error(err, "expected 1 argument");
    if (wasql_result_init_utf8(out, nrows, 0)) return wasql_error(err, "out of memory");
    for (int32_t i = 0; i < nrows; i++) {
        struct wasql_str s;
        char *dst;
        if (wasql_arg_is_null(&args[0], i)) {
            wasql_result_set_null(out, i);
            continue;
        }
        s = wasql_arg_str(&args[0], i);
        dst = wasql_result_str_begin(out, i, s.len);
        if (!dst) {
            wasql_result_discard(out);
            return wasql_error(err, "out of memory");
        }
        card_mask(s.ptr, s.len, dst);
        wasql_result_str_end(out, s.len);
    }
    return wasql_result_finish(out);
}
#endif /* LUHN_NO_UDF */
