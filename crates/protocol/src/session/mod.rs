//! The session state machines of spec §8, without I/O: [`client::ClientSession`] and
//! [`server::ServerSession`].

pub mod client;
pub mod server;
