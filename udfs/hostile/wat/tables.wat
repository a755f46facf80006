;; Hostile: guests that make the host allocate table elements.
;; `table_bomb` asks for 2^31-1 elements in one `table.grow`; `table_creep`
;; grows 10,000 elements at a time, forever. The host must refuse both
;; before allocating (ABI.md §6: max_table_elements), within the call.
(module
  (@custom "wasql.udfs" "{\"abi\":1,\"name\":\"table_bomb\",\"kind\":\"scalar\",\"export\":\"table_bomb\",\"args\":[\"int64\"],\"returns\":\"int64\"}\n{\"abi\":1,\"name\":\"table_creep\",\"kind\":\"scalar\",\"export\":\"table_creep\",\"args\":[\"int64\"],\"returns\":\"int64\"}\n")
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func (export "wasql_alloc") (param i32 i32) (result i32) (i32.const 1024))
  (func (export "wasql_free") (param i32 i32 i32))
  (func (export "wasql_release") (param i32))
  (func (export "table_bomb") (param i32 i32 i32 i32 i32) (result i32)
    (drop (table.grow $t (ref.null func) (i32.const 0x7fffffff)))
    (i32.const 1))
  (func (export "table_creep") (param i32 i32 i32 i32 i32) (result i32)
    (loop $again
      (drop (table.grow $t (ref.null func) (i32.const 10000)))
      (br $again))
    (i32.const 1)))
