//! ServerSession tests: an in-memory client feeds frames built with the protocol encoders.
