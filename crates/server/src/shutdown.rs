//! [`ShutdownHandle`]: asks a serving [`Server`](crate::Server) to drain and stop, from any thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fifo_rpc_fifo::Waker;

/// State shared by every handle of one server and its I/O thread.
#[derive(Debug)]
pub(crate) struct ShutdownState {
    requested: AtomicBool,
    /// Set by a worker that needs the I/O thread's attention; cleared by the I/O thread.
    attention: AtomicBool,
    pub(crate) waker: Waker,
}

/// Stops a server gracefully (FR-BYE-2): calls already started are finished and answered, new
/// ones are refused with `SHUTTING_DOWN`, the client gets GOODBYE `SHUTTING_DOWN`, the files are
/// removed, and [`Server::serve`](crate::Server::serve) returns.
///
/// Cheap to clone, `Send` and `Sync`. [`shutdown`](Self::shutdown) allocates nothing and makes
/// at most one `write(2)`, so it may be called from a thread that waits for signals.
///
/// ```
/// let tmp = tempfile::tempdir()?;
/// let server = fifo_rpc_server::Server::bind(tmp.path().join("svc"))?;
/// let handle = server.shutdown_handle();
/// handle.shutdown(); // before serve: serve returns at once
/// let summary = server.serve(fifo_rpc_server::Router::new())?;
/// assert_eq!(summary.sessions, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) state: Arc<ShutdownState>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requested", &self.is_requested())
            .finish()
    }
}

impl ShutdownHandle {
    pub(crate) fn new(waker: Waker) -> Self {
        Self {
            state: Arc::new(ShutdownState {
                requested: AtomicBool::new(false),
                attention: AtomicBool::new(false),
                waker,
            }),
        }
    }

    /// Asks the server to shut down gracefully and wakes its I/O thread. Idempotent; returns
    /// at once (it does not wait for the server to stop).
    pub fn shutdown(&self) {
        self.state.requested.store(true, Ordering::SeqCst);
        // A failing eventfd write is impossible on a valid descriptor; the flag is set anyway
        // and is checked whenever the I/O thread wakes.
        let _ = self.state.waker.wake();
    }

    /// `true` once [`shutdown`](Self::shutdown) was called.
    pub fn is_requested(&self) -> bool {
        self.state.requested.load(Ordering::SeqCst)
    }

    /// Wakes the I/O thread because a worker changed something it must act on (a write backlog,
    /// an ended session, a finished drain). Coalesced: one `write(2)` until the I/O thread looks.
    pub(crate) fn attention(&self) {
        if !self.state.attention.swap(true, Ordering::SeqCst) {
            let _ = self.state.waker.wake();
        }
    }

    /// Called by the I/O thread before it looks at the shared state: clears the attention flag
    /// and the waker.
    pub(crate) fn take_attention(&self) -> bool {
        let _ = self.state.waker.reset();
        self.state.attention.swap(false, Ordering::SeqCst)
    }

    /// `true` if a worker asked for attention since the I/O thread last looked (checked while
    /// spinning, without a system call).
    pub(crate) fn attention_pending(&self) -> bool {
        self.state.attention.load(Ordering::Relaxed)
    }
}
