/* test_weighted.c — drives weighted.c's six aggregate exports the way the
 * host does (ABI.md §8), plus a test-only table function for the §9 helpers
 * of wasql_udf.h. A WASI command for wasm32 (wasql_udf.h is wasm32-only, so
 * it cannot run natively): it includes weighted.c, and build.sh runs it
 * under node's WASI (run_wasi.mjs). Exit status 1 on any failure. Never
 * installed. */
#include <math.h>

/* the module itself, so the tests see its accumulator struct */
#include "weighted.c"

static int failures;

#define CHECK(cond, ...)                                    \
    do {                                                    \
        if (!(cond)) {                                      \
            failures++;                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
            printf(__VA_ARGS__);                            \
            printf("\n");                                   \
        }                                                   \
    } while (0)

#define NUL NAN /* marks a NULL in the input lists below (NaN is never an input) */

/* A float64 array of n rows from vals (NUL = null), built with the
 * header's result builder (a valid ArrowArray, as the host would pass). */
static void f64_array(struct ArrowArray *a, const double *vals, int32_t n) {
    if (wasql_result_init_fixed(a, n, 8)) abort();
    for (int32_t i = 0; i < n; i++) {
        if (isnan(vals[i]))
            wasql_result_set_null(a, i);
        else
            wasql_result_set_f64(a, i, vals[i]);
    }
    wasql_result_finish(a);
}

/* update with value/weight lists; returns the function's result */
static int32_t update(struct wavg_acc *acc, const double *v, const double *w, int32_t n,
                      const uint32_t *groups, int32_t ngroups, struct WasqlError *err) {
    struct ArrowArray args[2];
    int32_t rc;
    f64_array(&args[0], v, n);
    f64_array(&args[1], w, n);
    rc = weighted_avg_update(acc, args, 2, n, groups, ngroups, err);
    wasql_release(&args[0]);
    wasql_release(&args[1]);
    return rc;
}

/* takes and frees an error message: 1 if it equals want */
static int error_is(struct WasqlError *err, const char *want) {
    int same = err->len == strlen(want) && memcmp((const void *)(uintptr_t)err->ptr, want, err->len) == 0;
    if (!same) printf("  error was: %.*s\n", (int)err->len, (const char *)(uintptr_t)err->ptr);
    if (err->len) wasql_free((void *)(uintptr_t)err->ptr, err->len, 1);
    err->ptr = err->len = 0;
    return same;
}

/* finish(n) into res[] (NUL for null); 0 on success */
static int32_t finish(struct wavg_acc *acc, int32_t n, double *res, struct WasqlError *err) {
    struct ArrowArray out;
    const uint8_t *validity;
    int64_t nulls = 0;
    int32_t rc = weighted_avg_finish(acc, n, &out, err);
    if (rc) return rc;
    CHECK(out.length == n && out.offset == 0 && out.n_buffers == 2 && out.n_children == 0,
          "finish: array shape");
    validity = (const uint8_t *)out.buffers[0];
    for (int32_t i = 0; i < n; i++) {
        int valid = !validity || ((validity[i >> 3] >> (i & 7)) & 1);
        nulls += !valid;
        res[i] = valid ? ((const double *)out.buffers[1])[i] : NUL;
    }
    CHECK(out.null_count == nulls, "finish: null_count %lld, bitmap %lld",
          (long long)out.null_count, (long long)nulls);
    wasql_release(&out);
    return 0;
}

static int same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void check_results(const double *got, const double *want, int32_t n, const char *what) {
    for (int32_t i = 0; i < n; i++)
        CHECK(same(got[i], want[i]), "%s: row %d: got %g, want %g", what, (int)i, got[i], want[i]);
}

