//! placeholder
#![forbid(unsafe_code)]
pub mod codes;
pub mod decoder;
pub mod encode;
pub mod error;
pub mod fragment;
pub mod frame;
pub mod message;
pub mod receiver;
pub use codes::*;
pub use decoder::*;
pub use encode::*;
pub use error::*;
pub use fragment::*;
pub use frame::*;
pub use message::*;
pub use receiver::*;
