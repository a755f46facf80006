;; Hostile: a table declared with 50 million elements up front (ABI.md §6:
;; max_table_elements). Registration refuses it; nothing is allocated.
(module
  (@custom "wasql.udfs" "{\"abi\":1,\"name\":\"big_table\",\"kind\":\"scalar\",\"export\":\"big_table\",\"args\":[\"int64\"],\"returns\":\"int64\"}\n")
  (memory (export "memory") 1)
  (table 50000000 funcref)
  (func (export "wasql_alloc") (param i32 i32) (result i32) (i32.const 1024))
  (func (export "wasql_free") (param i32 i32 i32))
  (func (export "wasql_release") (param i32))
  (func (export "big_table") (param i32 i32 i32 i32 i32) (result i32) (i32.const 1)))
