/* test_inspect_bad.c — a module whose descriptions break ABI.md §2 and §8/§9
 * in every way tools/inspect_wasm.py should catch. build.sh checks that it
 * reports exactly the EXPECT lines below. Never installed. */
#include "wasql_udf.h"

/* an aggregate without E_drop, and whose E_merge has the wrong type */
WASQL_UDF_DESCRIBE({"abi":1,"name":"agg_bad","kind":"aggregate","export":"agg_bad","args":["float64"],"returns":"float64"});
/* EXPECT: agg_bad: described export agg_bad_drop is missing */
/* EXPECT: agg_bad: export agg_bad_merge has type (i32, i32, i32, i32, i32) -> (i32), want (i32, i32, i32, i32, i32, i32) -> (i32) */
WASQL_EXPORT("agg_bad_new") void *agg_bad_new(void) { return wasql_alloc(4, 4); }
WASQL_EXPORT("agg_bad_update")
int32_t agg_bad_update(void *acc, const struct ArrowArray *args, int32_t nargs, int32_t nrows,
                       const uint32_t *groups, int32_t ngroups, struct WasqlError *err) { return 0; }
WASQL_EXPORT("agg_bad_merge")
int32_t agg_bad_merge(void *acc, const struct ArrowArray *states, int32_t nrows,
                      const uint32_t *groups, struct WasqlError *err) { return 0; }
WASQL_EXPORT("agg_bad_state")
int32_t agg_bad_state(void *acc, int32_t n, struct ArrowArray *out, struct WasqlError *err) { return 0; }
WASQL_EXPORT("agg_bad_finish")
int32_t agg_bad_finish(void *acc, int32_t n, struct ArrowArray *out, struct WasqlError *err) { return 0; }

/* an aggregate with no "returns" (its exports are fine) */
WASQL_UDF_DESCRIBE({"abi":1,"name":"agg_noret","kind":"aggregate","export":"agg_bad","args":[]});
/* EXPECT: agg_noret: missing returns (a type string), required for kind aggregate */
/* EXPECT: agg_noret: described export agg_bad_drop is missing */
/* EXPECT: agg_noret: export agg_bad_merge has type */

/* table functions: with "returns", without columns, with empty or bad
 * columns, "partitioned" not a boolean, the scalar signature */
WASQL_UDF_DESCRIBE({"abi":1,"name":"tab_ret","kind":"table","export":"tab_ok","args":["utf8"],"returns":"utf8","columns":[{"name":"x","type":"utf8"}]});
/* EXPECT: tab_ret: a table function has columns, not returns */
WASQL_UDF_DESCRIBE({"abi":1,"name":"tab_nocols","kind":"table","export":"tab_ok","args":["utf8"]});
/* EXPECT: tab_nocols: a table function needs columns, a non-empty list */
WASQL_UDF_DESCRIBE({"abi":1,"name":"tab_empty","kind":"table","export":"tab_ok","args":["utf8"],"columns":[]});
/* EXPECT: tab_empty: a table function needs columns, a non-empty list */
WASQL_UDF_DESCRIBE({"abi":1,"name":"tab_badcols","kind":"table","export":"tab_ok","args":["utf8"],"columns":[{"name":"x"},"y",{"name":"Bad Name","type":"int32"}],"partitioned":"yes"});
/* EXPECT: tab_badcols: column 0 is not {"name": ..., "type": ...} */
/* EXPECT: tab_badcols: column 1 is not {"name": ..., "type": ...} */
/* EXPECT: tab_badcols: column name 'Bad Name' is not [a-z_][a-z0-9_]* */
/* EXPECT: tab_badcols: partitioned is not true or false */
WASQL_UDF_DESCRIBE({"abi":1,"name":"tab_scalar_sig","kind":"table","export":"sc_ok","args":["utf8"],"columns":[{"name":"x","type":"utf8"}],"partitioned":true});
/* EXPECT: tab_scalar_sig: export sc_ok has type (i32, i32, i32, i32, i32) -> (i32), want (i32, i32, i32, i32, i32, i32, i32) -> (i32) */
WASQL_TABLE(tab_ok) { return 0; }

/* scalars: partitioned on a scalar, an unknown kind, a missing kind, the
 * table signature on a scalar, a bad name */
WASQL_UDF_DESCRIBE({"abi":1,"name":"sc_part","kind":"scalar","export":"sc_ok","args":["utf8"],"returns":"utf8","partitioned":false});
/* EXPECT: sc_part: partitioned is for table functions only */
WASQL_UDF_DESCRIBE({"abi":1,"name":"sc_kind","kind":"window","export":"sc_ok","args":["utf8"],"returns":"utf8"});
/* EXPECT: sc_kind: kind 'window' is not scalar, aggregate or table */
WASQL_UDF_DESCRIBE({"abi":1,"name":"sc_nokind","export":"sc_ok","args":["utf8"],"returns":"utf8"});
/* EXPECT: sc_nokind: missing key kind */
WASQL_UDF_DESCRIBE({"abi":1,"name":"sc_tablesig","kind":"scalar","export":"tab_ok","args":["utf8"],"returns":"utf8"});
/* EXPECT: sc_tablesig: export tab_ok has type (i32, i32, i32, i32, i32, i32, i32) -> (i32), want (i32, i32, i32, i32, i32) -> (i32) */
WASQL_UDF_DESCRIBE({"abi":1,"name":"Sc-Bad","kind":"scalar","export":"sc_ok","args":["utf8"]});
/* EXPECT: Sc-Bad: name 'Sc-Bad' is not [a-z_][a-z0-9_]* */
/* EXPECT: Sc-Bad: missing returns (a type string), required for kind scalar */
WASQL_EXPORT("sc_ok")
int32_t sc_ok(const struct ArrowArray *args, int32_t nargs, int32_t nrows,
              struct ArrowArray *out, struct WasqlError *err) { return 0; }
