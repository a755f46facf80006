//! The SDK's global allocator for wasm32 (feature `scratch-alloc`, on by
//! default): per-row functions make and drop small values every row (a
//! `String` returned, a `Vec` of words), and a general-purpose allocator
//! spends more time on that than the function spends on its work.
//!
//! Small blocks come from an [`Arena`]: a stack that hands out memory by
//! bumping a pointer and takes it back when the top block is freed, or all
//! at once when no block is live. The made-and-dropped-per-row pattern thus
//! reuses the same few bytes forever. Everything else — large or
//! over-aligned blocks, and small ones once the arena is full (say, held by
//! a cache that lives across calls) — goes to the system allocator. No
//! block is handed out twice while live, whatever the order of frees.

use std::alloc::Layout;

/// Largest block the arena serves.
pub const MAX_SMALL: usize = 4 << 10;
/// Largest alignment the arena serves.
pub const MAX_ALIGN: usize = 16;
/// Size of the arena.
pub const ARENA_BYTES: usize = 256 << 10;

/// A stack allocator over `[start, end)`.
#[derive(Debug)]
pub struct Arena {
    start: usize,
    end: usize,
    top: usize,
    live: usize,
}

impl Arena {
    /// An arena over `[start, start + len)`.
    pub const fn new(start: usize, len: usize) -> Arena {
        Arena {
            start,
            end: start + len,
            top: start,
            live: 0,
        }
    }

    /// Whether `ptr` was handed out by this arena.
    #[inline(always)]
    pub fn owns(&self, ptr: usize) -> bool {
        self.start <= ptr && ptr < self.end
    }

    /// A block for `layout`, or `None` when it is not small or does not fit.
    #[inline(always)]
    pub fn alloc(&mut self, layout: Layout) -> Option<usize> {
        if layout.size() > MAX_SMALL || layout.align() > MAX_ALIGN {
            return None;
        }
        let at = self.top.next_multiple_of(layout.align());
        let end = at.checked_add(layout.size())?;
        if end > self.end {
            return None;
        }
        self.top = end;
        self.live += 1;
        Some(at)
    }

    /// Takes back the block of `size` bytes at `ptr` (which it owns).
    #[inline(always)]
    pub fn free(&mut self, ptr: usize, size: usize) {
        self.live -= 1;
        if self.live == 0 {
            self.top = self.start;
        } else if ptr + size == self.top {
            self.top = ptr;
        }
    }

    /// Resizes the block at `ptr` (which it owns) in place if it is the top
    /// block or shrinks; `false` when it must move.
    #[inline(always)]
    pub fn resize_in_place(&mut self, ptr: usize, old_size: usize, new_size: usize) -> bool {
        if ptr + old_size == self.top && new_size <= MAX_SMALL && ptr + new_size <= self.end {
            self.top = ptr + new_size;
            true
        } else {
            new_size <= old_size
        }
    }
}

/// The global allocator of wasm32 guests built with this SDK.
#[cfg(all(
    target_family = "wasm",
    not(target_feature = "atomics"),
    feature = "scratch-alloc"
))]
mod global {
    use super::{ARENA_BYTES, Arena, MAX_ALIGN};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::UnsafeCell;

    struct ScratchAlloc(UnsafeCell<Option<Arena>>);

    // SAFETY: Sync needs that sharing &ScratchAlloc across threads is
    // sound: this module is compiled only without the `atomics` target
    // feature, where a wasm module has exactly one thread, so the static is
    // never touched from two threads.
    unsafe impl Sync for ScratchAlloc {}

    #[global_allocator]
    static ALLOCATOR: ScratchAlloc = ScratchAlloc(UnsafeCell::new(None));

    impl ScratchAlloc {
        /// The arena, taken from the system allocator on first use (an
        /// empty one if that fails).
        #[inline(always)]
        #[allow(clippy::mut_from_ref)] // one thread; see the Sync impl
        fn arena(&self) -> &mut Arena {
            // SAFETY: a unique reference into the UnsafeCell needs that no
            // other reference to its contents is in use: there is one thread
            // (see the Sync impl), the allocator is not re-entered while the
            // reference lives (System does not call the global allocator),
            // and each GlobalAlloc method stops using one arena() reference
            // before it takes another (realloc calls alloc/dealloc only after
            // its last use of its own).
            let slot = unsafe { &mut *self.0.get() };
            slot.get_or_insert_with(|| {
                let layout = Layout::from_size_align(ARENA_BYTES, MAX_ALIGN).expect("valid");
                // SAFETY: GlobalAlloc::alloc needs a layout of non-zero size:
                // ARENA_BYTES is 256 KiB.
                let start = unsafe { System.alloc(layout) } as usize;
                let len = if start == 0 { 0 } else { ARENA_BYTES };
                Arena::new(start.max(1), len)
            })
        }
    }

