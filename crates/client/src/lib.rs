//! The blocking, thread-safe client of fifo-rpc: calls to a server over the two FIFOs of a
//! service directory (spec `FRAMING.md` §9).
//!
//! It does not start threads, does not retry calls on its own and does not reconnect by itself:
//! every wait happens in a thread that called it, every call is sent at most once, and
//! [`Client::reconnect`] is explicit.
//!
//! ```
//! use fifo_rpc_client::{ClientConfig, ErrorCode};
//! use fifo_rpc_server::{HandlerError, Router, Server};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("svc");
//! // A server to talk to; normally another process (`cargo run --example echo_server`).
//! let server = Server::bind(&dir)?;
//! let router = Router::new().typed("echo", |s: String, _ctx| Ok::<_, HandlerError>(s)).with_exit();
//! let serving = std::thread::spawn(move || server.serve(router));
//!
//! let client = ClientConfig::default().connect(&dir)?; // waits up to 5 s for the server
//! let reply: String = client.call("echo", "hello")?;
//! assert_eq!(reply, "hello");
//! let err = client.call::<_, String>("nope", "?").unwrap_err();
//! assert_eq!(err.remote_code(), Some(ErrorCode::METHOD_NOT_FOUND));
//! client.exit()?; // the server answers, says GOODBYE and stops (FR-EXIT-1)
//! # serving.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Connecting
//!
//! [`Client::connect`] follows spec §9.4 before one deadline ([`ClientConfig::connect_timeout`]):
//! it waits for the directory and the server's files, takes `client.lock` (one client at a
//! time; while another client holds it, it keeps waiting and finally fails with
//! [`ClientError::Busy`]), opens `pipe.out` for reading and then `pipe.in` for writing (no start
//! order can deadlock), sends HELLO and waits for WELCOME. Without a server it fails with
//! [`ClientError::NoServer`] at the deadline, never later.
//!
//! # Threads, and the idle strategy
//!
//! A `Client` is `Send + Sync`. Calls from many threads are multiplexed over the one session by
//! Request ID, and there is no background thread: a thread waiting for its answer becomes the
//! *reader* of `pipe.out` if no other thread is, hands the answers it reads for other calls to
//! their threads (unparking them), and passes the reader role on when its own answer arrives.
//! Threads sending at the same time put their frames into one `write(2)` of at most `PIPE_BUF`
//! octets (every frame stays whole and atomic, FR-FRAME-9, FR-FRAME-10); a message larger than a
//! frame is written frame by frame. A writer facing a full `pipe.in` keeps reading `pipe.out` so
//! that two full pipes cannot deadlock (FR-FIFO-13). [`Client::send_raw`] pipelines many calls
//! from one thread.
//!
//! The reader first **spins** on non-blocking reads for [`ClientConfig::spin`] (default 50 µs,
//! yielding the CPU on every round) and only then sleeps in `poll(2)` until its deadline. Waking a
//! sleeping thread costs tens of microseconds on a virtual machine, far more than a small round
//! trip; spinning catches a fast answer without it. The cost is CPU: every call whose answer
//! takes longer burns up to the spin time first. Set it to zero for long-running calls or when
//! CPU matters more than latency.
//!
//! The client never leaves `SIGPIPE` blocked on a caller's thread: every `write(2)` blocks it
//! around the call and restores the thread's mask, two `pthread_sigmask` calls per write
//! (FR-FIFO-17). A thread that makes many calls can skip them by holding a
//! [`fifo_rpc_fifo::SigpipeGuard`] (re-exported by the `fifo-rpc` facade) for as long as it
//! calls: `SIGPIPE` then stays blocked on that thread only, until the guard is dropped, and a
//! write to a vanished server still fails with `EPIPE` and consumes its signal.
//!
//! # Failures, reconnect and at-most-once
//!
//! If the server goes away (EOF on `pipe.out`, `EPIPE` on `pipe.in`), every waiting call fails
//! at once with [`ClientError::ServerGone`]: the server may or may not have run it, and the
//! client never sends it again by itself (FR-BYE-4). A server that says GOODBYE first (it is
//! shutting down) fails the calls it did not run with [`ClientError::NotProcessed`], which are
//! safe to retry (FR-BYE-3). Later calls fail with [`ClientError::Disconnected`] until
//! [`Client::reconnect`] starts a new session; [`Client::server_info`] then shows a new
//! `instance_id` if the server restarted (FR-HS-3). A call that times out is cancelled: CANCEL is
//! sent and its late answer discarded (FR-CANCEL-1, FR-CALL-5).
//!
//! `SIGPIPE` never kills the process, whatever its disposition (FR-FIFO-17).
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod call;
mod client;
mod config;
mod conn;
mod connect;
mod error;
mod read;
mod write;

pub use call::PendingCall;
pub use client::{Client, ServerInfo};
pub use config::ClientConfig;
pub use error::ClientError;
pub use fifo_rpc_protocol::{ErrorCode, GoodbyeCode};
