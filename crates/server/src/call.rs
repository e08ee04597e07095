//! Running one call or NOTIFY through the [`Router`], on a worker or inline on the I/O thread.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use fifo_rpc_protocol::session::server::ReplyTo;
use fifo_rpc_protocol::{Call, ErrorCode, Fragmenter};

use crate::context::Context;
use crate::log::{ServeSummary, ServerLog};
use crate::router::Router;
use crate::state::Shared;

/// How a call went, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Response,
    HandlerError,
    Panicked,
    NotFound,
}

impl Outcome {
    pub(crate) fn count(self, summary: &mut ServeSummary) {
        summary.calls += 1;
        match self {
            Self::Response => {}
            Self::HandlerError => summary.handler_errors += 1,
            Self::Panicked => summary.handler_panics += 1,
            Self::NotFound => summary.unknown_methods += 1,
        }
    }
}

/// Reusable buffers of one thread that runs calls: no allocation per call once warm.
#[derive(Debug, Default)]
pub(crate) struct CallBuffers {
    /// The response body a handler appends to.
    pub(crate) body: Vec<u8>,
    /// Set by [`run_call`] when it was allowed to stream and the answer is a RESPONSE of at
    /// least [`STREAM_MIN`] octets: its frames are not in `out`; the body is in `body`, for
    /// [`Output::write_streamed`](crate::output::Output::write_streamed).
    pub(crate) streamed: Option<Fragmenter>,
}

/// Answers of at least this many octets are encoded while they are written (when the caller
/// can stream them): the client reads the first frames while the rest is encoded.
pub(crate) const STREAM_MIN: usize = 64 * 1024;

impl CallBuffers {
    /// Keeps a large body buffer while calls fill a good part of it (a stream of large answers
    /// reuses it); drops it after a call that needed far less.
    fn shrink(&mut self, used: usize) {
        if self.body.capacity() > 1 << 20 && used < self.body.capacity() / 4 {
            self.body = Vec::new();
        }
    }

    /// Drops a large body buffer (a session ended: the next one may never need it).
    pub(crate) fn release(&mut self) {
        self.shrink(0);
    }
}

/// Runs `call` and appends its encoded answer (RESPONSE or ERROR frames) to `out`, or, if
/// `stream` and the answer is a large RESPONSE, leaves it in `bufs` to be encoded while it is
/// written (`bufs.streamed`). Never panics: a handler's panic becomes ERROR `HANDLER_PANICKED`
/// (the panic hook still prints it).
pub(crate) fn run_call(
    router: &Router,
    shared: &Shared,
    call: &Call,
    reply: &ReplyTo,
    bufs: &mut CallBuffers,
    out: &mut Vec<u8>,
    stream: bool,
) -> Outcome {
    let method = call.method();
    let ctx = Context {
        session: reply.session(),
        request: reply.request(),
        method,
        call: Some((shared, *reply)),
        shutdown: &shared.handle,
    };
    bufs.body.clear();
    let result = match router.call_handler(method) {
        None => Err(None),
        Some(handler) => {
            let body = &mut bufs.body;
            catch_unwind(AssertUnwindSafe(|| handler.call(call.body(), &ctx, body))).map_err(Some)
        }
    };
    let start = out.len();
    bufs.streamed = None;
    let (encoded, outcome) = match result {
        Ok(Ok(())) if stream && bufs.body.len() >= STREAM_MIN && reply.fits(bufs.body.len()) => (
            reply
                .response_fragmenter(bufs.body.len())
                .map(|frames| bufs.streamed = Some(frames)),
            Outcome::Response,
        ),
        Ok(Ok(())) => (
            reply.encode_response(&bufs.body, out).map(|_| ()),
            Outcome::Response,
        ),
        Ok(Err(e)) => (
            reply.encode_error(e.code(), e.message(), out),
            Outcome::HandlerError,
        ),
        Err(None) => {
            // FR-CALL-6
            let text = format!("no method {method:?} on this server");
            (
                reply.encode_error(ErrorCode::METHOD_NOT_FOUND, &text, out),
                Outcome::NotFound,
            )
        }
        Err(Some(panic)) => {
            let message = panic_message(&*panic);
            let text = format!("the handler of {method} panicked: {message}");
            let encoded = reply.encode_error(ErrorCode::HANDLER_PANICKED, &text, out);
            shared.log(ServerLog::HandlerPanicked {
                method: method.to_owned(),
                message,
            });
            (encoded, Outcome::Panicked)
        }
    };
    if encoded.is_err() {
        // The encoder refused (an internal inconsistency): answer INTERNAL so the call is not
        // left without its one terminal message (FR-CALL-2).
        out.truncate(start);
        let _ = reply.encode_error(
            ErrorCode::INTERNAL,
            "the server could not encode the answer",
            out,
        );
    }
    if bufs.streamed.is_none() {
        // (A streamed answer's body is handed over as it is.)
        bufs.shrink(bufs.body.len());
    }
    outcome
}

/// Runs a NOTIFY; unknown methods and panics are dropped (FR-CALL-7: never answered).
pub(crate) fn run_notify(router: &Router, shared: &Shared, session: u32, call: &Call) -> bool {
    let Some(handler) = router.notify_handler(call.method()) else {
        return false;
    };
    let ctx = Context {
        session,
        request: 0,
        method: call.method(),
        call: None,
        shutdown: &shared.handle,
    };
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler.notify(call.body(), &ctx))) {
        let message = panic_message(&*panic);
        shared.log(ServerLog::HandlerPanicked {
            method: call.method().to_owned(),
            message,
        });
    }
    true
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}