    // SAFETY: GlobalAlloc needs that alloc returns null or a block fitting
    // the layout that no live block overlaps, and that dealloc/realloc
    // accept what alloc returned: arena blocks are aligned and sized for
    // their layout and never handed out twice while live (Arena's tests);
    // everything else is System's, and `owns` sends each block back to the
    // allocator it came from (the arena's range and System's blocks are
    // disjoint: the arena itself is one System block). No method panics.
    unsafe impl GlobalAlloc for ScratchAlloc {
        #[inline(always)]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            match self.arena().alloc(layout) {
                Some(at) => at as *mut u8,
                // SAFETY: System.alloc needs a layout of non-zero size: the
                // caller's contract for GlobalAlloc::alloc.
                None => unsafe { System.alloc(layout) },
            }
        }

        #[inline(always)]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let arena = self.arena();
            if arena.owns(ptr as usize) {
                arena.free(ptr as usize, layout.size());
            } else {
                // SAFETY: System.dealloc needs a live System block with this
                // layout: the caller passes a block this allocator returned
                // with this layout, and one outside the arena's range came
                // from System.
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        #[inline(always)]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let arena = self.arena();
            if !arena.owns(ptr as usize) {
                // SAFETY: System.realloc needs a live System block with this
                // layout and a valid non-zero new size: outside the arena's
                // range it is System's (as in dealloc), and the caller
                // guarantees the rest (GlobalAlloc::realloc's contract).
                return unsafe { System.realloc(ptr, layout, new_size) };
            }
            if arena.resize_in_place(ptr as usize, layout.size(), new_size) {
                return ptr;
            }
            // SAFETY: from_size_align_unchecked needs a power-of-two align and
            // a size that rounded up to it fits isize: layout.align() is one,
            // and GlobalAlloc::realloc's contract has new_size, rounded up to
            // that align, not overflow isize.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: alloc needs a non-zero size: realloc's contract has
            // new_size > 0. The arena reference above is no longer used.
            let moved = unsafe { self.alloc(new_layout) };
            if !moved.is_null() {
                // SAFETY: copy_nonoverlapping needs layout.size() readable
                // bytes at ptr, as many writable at moved, and no overlap:
                // resize_in_place returned false, so new_size > old size and
                // both blocks hold layout.size() bytes; moved is a fresh block
                // while ptr is still live, so they are disjoint. dealloc needs
                // ptr from this allocator with this layout: the caller's.
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, moved, layout.size());
                    self.dealloc(ptr, layout);
                }
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn per_row_pattern_reuses_the_same_bytes() {
        let mut arena = Arena::new(1024, 4096);
        let first = arena.alloc(layout(27, 1)).unwrap();
        arena.free(first, 27);
        for size in [10, 43, 27] {
            let again = arena.alloc(layout(size, 1)).unwrap();
            assert_eq!(again, first);
            arena.free(again, size);
        }
    }

    #[test]
    fn live_blocks_never_overlap_whatever_the_free_order() {
        let mut arena = Arena::new(16, 1 << 12);
        let mut live: Vec<(usize, usize)> = Vec::new();
        // A deterministic mix of allocations, frees (not LIFO) and resizes.
        let mut seed = 0x2545_f491_u32;
        for step in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let size = 1 + (seed as usize % 200);
            match seed % 4 {
                0 | 1 => {
                    let align = 1 << (seed as usize / 7 % 5);
                    if let Some(at) = arena.alloc(layout(size, align)) {
                        assert_eq!(at % align, 0);
                        live.push((at, size));
                    }
                }
                2 if !live.is_empty() => {
                    let (at, len) = live.swap_remove(seed as usize % live.len());
                    arena.free(at, len);
                }
                _ if !live.is_empty() => {
                    let i = seed as usize % live.len();
                    let (at, len) = live[i];
                    if arena.resize_in_place(at, len, size) {
                        live[i] = (at, size);
                    }
                }
                _ => {}
            }
            let mut sorted = live.clone();
            sorted.sort();
            for pair in sorted.windows(2) {
                assert!(pair[0].0 + pair[0].1 <= pair[1].0, "overlap at step {step}");
            }
            for &(at, len) in &live {
                assert!(arena.owns(at) && at + len <= 16 + (1 << 12));
            }
        }
    }

    #[test]
    fn large_overaligned_and_overflowing_requests_go_elsewhere() {
        let mut arena = Arena::new(0x100, 8192);
        assert_eq!(arena.alloc(layout(MAX_SMALL + 1, 1)), None);
        assert_eq!(arena.alloc(layout(8, 64)), None);
        let a = arena.alloc(layout(MAX_SMALL, 8)).unwrap();
        let b = arena.alloc(layout(MAX_SMALL, 8)).unwrap();
        assert_eq!(arena.alloc(layout(1, 1)), None, "full");
        arena.free(a, MAX_SMALL);
        assert_eq!(arena.alloc(layout(1, 1)), None, "a is below a live block");
        arena.free(b, MAX_SMALL);
        assert_eq!(arena.alloc(layout(1, 1)), Some(0x100), "empty again");
    }

    #[test]
    fn top_block_grows_in_place_others_move() {
        let mut arena = Arena::new(0, 8192);
        let a = arena.alloc(layout(8, 1)).unwrap();
        assert!(arena.resize_in_place(a, 8, 100), "top block grows");
        let b = arena.alloc(layout(8, 1)).unwrap();
        assert_eq!(b, a + 100);
        assert!(!arena.resize_in_place(a, 100, 200), "not on top");
        assert!(arena.resize_in_place(a, 100, 50), "shrinks in place");
        assert!(!arena.resize_in_place(b, 8, MAX_SMALL + 1), "too big");
    }
}
