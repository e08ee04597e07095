//! [`Context`]: what a handler knows about the call it runs.

use std::fmt;

use fifo_rpc_protocol::session::server::ReplyTo;

use crate::shutdown::ShutdownHandle;
use crate::state::Shared;

/// The call a handler runs: its session, Request ID and method, whether the client cancelled
/// it, and a way to shut the server down.
///
/// ```
/// use fifo_rpc_server::{Context, HandlerError, Router};
/// let router = Router::new().typed("slow", |n: u32, ctx: &Context| {
///     for _ in 0..n {
///         if ctx.cancelled() {
///             return Err(HandlerError::failed("cancelled"));
///         }
///         // ... one step of work ...
///     }
///     Ok(n)
/// });
/// # drop(router);
/// ```
pub struct Context<'a> {
    pub(crate) session: u32,
    pub(crate) request: u32,
    pub(crate) method: &'a str,
    pub(crate) call: Option<(&'a Shared, ReplyTo)>,
    pub(crate) shutdown: &'a ShutdownHandle,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("session", &self.session)
            .field("request", &self.request)
            .field("method", &self.method)
            .finish()
    }
}

impl<'a> Context<'a> {
    /// The Session ID of the client that made the call.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// The Request ID of the call; 0 for a NOTIFY.
    pub fn request(&self) -> u32 {
        self.request
    }

    /// The method name.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// `true` if the client cancelled this call (FR-CANCEL-2) or its session ended, so the
    /// answer will not be read. A long handler checks it now and then and returns early; the
    /// server still sends exactly one answer if the session is alive. Always `false` for a
    /// NOTIFY. With `workers(0)` nothing is read while a handler runs, so a CANCEL sent after the
    /// call is seen only once the handler has returned.
    pub fn cancelled(&self) -> bool {
        match &self.call {
            Some((shared, reply)) => shared.is_cancelled(reply),
            None => false,
        }
    }

    /// Asks the server to shut down gracefully once this call is answered (the `exit` method,
    /// FR-EXIT-1): the answer is written first, then GOODBYE `SHUTTING_DOWN`.
    pub fn shutdown(&self) {
        self.shutdown.shutdown();
    }

    /// A handle that shuts the server down later, from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }
}
