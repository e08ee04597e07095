//! The code registries of spec §11: [`ErrorCode`] (carried by ERROR) and [`GoodbyeCode`] (carried
//! by GOODBYE).

use std::fmt;

/// The Code field of an ERROR message (spec §11.1).
///
/// Codes 1-9 are defined by the spec, 1000 and above belong to the application. A receiver treats
/// an unknown code below 1000 as [`ErrorCode::INTERNAL`] ([`ErrorCode::normalized`]).
///
/// ```
/// use fifo_rpc_protocol::ErrorCode;
/// assert_eq!(ErrorCode::METHOD_NOT_FOUND.name(), "METHOD_NOT_FOUND");
/// assert!(ErrorCode(1000).is_application());
/// assert_eq!(ErrorCode(42).normalized(), ErrorCode::INTERNAL);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// The client cancelled the call.
    pub const CANCELLED: Self = Self(1);
    /// Malformed REQUEST, or a body the handler could not decode.
    pub const BAD_REQUEST: Self = Self(2);
    /// The server does not serve this method.
    pub const METHOD_NOT_FOUND: Self = Self(3);
    /// The request exceeded the server's Max Message, or the response would exceed the client's.
    pub const MESSAGE_TOO_LARGE: Self = Self(4);
    /// The handler failed without an application code.
    pub const HANDLER_FAILED: Self = Self(5);
    /// The handler crashed.
    pub const HANDLER_PANICKED: Self = Self(6);
    /// More than Max In-flight calls outstanding.
    pub const OVERLOADED: Self = Self(7);
    /// The server is draining; the call was not run.
    pub const SHUTTING_DOWN: Self = Self(8);
    /// Anything else on the server side.
    pub const INTERNAL: Self = Self(9);
    /// The first code that belongs to the application.
    pub const APPLICATION_MIN: u16 = 1000;

    /// `true` for application codes (1000 and above).
    pub fn is_application(self) -> bool {
        self.0 >= Self::APPLICATION_MIN
    }

    /// The registry name: `"CANCELLED"` .. `"INTERNAL"`, `"APPLICATION"` for 1000 and above,
    /// `"RESERVED"` for 0 and `"UNASSIGNED"` for 10-999.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "RESERVED",
            1 => "CANCELLED",
            2 => "BAD_REQUEST",
            3 => "METHOD_NOT_FOUND",
            4 => "MESSAGE_TOO_LARGE",
            5 => "HANDLER_FAILED",
            6 => "HANDLER_PANICKED",
            7 => "OVERLOADED",
            8 => "SHUTTING_DOWN",
            9 => "INTERNAL",
            10..=999 => "UNASSIGNED",
            _ => "APPLICATION",
        }
    }

    /// The code a receiver acts on: unknown codes below 1000 (and the reserved 0) become INTERNAL.
    pub fn normalized(self) -> Self {
        match self.0 {
            1..=9 => self,
            0..=999 => Self::INTERNAL,
            _ => self,
        }
    }
}

impl From<u16> for ErrorCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// The Code field of a GOODBYE message (spec §11.2).
///
/// A receiver treats an unknown code as [`GoodbyeCode::PROTOCOL_ERROR`]
/// ([`GoodbyeCode::normalized`]).
///
/// ```
/// use fifo_rpc_protocol::GoodbyeCode;
/// assert_eq!(GoodbyeCode::SHUTTING_DOWN.0, 1);
/// assert_eq!(GoodbyeCode(99).normalized(), GoodbyeCode::PROTOCOL_ERROR);
/// assert_eq!(GoodbyeCode::SLOW_READER.to_string(), "SLOW_READER (7)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoodbyeCode(pub u16);

