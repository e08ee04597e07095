//! [`Router`]: method names to handlers, and [`HandlerError`], what a handler answers instead of
//! a response.

use std::collections::HashMap;
use std::fmt;

use fifo_rpc_protocol::{payload, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::Context;

/// The error a handler returns instead of a response; it becomes an ERROR message.
///
/// ```
/// use fifo_rpc_server::HandlerError;
/// use fifo_rpc_protocol::ErrorCode;
///
/// let app = HandlerError::application(1000, "no such user");
/// assert_eq!(app.code(), ErrorCode(1000));
/// // Codes below 1000 belong to the protocol: they become HANDLER_FAILED.
/// assert_eq!(HandlerError::application(7, "x").code(), ErrorCode::HANDLER_FAILED);
/// assert_eq!(HandlerError::failed("disk full").code(), ErrorCode::HANDLER_FAILED);
/// assert_eq!(HandlerError::from("oops").message(), "oops");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    code: ErrorCode,
    message: String,
}

impl HandlerError {
    /// An application error with `code` (1000 and above, spec §11.1) and a message for humans.
    /// A code below 1000 is not the application's to send and becomes `HANDLER_FAILED`.
    pub fn application(code: u16, message: impl Into<String>) -> Self {
        let code = if code >= ErrorCode::APPLICATION_MIN {
            ErrorCode(code)
        } else {
            ErrorCode::HANDLER_FAILED
        };
        Self {
            code,
            message: message.into(),
        }
    }

    /// The handler failed without an application code: `HANDLER_FAILED`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::HANDLER_FAILED,
            message: message.into(),
        }
    }

    /// The request body was not what the method expects: `BAD_REQUEST` (FR-CALL-6).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The ERROR code sent.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message sent.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for HandlerError {}

impl From<String> for HandlerError {
    /// `HANDLER_FAILED` with this message.
    fn from(message: String) -> Self {
        Self::failed(message)
    }
}

impl From<&str> for HandlerError {
    /// `HANDLER_FAILED` with this message.
    fn from(message: &str) -> Self {
        Self::failed(message)
    }
}

