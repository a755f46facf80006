//! What a guest may make the host allocate, decided before anything is
//! allocated: linear memory up to the module's cap, table elements up to
//! theirs, a fixed number of memories and tables, one instance per store —
//! and every byte of memory and table reserved from the session's memory
//! pool (`--memory-limit`), so guest memory is bounded with the query's.
//!
//! A refused `memory.grow` returns -1 to the guest (udfs/ABI.md §6): a C
//! `malloc` returns NULL and the guest may recover. The refusal is kept, so
//! that a guest that traps afterwards gets an error naming the limit. A
//! refused table growth traps at once: no correct guest needs it.

use std::fmt;
use std::sync::Arc;

use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};

use super::sandbox::{self, Limits};

/// Bytes of host memory per table element (wasmtime keeps a pointer each).
const TABLE_ELEMENT_BYTES: usize = size_of::<usize>();

/// A guest asked for more than a limit allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitExceeded {
    /// Linear memory past `[udf] memory_limit`: sizes in bytes.
    Memory {
        /// The module's cap, in bytes.
        cap: usize,
        /// The size the guest asked to grow to, in bytes.
        requested: usize,
    },
    /// A table past `[udf] max_table_elements`: sizes in elements.
    TableElements {
        /// The module's cap, in elements.
        cap: usize,
        /// The size the guest asked to grow the table to, in elements.
        requested: usize,
    },
    /// The session's memory pool (`--memory-limit`) could not give `more`
    /// bytes; `detail` is the pool's own account.
    Pool {
        /// The bytes asked for beyond what is already reserved.
        more: usize,
        /// The pool's own account of why it refused.
        detail: String,
    },
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitExceeded::Memory { cap, requested } => write!(
                f,
                "memory limit of {} exceeded: growing guest memory to {} was refused \
                 (raise memory_limit in [udf] of the config)",
                mib(*cap),
                mib(*requested)
            ),
            LimitExceeded::TableElements { cap, requested } => write!(
                f,
                "table limit of {cap} elements exceeded: growing a table to {requested} \
                 elements was refused (raise max_table_elements in [udf] of the config)"
            ),
            LimitExceeded::Pool { more, detail } => write!(
                f,
                "the query memory limit was reached: the guest asked for {} more ({detail}; \
                 raise --memory-limit or memory_limit in the config)",
                mib(*more)
            ),
        }
    }
}

impl std::error::Error for LimitExceeded {}

/// `bytes` in MiB, for messages.
fn mib(bytes: usize) -> String {
    let value = bytes as f64 / (1u64 << 20) as f64;
    if value.fract() == 0.0 {
        format!("{value:.0} MiB")
    } else {
        format!("{value:.1} MiB")
    }
}

/// Refuses, at registration, a module whose declared tables and memories
/// already exceed `limits`: the same limits the instance would hit at
/// instantiation, said before anything is compiled or allocated.
pub fn check_declared(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    use wasmparser::{Parser, Payload};
    let (mut tables, mut memories) = (0usize, 0usize);
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("not a valid WebAssembly module: {e}"))? {
            Payload::TableSection(section) => {
                for table in section {
                    let table = table.map_err(|e| format!("bad table section: {e}"))?;
                    let elements = usize::try_from(table.ty.initial).unwrap_or(usize::MAX);
                    if elements > limits.table_elements {
                        return Err(format!(
                            "its table {tables} starts with {elements} elements, over the \
                             limit of {} (max_table_elements in [udf] of the config)",
                            limits.table_elements
                        ));
                    }
                    tables += 1;
                }
            }
            Payload::MemorySection(section) => {
                for memory in section {
                    let memory = memory.map_err(|e| format!("bad memory section: {e}"))?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    let bytes =
                        usize::try_from(memory.initial.saturating_mul(page)).unwrap_or(usize::MAX);
                    if bytes > limits.memory_bytes {
                        return Err(format!(
                            "its memory {memories} starts at {}, over the memory limit of {} \
                             (memory_limit in [udf] of the config)",
                            mib(bytes),
                            mib(limits.memory_bytes)
                        ));
                    }
                    memories += 1;
                }
            }
            _ => {}
        }
    }
    if tables > limits.tables {
        return Err(format!(
            "it defines {tables} tables, over the limit of {} (max_tables in [udf] of the config)",
            limits.tables
        ));
    }
    if memories > limits.memories {
        return Err(format!(
            "it defines {memories} memories, over the limit of {} (max_memories in [udf] of the \
             config)",
            limits.memories
        ));
    }
    Ok(())
}

/// The resource limiter of one instance's store.
pub struct GuestLimiter {
    limits: Limits,
    reservation: MemoryReservation,
    /// Bytes reserved for a growth wasmtime has not finished yet: given back
    /// if it fails.
    pending: usize,
    /// The last growth refused since [`GuestLimiter::clear_refusal`].
    refused: Option<LimitExceeded>,
}