/* A binary array of n rows (len -1 = null) from the given byte strings. */
static void binary_array(struct ArrowArray *a, const uint8_t *const *rows, const int *lens, int32_t n) {
    if (wasql_binary_init(a, n, 16)) abort();
    for (int32_t i = 0; i < n; i++) {
        if (lens[i] < 0)
            wasql_result_set_null(a, i);
        else if (wasql_binary_set(a, i, rows[i], (uint32_t)lens[i]))
            abort();
    }
    wasql_result_finish(a);
}

static void test_update_growth_emit_merge(void) {
    struct WasqlError err = {0, 0};
    struct wavg_acc *acc = weighted_avg_new(), *acc2;
    struct ArrowArray states, merged;
    double res[8];
    CHECK(acc != NULL, "new");

    /* batch 1, two groups; nulls skipped (value null, weight null) */
    {
        const double v[] = {1, 10, 3, NUL, 5, 7};
        const double w[] = {1, 2, 3, 4, NUL, 0};
        const uint32_t g[] = {0, 1, 0, 1, 0, 1};
        CHECK(update(acc, v, w, 6, g, 2, &err) == 0, "update 1");
    }
    /* batch 2 grows to 5 groups: 2 gets rows, 3 none, 4 only weight 0 rows
     * and a null; 0 gets one more row; groups in any order, with repeats */
    {
        const double v[] = {2, 9, 4, NUL, -6, 100};
        const double w[] = {1, 0, 3, 1, 1, 0};
        const uint32_t g[] = {2, 4, 2, 4, 0, 4};
        CHECK(update(acc, v, w, 6, g, 5, &err) == 0, "update 2 (growth)");
    }
    /* 0: (1*1 + 3*3 - 6*1)/(1+3+1) = 4/5; 1: (10*2 + 7*0)/2 = 10;
     * 2: (2*1 + 4*3)/4 = 3.5; 3: no rows; 4: weights sum to 0 */

    /* E_state of the first 2 groups: 16 bytes each, LE doubles; then the
     * groups shift down: old group 2 is group 0 */
    CHECK(weighted_avg_state(acc, 2, &states, &err) == 0, "state 2");
    CHECK(states.length == 2 && states.n_buffers == 3 && states.null_count == 0 &&
              states.buffers[0] == NULL,
          "state array shape");
    {
        const int32_t *off = (const int32_t *)states.buffers[1];
        const uint8_t *data = (const uint8_t *)states.buffers[2];
        CHECK(off[0] == 0 && off[1] == 16 && off[2] == 32, "state offsets %d %d %d",
              (int)off[0], (int)off[1], (int)off[2]);
        CHECK(wasql_get_f64le(data) == 4 && wasql_get_f64le(data + 8) == 5, "state of group 0");
        CHECK(wasql_get_f64le(data + 16) == 20 && wasql_get_f64le(data + 24) == 2, "state of group 1");
    }
    CHECK(acc->groups.count == 3, "3 groups left, got %u", (unsigned)acc->groups.count);
    CHECK(finish(acc, 1, res, &err) == 0, "finish 1");
    check_results(res, (const double[]){3.5}, 1, "emit-and-shift: old group 2 first");
    /* old groups 3, 4 are now 0, 1; a further update sees 2 groups and
     * grows to 3 */
    {
        const double v[] = {8};
        const double w[] = {2};
        const uint32_t g[] = {2};
        CHECK(update(acc, v, w, 1, g, 3, &err) == 0, "update after emit");
    }
    CHECK(finish(acc, 3, res, &err) == 0, "finish 3");
    check_results(res, (const double[]){NUL, NUL, 8}, 3, "empty group, zero weights, new group");
    CHECK(acc->groups.count == 0, "no groups left");

    /* merge the two states (and a null row, skipped) into another
     * accumulator: group 1 gets state 0 twice, group 0 state 1 */
    acc2 = weighted_avg_new();
    {
        const uint32_t g[] = {1, 0, 1};
        CHECK(weighted_avg_merge(acc2, &states, 2, g, 2, &err) == 0, "merge");
        CHECK(weighted_avg_merge(acc2, &states, 1, g + 2, 2, &err) == 0, "merge again");
    }
    {
        /* a null state and an empty group's state (zeros) change nothing */
        uint8_t zeros[16] = {0};
        const uint8_t *rows[] = {NULL, zeros};
        const int lens[] = {-1, 16};
        const uint32_t g[] = {0, 1};
        binary_array(&merged, rows, lens, 2);
        CHECK(weighted_avg_merge(acc2, &merged, 2, g, 3, &err) == 0, "merge null + empty");
        wasql_release(&merged);
    }
    wasql_release(&states);
    CHECK(finish(acc2, 3, res, &err) == 0, "finish merged");
    check_results(res, (const double[]){10, 0.8, NUL}, 3, "merged");
    weighted_avg_drop(acc2);
    weighted_avg_drop(acc);
}