/// A call handler: body in, response body appended to `out`.
pub(crate) trait CallHandler: Send + Sync {
    fn call(&self, body: &[u8], ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<(), HandlerError>;
}

/// A NOTIFY handler: never answered (FR-CALL-7).
pub(crate) trait NotifyHandler: Send + Sync {
    fn notify(&self, body: &[u8], ctx: &Context<'_>);
}

struct Typed<F, Req, Resp> {
    f: F,
    _types: std::marker::PhantomData<fn(Req) -> Resp>,
}

impl<F, Req, Resp> CallHandler for Typed<F, Req, Resp>
where
    F: Fn(Req, &Context<'_>) -> Result<Resp, HandlerError> + Send + Sync,
    Req: DeserializeOwned,
    Resp: Serialize,
{
    fn call(&self, body: &[u8], ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<(), HandlerError> {
        let req: Req = payload::decode(body, body.len() as u64).map_err(|e| {
            HandlerError::bad_request(format!(
                "cannot decode the request body of {}: {e}",
                ctx.method()
            ))
        })?;
        let resp = (self.f)(req, ctx)?;
        payload::encode_into(&resp, u64::MAX, out).map_err(|e| HandlerError {
            code: ErrorCode::INTERNAL,
            message: format!("cannot encode the response: {e}"),
        })
    }
}

struct RawInto<F>(F);

impl<F> CallHandler for RawInto<F>
where
    F: Fn(&[u8], &Context<'_>, &mut Vec<u8>) -> Result<(), HandlerError> + Send + Sync,
{
    fn call(&self, body: &[u8], ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<(), HandlerError> {
        (self.0)(body, ctx, out)
    }
}

struct TypedNotify<F, T> {
    f: F,
    _types: std::marker::PhantomData<fn(T)>,
}

impl<F, T> NotifyHandler for TypedNotify<F, T>
where
    F: Fn(T, &Context<'_>) + Send + Sync,
    T: DeserializeOwned,
{
    fn notify(&self, body: &[u8], ctx: &Context<'_>) {
        // A NOTIFY is never answered (FR-CALL-7): an undecodable body is dropped.
        if let Ok(value) = payload::decode::<T>(body, body.len() as u64) {
            (self.f)(value, ctx);
        }
    }
}

struct RawNotify<F>(F);

impl<F> NotifyHandler for RawNotify<F>
where
    F: Fn(&[u8], &Context<'_>) + Send + Sync,
{
    fn notify(&self, body: &[u8], ctx: &Context<'_>) {
        (self.0)(body, ctx)
    }
}

/// Maps method names to handlers. Built once, then given to [`Server::serve`](crate::Server::serve).
///
/// Typed handlers decode the request body and encode the response with the `bincode1` payload
/// encoding (spec §10); raw handlers see the body octets. A body that a typed handler cannot
/// decode is answered `BAD_REQUEST`, a method that is not routed `METHOD_NOT_FOUND`, a panic
/// in a handler `HANDLER_PANICKED` (the server keeps serving). Registering a name twice keeps
/// the last handler. Method names are 1 to 255 octets of UTF-8 on the wire; a longer name can
/// never be called.
///
/// ```
/// use fifo_rpc_server::{HandlerError, Router};
///
/// let router = Router::new()
///     .typed("echo", |s: String, _ctx| Ok::<_, HandlerError>(s))
///     .typed("fail", |s: String, _ctx| Err::<String, _>(HandlerError::application(1000, s)))
///     .raw("len", |body, _ctx| Ok((body.len() as u64).to_le_bytes().to_vec()))
///     .with_exit();
/// let mut names: Vec<&str> = router.methods().collect();
/// names.sort();
/// assert_eq!(names, ["echo", "exit", "fail", "len"]);
/// ```
#[derive(Default)]
pub struct Router {
    calls: HashMap<Box<str>, Box<dyn CallHandler>>,
    notifies: HashMap<Box<str>, Box<dyn NotifyHandler>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("methods", &self.calls.keys().collect::<Vec<_>>())
            .field("notifications", &self.notifies.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Router {
    /// A router with no method.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method` to a typed handler: the body is decoded as `Req` (`bincode1`), the
    /// handler's `Resp` is encoded as the response body.
    ///
    /// ```
    /// use fifo_rpc_server::{Context, HandlerError, Router};
    /// let router = Router::new().typed("add", |(a, b): (u32, u32), _ctx: &Context| {
    ///     a.checked_add(b).ok_or_else(|| HandlerError::application(1001, "overflow"))
    /// });
    /// assert!(router.has_method("add"));
    /// ```
    pub fn typed<Req, Resp, F>(mut self, method: &str, handler: F) -> Self
    where
        Req: DeserializeOwned + 'static,
        Resp: Serialize + 'static,
        F: Fn(Req, &Context<'_>) -> Result<Resp, HandlerError> + Send + Sync + 'static,
    {
        let h = Typed {
            f: handler,
            _types: std::marker::PhantomData,
        };
        self.calls.insert(method.into(), Box::new(h));
        self
    }

    /// Routes `method` to a handler of raw octets: the request body in, the response body out.
    ///
    /// ```
    /// use fifo_rpc_server::Router;
    /// let router = Router::new().raw("reverse", |body, _ctx| Ok(body.iter().rev().copied().collect()));
    /// assert!(router.has_method("reverse"));
    /// ```
    pub fn raw<F>(self, method: &str, handler: F) -> Self
    where
        F: Fn(&[u8], &Context<'_>) -> Result<Vec<u8>, HandlerError> + Send + Sync + 'static,
    {
        self.raw_into(
            method,
            move |body: &[u8], ctx: &Context<'_>, out: &mut Vec<u8>| {
                out.extend_from_slice(&handler(body, ctx)?);
                Ok(())
            },
        )
    }

    /// Routes `method` to a raw handler that appends the response body to a buffer the server
    /// reuses from call to call: no allocation per call.
    ///
    /// ```
    /// use fifo_rpc_server::Router;
    /// let router = Router::new().raw_into("echo", |body, _ctx, out| {
    ///     out.extend_from_slice(body);
    ///     Ok(())
    /// });
    /// assert!(router.has_method("echo"));
    /// ```
    pub fn raw_into<F>(mut self, method: &str, handler: F) -> Self
    where
        F: Fn(&[u8], &Context<'_>, &mut Vec<u8>) -> Result<(), HandlerError>
            + Send
            + Sync
            + 'static,
    {
        self.calls.insert(method.into(), Box::new(RawInto(handler)));
        self
    }

    /// Routes the NOTIFY `method` to a typed handler. NOTIFY is never answered (FR-CALL-7): a
    /// body that does not decode as `T` is dropped.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use fifo_rpc_server::Router;
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let counter = seen.clone();
    /// let router = Router::new().notify("tick", move |n: u64, _ctx| {
    ///     counter.fetch_add(n, Ordering::Relaxed);
    /// });
    /// assert!(router.has_notification("tick"));
    /// ```
    pub fn notify<T, F>(mut self, method: &str, handler: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: Fn(T, &Context<'_>) + Send + Sync + 'static,
    {
        let h = TypedNotify {
            f: handler,
            _types: std::marker::PhantomData,
        };
        self.notifies.insert(method.into(), Box::new(h));
        self
    }

    /// Routes the NOTIFY `method` to a handler of raw octets.
    ///
    /// ```
    /// use fifo_rpc_server::Router;
    /// let router = Router::new().raw_notify("log", |body, _ctx| eprintln!("{} bytes", body.len()));
    /// assert!(router.has_notification("log"));
    /// ```
    pub fn raw_notify<F>(mut self, method: &str, handler: F) -> Self
    where
        F: Fn(&[u8], &Context<'_>) + Send + Sync + 'static,
    {
        self.notifies
            .insert(method.into(), Box::new(RawNotify(handler)));
        self
    }

    /// Routes `exit` (spec §8.8): an empty RESPONSE, then a graceful shutdown of the server
    /// (FR-EXIT-1). The request body is ignored.
    ///
    /// ```
    /// use fifo_rpc_server::Router;
    /// assert!(Router::new().with_exit().has_method("exit"));
    /// ```
    pub fn with_exit(self) -> Self {
        self.raw_into("exit", |_body, ctx, _out| {
            ctx.shutdown();
            Ok(())
        })
    }

    /// `true` if `method` is routed to a call handler.
    pub fn has_method(&self, method: &str) -> bool {
        self.calls.contains_key(method)
    }

    /// `true` if `method` is routed to a NOTIFY handler.
    pub fn has_notification(&self, method: &str) -> bool {
        self.notifies.contains_key(method)
    }

    /// The routed call methods, in no particular order.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.calls.keys().map(|k| &**k)
    }

    pub(crate) fn call_handler(&self, method: &str) -> Option<&dyn CallHandler> {
        self.calls.get(method).map(|b| &**b)
    }

    pub(crate) fn notify_handler(&self, method: &str) -> Option<&dyn NotifyHandler> {
        self.notifies.get(method).map(|b| &**b)
    }
}