impl GoodbyeCode {
    /// The client is closing normally.
    pub const NO_ERROR: Self = Self(0);
    /// The server is exiting (FR-BYE-2).
    pub const SHUTTING_DOWN: Self = Self(1);
    /// The peer broke a session rule (spec §8.6).
    pub const PROTOCOL_ERROR: Self = Self(2);
    /// No common version.
    pub const VERSION_UNSUPPORTED: Self = Self(3);
    /// The server does not serve the encoding.
    pub const ENCODING_UNSUPPORTED: Self = Self(4);
    /// Max Frame or Max Message below the minimum.
    pub const LIMITS_UNACCEPTABLE: Self = Self(5);
    /// An unknown critical HELLO option.
    pub const UNSUPPORTED_OPTION: Self = Self(6);
    /// The client did not read its answers within the server's write timeout.
    pub const SLOW_READER: Self = Self(7);

    /// The registry name, or `"UNKNOWN"` for a code the registry does not assign.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "NO_ERROR",
            1 => "SHUTTING_DOWN",
            2 => "PROTOCOL_ERROR",
            3 => "VERSION_UNSUPPORTED",
            4 => "ENCODING_UNSUPPORTED",
            5 => "LIMITS_UNACCEPTABLE",
            6 => "UNSUPPORTED_OPTION",
            7 => "SLOW_READER",
            _ => "UNKNOWN",
        }
    }

    /// The code a receiver acts on: an unknown code becomes PROTOCOL_ERROR.
    pub fn normalized(self) -> Self {
        if self.0 <= 7 {
            self
        } else {
            Self::PROTOCOL_ERROR
        }
    }
}

impl From<u16> for GoodbyeCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<GoodbyeCode> for u16 {
    fn from(code: GoodbyeCode) -> Self {
        code.0
    }
}

impl fmt::Display for GoodbyeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §11.1: the registry values and the rule for unknown codes below 1000.
    #[test]
    fn error_codes_match_registry() {
        let table = [
            (ErrorCode::CANCELLED, 1, "CANCELLED"),
            (ErrorCode::BAD_REQUEST, 2, "BAD_REQUEST"),
            (ErrorCode::METHOD_NOT_FOUND, 3, "METHOD_NOT_FOUND"),
            (ErrorCode::MESSAGE_TOO_LARGE, 4, "MESSAGE_TOO_LARGE"),
            (ErrorCode::HANDLER_FAILED, 5, "HANDLER_FAILED"),
            (ErrorCode::HANDLER_PANICKED, 6, "HANDLER_PANICKED"),
            (ErrorCode::OVERLOADED, 7, "OVERLOADED"),
            (ErrorCode::SHUTTING_DOWN, 8, "SHUTTING_DOWN"),
            (ErrorCode::INTERNAL, 9, "INTERNAL"),
        ];
        for (code, value, name) in table {
            assert_eq!(code.0, value);
            assert_eq!(code.name(), name);
            assert_eq!(code.normalized(), code);
            assert!(!code.is_application());
        }
        assert_eq!(ErrorCode(0).normalized(), ErrorCode::INTERNAL);
        assert_eq!(ErrorCode(10).normalized(), ErrorCode::INTERNAL);
        assert_eq!(ErrorCode(999).normalized(), ErrorCode::INTERNAL);
        assert_eq!(ErrorCode(1000).normalized(), ErrorCode(1000));
        assert!(ErrorCode(65535).is_application());
        assert_eq!(ErrorCode(1000).to_string(), "APPLICATION (1000)");
    }

    // Spec §11.2: the registry values and the rule for unknown codes.
    #[test]
    fn goodbye_codes_match_registry() {
        let names = [
            "NO_ERROR",
            "SHUTTING_DOWN",
            "PROTOCOL_ERROR",
            "VERSION_UNSUPPORTED",
            "ENCODING_UNSUPPORTED",
            "LIMITS_UNACCEPTABLE",
            "UNSUPPORTED_OPTION",
            "SLOW_READER",
        ];
        for (value, name) in names.iter().enumerate() {
            let code = GoodbyeCode(value as u16);
            assert_eq!(code.name(), *name);
            assert_eq!(code.normalized(), code);
        }
        assert_eq!(GoodbyeCode::UNSUPPORTED_OPTION.0, 6);
        assert_eq!(GoodbyeCode(8).normalized(), GoodbyeCode::PROTOCOL_ERROR);
        assert_eq!(GoodbyeCode(8).name(), "UNKNOWN");
    }
}
