//! placeholder
#![forbid(unsafe_code)]
pub mod codes;
pub mod decoder;
pub mod error;
pub mod frame;
pub use codes::*;
pub use decoder::*;
pub use error::*;
pub use frame::*;
