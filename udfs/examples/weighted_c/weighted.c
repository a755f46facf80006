/*
 * weighted.c — a wasql aggregate function in C (ABI.md §8).
 *
 *   weighted_avg(value DOUBLE, weight DOUBLE) -> DOUBLE
 *
 * sum(value * weight) / sum(weight) over the rows of a group. A row whose
 * value or weight is NULL is skipped; a weight of 0 is folded in (it adds
 * nothing). The result is NULL when the weights of the rows folded sum to 0,
 * which includes a group with no rows (or only skipped ones), like SQL's avg.
 *
 *   SELECT k, weighted_avg(price, qty) FROM sales GROUP BY k;
 *
 * The state of a group is two doubles, sum(value * weight) then
 * sum(weight), 16 bytes little-endian. Build: ./build.sh
 * (udfs/dist/weighted_c.wasm); ./build.sh also runs test_weighted.c.
 */
#include "wasql_udf.h"

WASQL_UDF_DESCRIBE({"abi":1,"name":"weighted_avg","kind":"aggregate","export":"weighted_avg","args":["float64","float64"],"returns":"float64","volatility":"immutable","doc":"sum(value*weight)/sum(weight), skipping rows with a NULL; NULL when the weights sum to 0 (C example)"});

/* One group. All zero bytes is the empty group (wasql_groups_resize). */
struct wavg_group {
    double sum_wv; /* sum of value * weight */
    double sum_w;  /* sum of weight */
};

#define WAVG_STATE_BYTES 16

struct wavg_acc {
    struct wasql_groups groups; /* of struct wavg_group */
};

WASQL_AGGREGATE(weighted_avg, struct wavg_acc);

/* Grows to ngroups, turning the helper's codes into messages. */
static int32_t wavg_resize(struct wavg_acc *acc, int32_t ngroups, struct WasqlError *err) {
    switch (wasql_groups_resize(&acc->groups, ngroups)) {
    case 0:
        return 0;
    case -2:
        return wasql_errorf(err, "weighted_avg: ngroups %d is below the %u groups held",
                            (int)ngroups, (unsigned)acc->groups.count);
    default:
        return wasql_error(err, "weighted_avg: out of memory");
    }
}

struct wavg_acc *weighted_avg_new(void) {
    struct wavg_acc *acc = (struct wavg_acc *)wasql_alloc(sizeof *acc, _Alignof(struct wavg_acc));
    if (acc) wasql_groups_init(&acc->groups, sizeof(struct wavg_group));
    return acc;
}

int32_t weighted_avg_update(struct wavg_acc *acc, const struct ArrowArray *args, int32_t nargs,
                            int32_t nrows, const uint32_t *groups, int32_t ngroups,
                            struct WasqlError *err) {
    const struct ArrowArray *value = &args[0], *weight = &args[1];
    if (nargs != 2) return wasql_errorf(err, "weighted_avg: expected 2 arguments, got %d", (int)nargs);
    if (wavg_resize(acc, ngroups, err)) return 1;
    for (int32_t i = 0; i < nrows; i++) {
        struct wavg_group *g;
        double v, w;
        if (groups[i] >= (uint32_t)ngroups)
            return wasql_errorf(err, "weighted_avg: group %u of row %d is not below ngroups %d",
                                (unsigned)groups[i], (int)i, (int)ngroups);
        if (wasql_arg_is_null(value, i) || wasql_arg_is_null(weight, i)) continue;
        v = wasql_arg_f64(value, i);
        w = wasql_arg_f64(weight, i);
        g = (struct wavg_group *)wasql_groups_at(&acc->groups, groups[i]);
        g->sum_wv += v * w;
        g->sum_w += w;
    }
    return 0;
}

int32_t weighted_avg_merge(struct wavg_acc *acc, const struct ArrowArray *states, int32_t nrows,
                           const uint32_t *groups, int32_t ngroups, struct WasqlError *err) {
    if (wavg_resize(acc, ngroups, err)) return 1;
    for (int32_t i = 0; i < nrows; i++) {
        struct wasql_bytes s;
        struct wavg_group *g;
        if (groups[i] >= (uint32_t)ngroups)
            return wasql_errorf(err, "weighted_avg: group %u of row %d is not below ngroups %d",
                                (unsigned)groups[i], (int)i, (int)ngroups);
        if (!wasql_binary_get(states, i, &s)) continue; /* null: skipped */
        if (s.len != WAVG_STATE_BYTES)
            return wasql_errorf(err, "weighted_avg: malformed state at row %d: %u bytes, want %d",
                                (int)i, (unsigned)s.len, WAVG_STATE_BYTES);
        g = (struct wavg_group *)wasql_groups_at(&acc->groups, groups[i]);
        g->sum_wv += wasql_get_f64le(s.ptr);
        g->sum_w += wasql_get_f64le(s.ptr + 8);
    }
    return 0;
}

int32_t weighted_avg_state(struct wavg_acc *acc, int32_t n, struct ArrowArray *out,
                           struct WasqlError *err) {
    if (wasql_groups_check_emit(&acc->groups, n, err)) return 1;
    if (wasql_binary_init(out, n, WAVG_STATE_BYTES)) return wasql_error(err, "weighted_avg: out of memory");
    for (int32_t i = 0; i < n; i++) {
        const struct wavg_group *g = (const struct wavg_group *)wasql_groups_at(&acc->groups, (uint32_t)i);
        uint8_t bytes[WAVG_STATE_BYTES];
        wasql_put_f64le(bytes, g->sum_wv);
        wasql_put_f64le(bytes + 8, g->sum_w);
        if (wasql_binary_set(out, i, bytes, sizeof bytes)) {
            wasql_result_discard(out);
            return wasql_error(err, "weighted_avg: out of memory");
        }
    }
    wasql_groups_remove_front(&acc->groups, (uint32_t)n);
    return wasql_result_finish(out);
}

int32_t weighted_avg_finish(struct wavg_acc *acc, int32_t n, struct ArrowArray *out,
                            struct WasqlError *err) {
    if (wasql_groups_check_emit(&acc->groups, n, err)) return 1;
    if (wasql_result_init_fixed(out, n, sizeof(double))) return wasql_error(err, "weighted_avg: out of memory");
    for (int32_t i = 0; i < n; i++) {
        const struct wavg_group *g = (const struct wavg_group *)wasql_groups_at(&acc->groups, (uint32_t)i);
        if (g->sum_w == 0)
            wasql_result_set_null(out, i);
        else
            wasql_result_set_f64(out, i, g->sum_wv / g->sum_w);
    }
    wasql_groups_remove_front(&acc->groups, (uint32_t)n);
    return wasql_result_finish(out);
}

void weighted_avg_drop(struct wavg_acc *acc) {
    if (!acc) return;
    wasql_groups_free(&acc->groups);
    wasql_free(acc, sizeof *acc, _Alignof(struct wavg_acc));
}