impl GuestLimiter {
    /// A limiter for an instance of the module `module_name`, reserving from
    /// `pool`.
    pub fn new(limits: Limits, pool: &Arc<dyn MemoryPool>, module_name: &str) -> Self {
        GuestLimiter {
            limits,
            reservation: MemoryConsumer::new(format!("wasm module {module_name}")).register(pool),
            pending: 0,
            refused: None,
        }
    }

    /// The growth refused since the last [`GuestLimiter::clear_refusal`].
    pub fn refusal(&self) -> Option<&LimitExceeded> {
        self.refused.as_ref()
    }

    /// Forgets earlier refusals (at the start of each call).
    pub fn clear_refusal(&mut self) {
        self.refused = None;
    }

    /// Reserves `more` bytes from the pool, evicting idle instances once if
    /// the pool is full.
    fn reserve(&mut self, more: usize) -> Result<(), LimitExceeded> {
        if self.reservation.try_grow(more).is_ok() {
            self.pending = more;
            return Ok(());
        }
        sandbox::evict_idle();
        match self.reservation.try_grow(more) {
            Ok(()) => {
                self.pending = more;
                Ok(())
            }
            Err(e) => Err(LimitExceeded::Pool {
                more,
                detail: pool_detail(&e.strip_backtrace()),
            }),
        }
    }

    fn give_back_pending(&mut self) {
        self.reservation.shrink(std::mem::take(&mut self.pending));
    }
}

/// The useful part of DataFusion's "resources exhausted" text.
fn pool_detail(text: &str) -> String {
    let text = text.rsplit("Error: ").next().unwrap_or(text);
    text.lines().next().unwrap_or(text).trim().to_string()
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let refusal = if desired > self.limits.memory_bytes {
            Some(LimitExceeded::Memory {
                cap: self.limits.memory_bytes,
                requested: desired,
            })
        } else {
            self.reserve(desired.saturating_sub(current)).err()
        };
        match refusal {
            Some(refusal) => {
                self.refused = Some(refusal);
                Ok(false)
            }
            None => Ok(true),
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.give_back_pending();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements {
            return Err(LimitExceeded::TableElements {
                cap: self.limits.table_elements,
                requested: desired,
            }
            .into());
        }
        let more = desired.saturating_sub(current) * TABLE_ELEMENT_BYTES;
        self.reserve(more)?;
        Ok(true)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.give_back_pending();
        Ok(())
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        self.limits.tables
    }

    fn memories(&self) -> usize {
        self.limits.memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use wasmtime::ResourceLimiter;

    fn limiter(pool_bytes: usize) -> GuestLimiter {
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(pool_bytes));
        let limits = Limits {
            memory_bytes: 4 << 20,
            table_elements: 100,
            ..Limits::default()
        };
        GuestLimiter::new(limits, &pool, "test")
    }

    #[test]
    fn memory_past_the_cap_is_refused_without_a_trap() {
        let mut limiter = limiter(64 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.memory_growing(1 << 20, 8 << 20, None).unwrap());
        assert_eq!(
            limiter.refusal(),
            Some(&LimitExceeded::Memory {
                cap: 4 << 20,
                requested: 8 << 20
            })
        );
        assert_eq!(limiter.reservation.size(), 1 << 20);
        limiter.clear_refusal();
        assert!(limiter.refusal().is_none());
    }

    #[test]
    fn memory_is_reserved_from_the_pool() {
        let mut limiter = limiter(2 << 20);
        assert!(limiter.memory_growing(0, 2 << 20, None).unwrap());
        assert!(!limiter.memory_growing(2 << 20, 3 << 20, None).unwrap());
        assert!(matches!(
            limiter.refusal(),
            Some(LimitExceeded::Pool { more, .. }) if *more == 1 << 20
        ));
        let message = limiter.refusal().unwrap().to_string();
        assert!(message.contains("--memory-limit"), "{message}");
    }

    #[test]
    fn a_failed_growth_gives_its_reservation_back() {
        let mut limiter = limiter(64 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(
            limiter
                .memory_growing(1 << 20, 2 << 20, Some(1 << 20))
                .unwrap()
        );
        limiter
            .memory_grow_failed(wasmtime::Error::msg("past maximum"))
            .unwrap();
        assert_eq!(limiter.reservation.size(), 1 << 20);
    }

    #[test]
    fn tables_past_the_cap_trap_before_anything_is_allocated() {
        let mut limiter = limiter(64 << 20);
        assert!(limiter.table_growing(0, 100, None).unwrap());
        let error = limiter
            .table_growing(100, i32::MAX as usize, None)
            .unwrap_err();
        assert_eq!(
            error.downcast_ref::<LimitExceeded>(),
            Some(&LimitExceeded::TableElements {
                cap: 100,
                requested: i32::MAX as usize
            })
        );
        assert_eq!(limiter.reservation.size(), 100 * TABLE_ELEMENT_BYTES);
    }

    #[test]
    fn sizes_in_messages() {
        assert_eq!(mib(64 << 20), "64 MiB");
        assert_eq!(mib(3 << 19), "1.5 MiB");
    }
}
