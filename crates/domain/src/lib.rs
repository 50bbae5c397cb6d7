//! placeholder
#![warn(missing_docs)]

mod context;
mod event;
mod ids;
mod kinds;
mod macros;
mod rejection;
pub mod scenario;
mod sms;
mod state;
mod time;
pub mod upcast;

pub use context::{Context, Facts, NoFacts};
pub use event::{
    decode, event_type, schema_files, DecodeError, Envelope, Event, EventType, SchemaFile,
    EVENT_TYPES,
};
pub use ids::{
    roles, Actor, Code, Decimal, Digest, RecordId, Role, StreamId, StreamKind, Subject, Text,
    ValueError,
};
pub use kinds::*;
pub use rejection::{Rejection, Result};
pub use sms::Sms;
pub use state::{decide, evolve, Body, Command, StreamState};
pub use time::{Timestamp, TimestampError, TIMESTAMP_PATTERN};