static void test_errors(void) {
    struct WasqlError err = {0, 0};
    struct wavg_acc *acc = weighted_avg_new();
    struct ArrowArray args[1], out, bad;
    const double v[] = {1, 2};
    const double w[] = {1, 1};
    const uint32_t g[] = {0, 3};
    double res[2];

    f64_array(&args[0], v, 2);
    CHECK(weighted_avg_update(acc, args, 1, 2, g, 1, &err) != 0, "one argument");
    CHECK(error_is(&err, "weighted_avg: expected 2 arguments, got 1"), "nargs message");
    wasql_release(&args[0]);

    CHECK(update(acc, v, w, 2, g, 3, &err) != 0, "group 3 >= ngroups 3");
    CHECK(error_is(&err, "weighted_avg: group 3 of row 1 is not below ngroups 3"), "group message");
    CHECK(update(acc, v, w, 1, g, 2, &err) != 0, "ngroups below the count");
    CHECK(error_is(&err, "weighted_avg: ngroups 2 is below the 3 groups held"), "ngroups message");

    CHECK(weighted_avg_state(acc, 4, &out, &err) != 0, "state n > groups");
    CHECK(error_is(&err, "asked to emit more groups than the accumulator holds"), "state n message");
    CHECK(weighted_avg_finish(acc, -1, &out, &err) != 0, "finish n < 0");
    CHECK(error_is(&err, "asked to emit more groups than the accumulator holds"), "finish n message");

    {
        /* a state of the wrong length, after a good one: an error, no trap */
        uint8_t good[16] = {0}, shorter[15] = {0}, longer[17] = {0};
        const uint8_t *rows[] = {good, shorter, longer, NULL};
        const int lens[] = {16, 15, 17, 0};
        const uint32_t gg[] = {0, 1, 2, 0};
        binary_array(&bad, rows, lens, 4);
        CHECK(weighted_avg_merge(acc, &bad, 4, gg, 3, &err) != 0, "15-byte state");
        CHECK(error_is(&err, "weighted_avg: malformed state at row 1: 15 bytes, want 16"), "state message");
        CHECK(weighted_avg_merge(acc, &bad, 1, gg + 2, 3, &err) == 0, "good state alone");
        /* an empty (0-byte, non-null) state is malformed too */
        wasql_release(&bad);
        binary_array(&bad, rows + 3, lens + 3, 1);
        CHECK(weighted_avg_merge(acc, &bad, 1, gg + 3, 3, &err) != 0, "0-byte state");
        CHECK(error_is(&err, "weighted_avg: malformed state at row 0: 0 bytes, want 16"), "0-byte message");
        wasql_release(&bad);
        (void)longer;
    }
    /* n = 0 is harmless (the host asks for n >= 1) */
    CHECK(finish(acc, 0, res, &err) == 0, "finish 0");
    CHECK(finish(acc, 2, res, &err) == 0, "finish after errors");
    weighted_avg_drop(acc);
    weighted_avg_drop(NULL);
}

/* Many groups in batches, emitted in pieces through states into a second
 * accumulator, against a direct computation; then the same cycle again and
 * again: memory must stop growing. */
