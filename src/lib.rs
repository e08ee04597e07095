#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

// The facade re-exports the workspace's crates; it has no code of its own.

/// The client: connect to a server's directory and make calls (crate `fifo-rpc-client`).
pub use fifo_rpc_client as client;
/// Every FIFO system call: directory and file checks, locks, non-blocking opens, SIGPIPE-safe
/// writes, polling with deadlines (crate `fifo-rpc-fifo`).
pub use fifo_rpc_fifo as fifo;
/// The FIFO-RPC/1 wire format without I/O: frames, decoder, fragmentation, sessions, payload
/// codec (crate `fifo-rpc-protocol`).
pub use fifo_rpc_protocol as protocol;
/// The server: bind a directory, route methods to handlers, serve (crate `fifo-rpc-server`).
pub use fifo_rpc_server as server;

pub use fifo_rpc_client::{Client, ClientConfig, ClientError, PendingCall, ServerInfo};
pub use fifo_rpc_fifo::{FifoError, SigpipeGuard};
pub use fifo_rpc_protocol::{ErrorCode, GoodbyeCode, ProtocolError};
pub use fifo_rpc_server::{
    Context, HandlerError, Router, ServeSummary, Server, ServerBuilder, ServerError, ShutdownHandle,
};
