;; Hostile: linear memory declared with 4 GiB up front (ABI.md §6:
;; memory_limit). Registration refuses it; nothing is allocated.
(module
  (@custom "wasql.udfs" "{\"abi\":1,\"name\":\"big_memory\",\"kind\":\"scalar\",\"export\":\"big_memory\",\"args\":[\"int64\"],\"returns\":\"int64\"}\n")
  (memory (export "memory") 65536)
  (func (export "wasql_alloc") (param i32 i32) (result i32) (i32.const 1024))
  (func (export "wasql_free") (param i32 i32 i32))
  (func (export "wasql_release") (param i32))
  (func (export "big_memory") (param i32 i32 i32 i32 i32) (result i32) (i32.const 1)))