static uint32_t rng = 12345;
static uint32_t next(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

#define NG 1500
#define NROWS 4096

static void big_cycle(int check) {
    static double v[NROWS], w[NROWS], want_wv[NG], want_w[NG], res[NG];
    static uint32_t g[NROWS];
    struct WasqlError err = {0, 0};
    struct wavg_acc *a = weighted_avg_new(), *b = weighted_avg_new();
    struct ArrowArray st;
    int32_t ngroups = 0, done = 0;
    memset(want_wv, 0, sizeof want_wv);
    memset(want_w, 0, sizeof want_w);
    for (int batch = 0; batch < 6; batch++) {
        ngroups += NG / 6; /* grows every batch: reallocations keep values */
        for (int32_t i = 0; i < NROWS; i++) {
            g[i] = next() % (uint32_t)ngroups;
            v[i] = (next() % 7 == 0) ? NUL : (double)(next() % 1000) / 8;
            w[i] = (next() % 11 == 0) ? NUL : (double)(next() % 16);
            if (!isnan(v[i]) && !isnan(w[i])) {
                want_wv[g[i]] += v[i] * w[i];
                want_w[g[i]] += w[i];
            }
        }
        CHECK(update(a, v, w, NROWS, g, ngroups, &err) == 0, "big update");
    }
    /* states of 400, then of the remaining 1100, merged into b in order */
    while (done < ngroups) {
        int32_t n = done == 0 ? 400 : ngroups - done;
        uint32_t gb[NG];
        for (int32_t i = 0; i < n; i++) gb[i] = (uint32_t)(done + i);
        CHECK(weighted_avg_state(a, n, &st, &err) == 0, "big state");
        CHECK(weighted_avg_merge(b, &st, n, gb, done + n, &err) == 0, "big merge");
        wasql_release(&st);
        done += n;
    }
    CHECK(a->groups.count == 0, "a emptied");
    CHECK(finish(b, ngroups, res, &err) == 0, "big finish");
    if (check)
        for (int32_t k = 0; k < ngroups; k++) {
            double want = want_w[k] == 0 ? NUL : want_wv[k] / want_w[k];
            CHECK(same(res[k], want), "big: group %d: got %g, want %g", (int)k, res[k], want);
        }
    weighted_avg_drop(a);
    weighted_avg_drop(b);
}

static void test_big_and_leaks(void) {
    size_t pages;
    big_cycle(1);
    for (int k = 0; k < 20; k++) big_cycle(0);
    pages = __builtin_wasm_memory_size(0);
    for (int k = 0; k < 200; k++) big_cycle(0);
    CHECK(__builtin_wasm_memory_size(0) == pages, "memory grew from %u to %u pages",
          (unsigned)pages, (unsigned)__builtin_wasm_memory_size(0));
}

/* ---- table-function helpers (ABI.md §9), with a test-only function ---- */

WASQL_UDF_DESCRIBE({"abi":1,"name":"t_digits","kind":"table","export":"t_digits","args":["utf8"],"columns":[{"name":"digit","type":"int32"},{"name":"pos","type":"int32"}],"partitioned":false});

/* one output row per ASCII digit of each input string: (digit, position);
 * a null string gives no rows; "!" makes it fail after building a part */
WASQL_TABLE(t_digits) {
    int64_t bound = 0;
    int32_t m = 0;
    (void)nargs;
    (void)nrows;
    wasql_table_begin(out, 2);
    for (int32_t p = 0; p < nparts; p++)
        for (uint32_t i = bounds[p]; i < bounds[p + 1]; i++)
            if (!wasql_arg_is_null(&args[0], (int32_t)i)) bound += wasql_arg_str(&args[0], (int32_t)i).len;
    if (wasql_result_init_fixed(&out[0], (int32_t)bound, 4) ||
        wasql_result_init_fixed(&out[1], (int32_t)bound, 4) ||
        wasql_result_init_fixed(&out[2], (int32_t)bound, 4)) {
        wasql_table_discard(out, 2);
        return wasql_error(err, "out of memory");
    }
    for (int32_t p = 0; p < nparts; p++)
        for (uint32_t i = bounds[p]; i < bounds[p + 1]; i++) {
            struct wasql_str s;
            if (wasql_arg_is_null(&args[0], (int32_t)i)) continue;
            s = wasql_arg_str(&args[0], (int32_t)i);
            for (uint32_t k = 0; k < s.len; k++) {
                if (s.ptr[k] == '!') {
                    wasql_table_discard(out, 2);
                    return wasql_error(err, "t_digits: !");
                }
                if (s.ptr[k] < '0' || s.ptr[k] > '9') continue;
                wasql_result_set_u32(&out[0], m, (uint32_t)p);
                wasql_result_set_i32(&out[1], m, s.ptr[k] - '0');
                wasql_result_set_i32(&out[2], m, (int32_t)k);
                m++;
            }
        }
    wasql_result_set_null(&out[2], (int32_t)bound - 1); /* dropped by truncate if past m */
    for (int j = 0; j < 3; j++)
        if (wasql_result_truncate(&out[j], m)) {
            wasql_table_discard(out, 2);
            return wasql_error(err, "truncate failed");
        }
    for (int j = 0; j < 3; j++) wasql_result_finish(&out[j]);
    return 0;
}

static void test_table(void) {
    struct WasqlError err = {0, 0};
    struct ArrowArray arg, out[3];
    const uint32_t bounds[] = {0, 1, 2, 3, 4};
    const char *in[] = {"a1b2", "", NULL, "x9"};
    if (wasql_result_init_utf8(&arg, 4, 0)) abort();
    for (int32_t i = 0; i < 4; i++) {
        if (in[i])
            wasql_result_set_str(&arg, i, in[i], (uint32_t)strlen(in[i]));
        else
            wasql_result_set_null(&arg, i);
    }
    wasql_result_finish(&arg);
    CHECK(t_digits(&arg, 1, 4, bounds, 4, out, &err) == 0, "t_digits");
    {
        const uint32_t want_part[] = {0, 0, 3};
        const int32_t want_digit[] = {1, 2, 9}, want_pos[] = {1, 3, 1};
        for (int j = 0; j < 3; j++)
            CHECK(out[j].length == 3 && out[j].null_count == 0 && out[j].buffers[0] == NULL,
                  "t_digits column %d: length %lld, nulls %lld", j, (long long)out[j].length,
                  (long long)out[j].null_count);
        for (int k = 0; k < 3; k++) {
            CHECK(((const uint32_t *)out[0].buffers[1])[k] == want_part[k], "part %d", k);
            CHECK(((const int32_t *)out[1].buffers[1])[k] == want_digit[k], "digit %d", k);
            CHECK(((const int32_t *)out[2].buffers[1])[k] == want_pos[k], "pos %d", k);
        }
    }
    for (int j = 0; j < 3; j++) wasql_release(&out[j]);
    wasql_release(&arg);

    /* a failure midway frees what was built (and the never-built column) */
    if (wasql_result_init_utf8(&arg, 2, 0)) abort();
    wasql_result_set_str(&arg, 0, "12", 2);
    wasql_result_set_str(&arg, 1, "3!", 2);
    wasql_result_finish(&arg);
    {
        size_t pages = __builtin_wasm_memory_size(0);
        for (int k = 0; k < 5000; k++) {
            CHECK(t_digits(&arg, 1, 2, bounds, 2, out, &err) != 0, "t_digits fails");
            CHECK(error_is(&err, "t_digits: !"), "t_digits message");
            if (failures) break;
        }
        CHECK(__builtin_wasm_memory_size(0) == pages, "t_digits failure leaks");
    }
    wasql_release(&arg);
}

int main(void) {
    test_update_growth_emit_merge();
    test_errors();
    test_big_and_leaks();
    test_table();
    if (failures) {
        printf("test_weighted: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_weighted: all passed\n");
    return 0;
}
