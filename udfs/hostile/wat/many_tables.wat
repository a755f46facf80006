;; Hostile: a module defining more tables than an instance may have
;; (ABI.md §6: max_tables, default 4). Registration refuses it.
(module
  (@custom "wasql.udfs" "{\"abi\":1,\"name\":\"many_tables\",\"kind\":\"scalar\",\"export\":\"many_tables\",\"args\":[\"int64\"],\"returns\":\"int64\"}\n")
  (memory (export "memory") 1)
  (table 1 funcref) (table 1 funcref) (table 1 funcref) (table 1 funcref) (table 1 funcref)
  (func (export "wasql_alloc") (param i32 i32) (result i32) (i32.const 1024))
  (func (export "wasql_free") (param i32 i32 i32))
  (func (export "wasql_release") (param i32))
  (func (export "many_tables") (param i32 i32 i32 i32 i32) (result i32) (i32.const 1)))
