//! A counting global allocator: the proof that the real-time paths allocate
//! nothing once built, and that a long call's memory stays flat.
//!
//! A `#[global_allocator]` is per binary, so each test that uses it is a test
//! file of its own and declares:
//!
//! ```ignore
//! #[global_allocator]
//! static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;
//! ```
//!
//! Allocations are counted per thread (the harness's own threads allocate at
//! any moment, to report other tests); live and peak heap bytes are counted
//! for the whole process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// The allocator: the system's, with counters.
pub struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note(new_bytes: usize) {
    // `try_with`: during thread teardown the slot may be gone; nothing to count then.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + new_bytes));
}

fn live(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now.max(0) as usize, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters only read sizes and never touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        live(l.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        live(l.size() as isize);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note(n);
        live(n as isize - l.size() as isize);
        // SAFETY: `p` and `l` come from this allocator, which is `System`'s.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        live(-(l.size() as isize));
        // SAFETY: `p` and `l` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(p, l) }
    }
}

/// What a piece of code allocated on its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocs {
    /// Allocations and reallocations.
    pub count: usize,
    /// Bytes asked for.
    pub bytes: usize,
}

/// Runs `f` and returns its result with what it allocated on this thread.
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, Allocs) {
    let (c0, b0) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
    let out = f();
    let (c1, b1) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
    (
        out,
        Allocs {
            count: c1 - c0,
            bytes: b1 - b0,
        },
    )
}

/// Allocations made so far by the calling thread.
pub fn thread_allocations() -> usize {
    ALLOCS.with(Cell::get)
}

/// Heap bytes in use now, whole process.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed).max(0) as usize
}

/// The peak of [`live_bytes`] since the last [`reset_peak`].
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from the bytes in use now.
pub fn reset_peak() {
    PEAK.store(live_bytes(), Ordering::Relaxed);
}
