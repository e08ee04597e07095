//! fifo-rpc measured with the same method as the floors: the server in the peer process, the
//! client in the measuring process.

pub(crate) mod server;
