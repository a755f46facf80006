;; Hostile: a second linear memory of 1 GiB (multi-memory) past the first
;; (ABI.md §6: max_memories, default 1; memory_limit). Registration refuses it.
(module
  (@custom "wasql.udfs" "{\"abi\":1,\"name\":\"two_memories\",\"kind\":\"scalar\",\"export\":\"two_memories\",\"args\":[\"int64\"],\"returns\":\"int64\"}\n")
  (memory (export "memory") 1)
  (memory $big 16384)
  (func (export "wasql_alloc") (param i32 i32) (result i32) (i32.const 1024))
  (func (export "wasql_free") (param i32 i32 i32))
  (func (export "wasql_release") (param i32))
  (func (export "two_memories") (param i32 i32 i32 i32 i32) (result i32) (i32.const 1)))
