//! [`Client`]: the public, thread-safe handle on a session.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fifo_rpc_protocol::payload;
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::call::{call_on, deadline_of, submit, PendingCall};
use crate::config::ClientConfig;
use crate::conn::{Conn, Dead};
use crate::error::ClientError;
use crate::write::WriteFail;

/// Largest request-body buffer a thread keeps between typed calls.
const KEPT_BODY_CAPACITY: usize = 64 * 1024;

thread_local! {
    /// Each thread's reusable buffer for encoding typed request bodies.
    static REQUEST_BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What the server said about itself in WELCOME (spec §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// Random, new on every server start: a different value after [`Client::reconnect`] means
    /// that the server restarted (FR-HS-3).
    pub instance_id: u64,
    /// The server's process id (informational).
    pub server_pid: u32,
    /// The agreed protocol version.
    pub version: u8,
    /// The server's local MaxFrame.
    pub max_frame: u16,
    /// The largest request the server accepts.
    pub max_message: u32,
    /// The most calls the client may have outstanding; more wait for a free place.
    pub max_in_flight: u32,
    /// The agreed body encoding.
    pub encoding: String,
}

/// A connection to a fifo-rpc server, shared by any number of threads.
///
/// `Client` is `Send + Sync`: put it in an `Arc` (or borrow it in scoped threads) and call from
/// many threads at once; calls are multiplexed by Request ID and their frames share writes. There
/// is no background thread: a waiting caller reads answers for everyone (see the crate docs).
///
/// Dropping the client closes the session ([`close`](Self::close)).
#[derive(Debug)]
pub struct Client {
    dir: PathBuf,
    config: ClientConfig,
    conn: RwLock<Arc<Conn>>,
    reconnecting: Mutex<()>,
}

impl Client {
    /// Connects to the service in `dir` (spec §9.4), waiting up to the connect timeout for the
    /// server to appear, for another client to leave, and for WELCOME.
    ///
    /// # Errors
    /// [`ClientError::NoServer`] if no server answered before the deadline;
    /// [`ClientError::Busy`] if another client held `client.lock` until then;
    /// [`ClientError::Rejected`] if the server refused the HELLO; [`ClientError::Fifo`] if a
    /// file failed its checks (a planted file, a directory open to others).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use fifo_rpc_client::{Client, ClientConfig, ClientError};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let config = ClientConfig::default().connect_timeout(Duration::from_millis(50));
    /// // Nobody serves this directory.
    /// let err = Client::connect(tmp.path().join("svc"), config).unwrap_err();
    /// assert!(matches!(err, ClientError::NoServer { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(dir: impl AsRef<Path>, config: ClientConfig) -> Result<Client, ClientError> {
        let dir = dir.as_ref().to_path_buf();
        let conn = open(&dir, &config)?;
        Ok(Client {
            dir,
            config,
            conn: RwLock::new(conn),
            reconnecting: Mutex::new(()),
        })
    }

    /// Calls `method` with `request` encoded as `bincode1` and decodes the answer as `Resp`,
    /// waiting at most the configured call timeout.
    ///
    /// Byte bodies are much faster as `serde_bytes` types (`#[serde(with = "serde_bytes")]`,
    /// `serde_bytes::ByteBuf`) than as plain `Vec<u8>`, which serde encodes one element at a
    /// time; the octets on the wire are the same.
    ///
    /// # Errors
    /// [`ClientError::Remote`] if the server answered with ERROR; [`ClientError::Codec`] if a
    /// body does not encode or decode; the errors of [`call_raw`](Self::call_raw).
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// # let server = fifo_rpc_server::Server::bind(&dir)?;
    /// # let stop = server.shutdown_handle();
    /// # let router = fifo_rpc_server::Router::new()
    /// #     .typed("echo", |s: String, _ctx| Ok::<_, fifo_rpc_server::HandlerError>(s))
    /// #     .raw("bytes", |body, _ctx| Ok(body.to_vec()));
    /// # let serving = std::thread::spawn(move || server.serve(router));
    /// # let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// let reply: String = client.call("echo", "hello")?;
    /// assert_eq!(reply, "hello");
    /// # drop(client);
    /// # stop.shutdown();
    /// # serving.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call<Req, Resp>(&self, method: &str, request: &Req) -> Result<Resp, ClientError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.call_with_timeout(method, request, self.config.call_timeout)
    }

    /// [`call`](Self::call) with its own timeout (`None`: wait until answered or the server
    /// goes away).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn call_with_timeout<Req, Resp>(
        &self,
        method: &str,
        request: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp, ClientError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let conn = self.conn();
        let limit = u64::from(conn.welcome().max_message);
        // The request body is encoded into a buffer this thread reuses from call to call, so a
        // steady stream of typed calls allocates nothing for it.
        let answer = REQUEST_BODY.with(|buf| {
            let mut body = buf.borrow_mut();
            body.clear();
            payload::encode_into(request, limit, &mut body)?;
            let answer = call_on(&conn, method, &body, timeout);
            if body.capacity() > KEPT_BODY_CAPACITY {
                *body = Vec::new(); // a one-off large request does not stay allocated
            }
            answer
        })?;
        let value = payload::decode(&answer, u64::from(self.config.max_message));
        // The answer's buffer goes back to the session: the next answer is received into it.
        conn.state.lock().session.recycle(answer);
        Ok(value?)
    }

    /// Calls `method` with the octets `body` as they are and returns the answer's octets,
    /// waiting at most the configured call timeout.
    ///
    /// A body of 64 KiB or more is encoded while it is written, 64 KiB of frames at a time, so
    /// the server starts reading it at once and no second buffer of its size is made.
    ///
    /// # Errors
    /// [`ClientError::Remote`] (ERROR answer), [`ClientError::Timeout`] (the call was
    /// cancelled; its late answer is discarded), [`ClientError::ServerGone`] (outcome unknown,
    /// FR-BYE-4), [`ClientError::NotProcessed`] (GOODBYE first, FR-BYE-3),
    /// [`ClientError::Disconnected`], [`ClientError::MessageTooLarge`] (FR-FRAG-4),
    /// [`ClientError::Protocol`] for an empty method or one over 255 octets.
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// # let server = fifo_rpc_server::Server::bind(&dir)?;
    /// # let stop = server.shutdown_handle();
    /// # let router = fifo_rpc_server::Router::new()
    /// #     .typed("echo", |s: String, _ctx| Ok::<_, fifo_rpc_server::HandlerError>(s))
    /// #     .raw("bytes", |body, _ctx| Ok(body.to_vec()));
    /// # let serving = std::thread::spawn(move || server.serve(router));
    /// # let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// // bincode1 of the string "hi" (spec §10.1)
    /// let hi = b"\x02\0\0\0\0\0\0\0hi";
    /// assert_eq!(client.call_raw("echo", hi)?, hi);
    /// # drop(client);
    /// # stop.shutdown();
    /// # serving.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_raw(&self, method: &str, body: &[u8]) -> Result<Vec<u8>, ClientError> {
        call_on(&self.conn(), method, body, self.config.call_timeout)
    }

    /// [`call_raw`](Self::call_raw) into a buffer of yours: on success the answer replaces the
    /// contents of `answer`, and the buffer `answer` held before goes back to the client, which
    /// receives the next answer into it. Calls that keep passing the same buffer allocate
    /// nothing for their answers once warm, and a large answer lands in memory that is already
    /// mapped. On error `answer` is left as it was.
    ///
    /// # Errors
    /// As [`call_raw`](Self::call_raw).
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// # let server = fifo_rpc_server::Server::bind(&dir)?;
    /// # let stop = server.shutdown_handle();
    /// # let router = fifo_rpc_server::Router::new()
    /// #     .raw("bytes", |body, _ctx| Ok(body.to_vec()));
    /// # let serving = std::thread::spawn(move || server.serve(router));
    /// # let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// let mut answer = Vec::new();
    /// for size in [10, 100_000, 3] {
    ///     let body = vec![7u8; size];
    ///     client.call_raw_into("bytes", &body, &mut answer)?;
    ///     assert_eq!(answer, body);
    /// }
    /// # drop(client);
    /// # stop.shutdown();
    /// # serving.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_raw_into(
        &self,
        method: &str,
        body: &[u8],
        answer: &mut Vec<u8>,
    ) -> Result<(), ClientError> {
        let conn = self.conn();
        let got = call_on(&conn, method, body, self.config.call_timeout)?;
        let old = std::mem::replace(answer, got);
        conn.state.lock().session.recycle(old);
        Ok(())
    }

    /// [`call_raw`](Self::call_raw) with its own timeout (`None`: no timeout).
    ///
    /// # Errors
    /// As [`call_raw`](Self::call_raw).
    pub fn call_raw_with_timeout(
        &self,
        method: &str,
        body: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, ClientError> {
        call_on(&self.conn(), method, body, timeout)
    }

    /// Starts a raw call without waiting for its answer, for pipelining: many calls from one
    /// thread share writes (their frames are written when a full `PIPE_BUF` is queued, or at
    /// the latest by [`PendingCall::wait`] or [`flush`](Self::flush)).
    ///
    /// Dropping the [`PendingCall`] without waiting cancels the call.
    ///
    /// # Errors
    /// As [`call_raw`](Self::call_raw), for what can fail before the answer. With Max In-flight
    /// calls outstanding it waits for a free place, up to the call timeout.
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// # let server = fifo_rpc_server::Server::bind(&dir)?;
    /// # let stop = server.shutdown_handle();
    /// # let router = fifo_rpc_server::Router::new()
    /// #     .typed("echo", |s: String, _ctx| Ok::<_, fifo_rpc_server::HandlerError>(s))
    /// #     .raw("bytes", |body, _ctx| Ok(body.to_vec()));
    /// # let serving = std::thread::spawn(move || server.serve(router));
    /// # let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// let bodies: Vec<[u8; 4]> = (0..100u32).map(u32::to_le_bytes).collect();
    /// let pending = bodies
    ///     .iter()
    ///     .map(|body| client.send_raw("bytes", body))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// for (call, body) in pending.into_iter().zip(&bodies) {
    ///     assert_eq!(call.wait()?, body);
    /// }
    /// # drop(client);
    /// # stop.shutdown();
    /// # serving.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_raw<'a>(
        &self,
        method: &'a str,
        body: &[u8],
    ) -> Result<PendingCall<'a>, ClientError> {
        let conn = self.conn();
        let timeout = self.config.call_timeout;
        let request = submit(&conn, method, body, (deadline_of(timeout), timeout), false)?;
        Ok(PendingCall {
            conn,
            request,
            method,
            timeout: self.config.call_timeout,
            done: false,
        })
    }

    /// Writes frames queued by [`send_raw`](Self::send_raw) now.
    ///
    /// # Errors
    /// [`ClientError::ServerGone`] if the server went away, [`ClientError::Timeout`] if
    /// `pipe.in` stayed full for the call timeout.
    pub fn flush(&self) -> Result<(), ClientError> {
        let conn = self.conn();
        let deadline = deadline_of(self.config.call_timeout);
        let (g, result) = conn.flush(conn.state.lock(), deadline, false);
        let dead = g.dead.clone();
        drop(g);
        match result {
            Ok(()) => Ok(()),
            Err(WriteFail::Timeout) => Err(ClientError::Timeout {
                method: "flush".to_owned(),
                after: self.config.call_timeout.unwrap_or_default(),
            }),
            Err(WriteFail::Fifo(e)) => Err(e.into()),
            Err(WriteFail::Dead) => {
                Err(dead.map_or(ClientError::ServerGone, |d| d.unknown_outcome_error()))
            }
        }
    }

    /// Sends a NOTIFY of `method` with `message` encoded as `bincode1`; no answer comes
    /// (FR-CALL-7).
    ///
    /// # Errors
    /// [`ClientError::Codec`], [`ClientError::Disconnected`], [`ClientError::ServerGone`],
    /// [`ClientError::MessageTooLarge`], [`ClientError::Protocol`].
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// # let server = fifo_rpc_server::Server::bind(&dir)?;
    /// # let stop = server.shutdown_handle();
    /// # let router = fifo_rpc_server::Router::new()
    /// #     .typed("echo", |s: String, _ctx| Ok::<_, fifo_rpc_server::HandlerError>(s))
    /// #     .raw("bytes", |body, _ctx| Ok(body.to_vec()));
    /// # let serving = std::thread::spawn(move || server.serve(router));
    /// # let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// client.notify("echo", "no answer expected")?;
    /// # drop(client);
    /// # stop.shutdown();
    /// # serving.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify<T: Serialize + ?Sized>(
        &self,
        method: &str,
        message: &T,
    ) -> Result<(), ClientError> {
        let limit = u64::from(self.conn().welcome().max_message);
        self.notify_raw(method, &payload::encode(message, limit)?)
    }

    /// Sends a NOTIFY of `method` with the octets `body`.
    ///
    /// # Errors
    /// As [`notify`](Self::notify), without [`ClientError::Codec`].
    pub fn notify_raw(&self, method: &str, body: &[u8]) -> Result<(), ClientError> {
        let conn = self.conn();
        let mut g = conn.state.lock();
        if let Some(dead) = &g.dead {
            return Err(dead.new_call_error());
        }
        let s = &mut *g;
        s.session.notify(method, body, &mut s.tx)?;
        let deadline = deadline_of(self.config.call_timeout);
        let (g, result) = conn.flush(g, deadline, false);
        match result {
            Ok(()) | Err(WriteFail::Timeout) => Ok(()), // queued; the next writer sends it
            Err(WriteFail::Fifo(e)) => Err(e.into()),
            Err(WriteFail::Dead) => Err(g
                .dead
                .as_ref()
                .map_or(ClientError::ServerGone, Dead::unknown_outcome_error)),
        }
    }

    /// Asks the server to stop: calls the `exit` method (spec §10.2) and waits for its empty
    /// RESPONSE, then for GOODBYE `SHUTTING_DOWN` and the end of `pipe.out` (FR-EXIT-1). The
    /// client is disconnected afterwards.
    ///
    /// # Errors
    /// As [`call_raw`](Self::call_raw); [`ClientError::Remote`] with `METHOD_NOT_FOUND` if the
    /// server does not serve `exit`; [`ClientError::ServerGone`] if `pipe.out` ends without the
    /// GOODBYE `SHUTTING_DOWN` (the server went away without confirming its drain).
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// let server = fifo_rpc_server::Server::bind(&dir)?;
    /// let serving = std::thread::spawn(move || server.serve(fifo_rpc_server::Router::new().with_exit()));
    /// let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// client.exit()?;
    /// serving.join().expect("server thread")?; // the server has stopped
    /// assert!(!client.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exit(&self) -> Result<(), ClientError> {
        let conn = self.conn();
        call_on(&conn, "exit", &[], self.config.call_timeout)?;
        // The server drains and says GOODBYE SHUTTING_DOWN, then closes pipe.out.
        let deadline = deadline_of(self.config.call_timeout);
        let end = conn.wait_for(deadline, None, |g| {
            let over = g.eof || matches!(g.dead, Some(Dead::Closed | Dead::Violation(_)));
            over.then(|| g.dead.clone())
        });
        // FR-EXIT-1: acknowledged means RESPONSE and then GOODBYE SHUTTING_DOWN (EOF follows,
        // but a GOODBYE without EOF in time is enough). End of stream without that GOODBYE means
        // the server went away without confirming that it drained: not acknowledged.
        if Conn::server_shut_down(&conn.state.lock()) {
            return Ok(());
        }
        match end {
            Some(dead) => {
                Err(dead.map_or(ClientError::Disconnected, |d| d.unknown_outcome_error()))
            }
            None => Err(ClientError::Timeout {
                method: "exit".to_owned(),
                after: self.config.call_timeout.unwrap_or_default(),
            }),
        }
    }

    /// Ends the session: sends GOODBYE `NO_ERROR` (FR-BYE-1) and releases `client.lock`, so
    /// that another client can connect. Calls still waiting fail with
    /// [`ClientError::Disconnected`]. Idempotent; [`reconnect`](Self::reconnect) starts a new
    /// session.
    pub fn close(&self) {
        self.conn().close();
    }

    /// Closes the current session, if any, and connects again (waiting up to the connect
    /// timeout).
    ///
    /// **At most once.** Calls that were outstanding when the previous session ended failed
    /// with [`ClientError::ServerGone`] (the server may or may not have run them) and are never
    /// re-sent by the client (FR-BYE-4); retry them yourself if they are idempotent. Compare
    /// [`server_info`](Self::server_info)`().instance_id` before and after to learn whether the
    /// server restarted (FR-HS-3).
    ///
    /// # Errors
    /// As [`connect`](Self::connect). On error the client stays disconnected.
    ///
    /// # Examples
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("svc");
    /// # let server = fifo_rpc_server::Server::bind(&dir)?;
    /// # let stop = server.shutdown_handle();
    /// # let router = fifo_rpc_server::Router::new()
    /// #     .typed("echo", |s: String, _ctx| Ok::<_, fifo_rpc_server::HandlerError>(s))
    /// #     .raw("bytes", |body, _ctx| Ok(body.to_vec()));
    /// # let serving = std::thread::spawn(move || server.serve(router));
    /// # let client = fifo_rpc_client::Client::connect(&dir, Default::default())?;
    /// let before = client.server_info().instance_id;
    /// client.close();
    /// assert!(!client.is_connected());
    /// client.reconnect()?;
    /// let reply: String = client.call("echo", "back")?;
    /// assert_eq!(reply, "back");
    /// assert_eq!(client.server_info().instance_id, before); // the same server
    /// # drop(client);
    /// # stop.shutdown();
    /// # serving.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconnect(&self) -> Result<(), ClientError> {
        let _one_at_a_time = self.reconnecting.lock();
        self.conn().close();
        let fresh = open(&self.dir, &self.config)?;
        *self.conn.write() = fresh;
        Ok(())
    }

    /// What the server of the current (or last) session said about itself in WELCOME.
    pub fn server_info(&self) -> ServerInfo {
        let conn = self.conn();
        let w = conn.welcome();
        ServerInfo {
            instance_id: w.instance_id,
            server_pid: w.server_pid,
            version: w.version,
            max_frame: w.max_frame,
            max_message: w.max_message,
            max_in_flight: w.max_in_flight,
            encoding: w.encoding.clone(),
        }
    }

    /// `true` while the session lasts: not closed, the server not gone.
    pub fn is_connected(&self) -> bool {
        self.conn().is_alive()
    }

    /// The service directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn conn(&self) -> Arc<Conn> {
        Arc::clone(&self.conn.read())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.conn.get_mut().close();
    }
}

/// Connects and wraps the session.
fn open(dir: &Path, config: &ClientConfig) -> Result<Arc<Conn>, ClientError> {
    let parts = crate::connect::connect(dir, config)?;
    Ok(Arc::new(Conn::new(parts, config.spin)?))
}
