//! A counting global allocator: the system allocator plus two relaxed atomic counters, and an
//! optional tracer that records the call stack of allocations during a short window.
//!
//! Installed for the whole benchmark binary so that both the parent (client) and each peer (server)
//! can report how many allocations a stretch of calls made. The cost is one uncontended atomic add
//! and one relaxed load per allocation; code that does not allocate pays nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// The system allocator, counting allocations and allocated bytes.
pub(crate) struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counters
// do not affect the memory returned.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded with the caller's guarantees for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded with the caller's guarantees for `layout`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees for `ptr` and `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded with the caller's guarantees for `ptr`, `layout` and `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count(bytes: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    if TRACING.load(Ordering::Relaxed) {
        record(bytes);
    }
}

/// Whether allocations are being traced.
static TRACING: AtomicBool = AtomicBool::new(false);
/// Stacks recorded while tracing: (size, stack).
static TRACED: Mutex<Vec<(usize, Backtrace)>> = Mutex::new(Vec::new());
/// Most stacks kept per window.
const MAX_TRACED: usize = 10_000;

thread_local! {
    /// Set while this thread records a stack, whose own allocations must not be recorded.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

fn record(bytes: usize) {
    let _ = RECORDING.try_with(|recording| {
        if recording.replace(true) {
            return;
        }
        let stack = Backtrace::force_capture();
        if let Ok(mut traced) = TRACED.lock() {
            if traced.len() < MAX_TRACED {
                traced.push((bytes, stack));
            }
        }
        recording.set(false);
    });
}

/// Starts (`true`) or stops recording the stack of every allocation of this process.
pub(crate) fn trace(on: bool) {
    if on {
        if let Ok(mut traced) = TRACED.lock() {
            traced.clear();
        }
    }
    TRACING.store(on, Ordering::SeqCst);
}

/// The allocation sites recorded since [`trace`]`(true)`, most frequent first, as text: for each
/// site the allocations and bytes per operation (`ops` operations happened in the window) and
/// the innermost frames outside the allocator and the standard library.
pub(crate) fn sites_report(ops: usize) -> String {
    let traced = match TRACED.lock() {
        Ok(mut t) => std::mem::take(&mut *t),
        Err(_) => return String::from("  (no trace)\n"),
    };
    let mut sites: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (bytes, stack) in &traced {
        let entry = sites.entry(site_of(stack)).or_default();
        entry.0 += 1;
        entry.1 += bytes;
    }
    let mut sorted: Vec<_> = sites.into_iter().collect();
    sorted.sort_by_key(|site| std::cmp::Reverse(site.1 .0));
    let ops = ops.max(1) as f64;
    let mut out = String::new();
    for (site, (n, bytes)) in sorted {
        out.push_str(&format!(
            "  {:.2} allocs/op, {:.0} bytes/op at\n{site}",
            n as f64 / ops,
            bytes as f64 / ops
        ));
    }
    if out.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

/// Frames of interest: the first few outside the allocator, `alloc`, `core`, `std` and the
/// unwinder, each with its source line.
fn site_of(stack: &Backtrace) -> String {
    let text = stack.to_string();
    let mut frames: Vec<String> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((_, symbol)) = line.trim_start().split_once(": ") else {
            continue;
        };
        let at = match lines.peek() {
            Some(next) if next.trim_start().starts_with("at ") => lines
                .next()
                .map(|l| l.trim().to_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let boring = [
            "alloc::",
            "core::",
            "std::",
            "__rust",
            "fifo_rpc_bench::alloc",
            "backtrace",
        ]
        .iter()
        .any(|p| symbol.starts_with(p) || symbol.starts_with(&format!("<{p}")));
        if boring || symbol.contains("GlobalAlloc") {
            continue;
        }
        frames.push(format!("    {symbol}\n      {at}\n"));
        if frames.len() == 4 {
            break;
        }
    }
    frames.concat()
}

/// Allocations (including reallocations) and bytes requested by this process so far.
pub(crate) fn counts() -> (u64, u64) {
    (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}
