//! Value types whose constructors enforce the ledger's rules, so an invalid one cannot exist.

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was refused by its constructor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is invalid: {reason}")]
pub struct ValueError {
    kind: &'static str,
    value: String,
    reason: &'static str,
}

impl ValueError {
    fn new(kind: &'static str, value: &str, reason: &'static str) -> ValueError {
        let value = value.chars().take(64).collect();
        ValueError {
            kind,
            value,
            reason,
        }
    }
}

/// A JSON Schema for a string with a pattern and length bounds.
pub(crate) fn string_schema(pattern: &str, min: u32, max: u32) -> Schema {
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        string: Some(Box::new(StringValidation {
            max_length: Some(max),
            min_length: Some(min),
            pattern: (!pattern.is_empty()).then(|| pattern.to_owned()),
        })),
        ..Default::default()
    }
    .into()
}

/// Declares a validated string newtype with serde (via `TryFrom<String>`) and a JSON Schema.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $min:expr, $max:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps the text.
            pub fn new(text: impl Into<String>) -> Result<$name, ValueError> {
                let text = text.into();
                let len = text.chars().count();
                if !($min..=$max).contains(&len) {
                    return Err(ValueError::new(stringify!($name), &text, "length out of bounds"));
                }
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&text).map_err(|reason| ValueError::new(stringify!($name), &text, reason))?;
                Ok($name(text))
            }
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(text: String) -> Result<Self, ValueError> {
                $name::new(text)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).to_owned()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                string_schema($pattern, $min as u32, $max as u32)
            }
        }
    };
}

fn id_chars(s: &str) -> Result<(), &'static str> {
    let ok = s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(&c));
    ok.then_some(())
        .ok_or("only A-Z a-z 0-9 . _ : - are allowed")
}

fn snake(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let ok = b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
    ok.then_some(()).ok_or("must match [a-z][a-z0-9_]*")
}

fn actor_form(s: &str) -> Result<(), &'static str> {
    let (class, name) = s.split_once(':').ok_or("must be <class>:<name>")?;
    if class.is_empty() || snake(class).is_err() {
        return Err("class must match [a-z][a-z0-9_]*");
    }
    let printable = name.chars().all(|c| !c.is_whitespace() && !c.is_control());
    (!name.is_empty() && printable)
        .then_some(())
        .ok_or("name must be non-empty, no spaces")
}

fn text_form(s: &str) -> Result<(), &'static str> {
    let clean = s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t');
    let trimmed = !s.trim().is_empty();
    (clean && trimmed)
        .then_some(())
        .ok_or("must be non-blank text without control characters")
}

fn hex64(s: &str) -> Result<(), &'static str> {
    let ok = s
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    ok.then_some(()).ok_or("must be 64 lowercase hex digits")
}

fn decimal_form(s: &str) -> Result<(), &'static str> {
    Decimal::scaled(s)
        .map(|_| ())
        .ok_or("must be a decimal like 12.50 (at most 6 places)")
}

string_newtype!(
    /// A record's id inside its stream: `[A-Za-z0-9._:-]{1,128}`, e.g. `R-0007`.
    RecordId, "^[A-Za-z0-9._:-]{1,128}$", 1, 128, id_chars
);
string_newtype!(
    /// Who is accountable: `<class>:<name>`, e.g. `user:alice@acme.example`, `service:tms`.
    Actor, r"^[a-z][a-z0-9_]*:\S+$", 3, 256, actor_form
);
string_newtype!(
    /// A role name, e.g. `top_management`; authority is granted by `role.assigned` events.
    Role, "^[a-z][a-z0-9_]*$", 1, 64, snake
);
string_newtype!(
    /// Free text in a payload: non-blank, at most 4000 characters.
    Text, "", 1, 4000, text_form
);
string_newtype!(
    /// A short code or label (clause number, category, country), at most 128 characters.
    Code, "", 1, 128, text_form
);
string_newtype!(
    /// A SHA-256 or BLAKE3 digest as 64 lowercase hex digits.
    Digest, "^[0-9a-f]{64}$", 64, 64, hex64
);
string_newtype!(
    /// A decimal number carried as a string (the ledger has no floats), e.g. `"12.50"`.
    Decimal, r"^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,6})?$", 1, 26, decimal_form
);

impl Decimal {
    /// The value scaled by 10^6, so decimals compare exactly.
    pub fn micros(&self) -> i128 {
        Decimal::scaled(&self.0).unwrap_or_default()
    }

    fn scaled(s: &str) -> Option<i128> {
        let (neg, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        let int_ok = digits(int) && int.len() <= 18 && (int == "0" || !int.starts_with('0'));
        let frac_ok = !body.contains('.') || (digits(frac) && frac.len() <= 6);
        if !int_ok || !frac_ok {
            return None;
        }
        let frac_scaled = format!("{frac:0<6}").parse::<i128>().ok()?;
        let value = int.parse::<i128>().ok()? * 1_000_000 + frac_scaled;
        Some(if neg { -value } else { value })
    }
}

macro_rules! stream_kinds {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The kinds of stream the SMS is made of (ISO28000.md, "stream kind" column).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum StreamKind { $(#[doc = concat!("`", $name, "`")] $variant),* }

        impl StreamKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [StreamKind] = &[$(StreamKind::$variant),*];
            /// The kind as it appears in a stream id.
            pub fn as_str(self) -> &'static str {
                match self { $(StreamKind::$variant => $name),* }
            }
            /// The kind named by `text`, if any.
            pub fn parse(text: &str) -> Option<StreamKind> {
                match text { $($name => Some(StreamKind::$variant),)* _ => None }
            }
        }
    };
}

stream_kinds! {
    Issue => "issue", Party => "party", Obligation => "obligation", Scope => "scope",
    Policy => "policy", Role => "role", Matrix => "matrix", Risk => "risk",
    Objective => "objective", Change => "change", Competence => "competence",
    Person => "person", Communication => "communication", Document => "document",
    Control => "control", Supplier => "supplier", Plan => "plan", Incident => "incident",
    Audit => "audit", Assessment => "assessment", Review => "review",
    Nonconformity => "nonconformity", CorrectiveAction => "corrective_action",
    Improvement => "improvement",
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream: `<kind>/<id>`, e.g. `risk/R-0007`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    kind: StreamKind,
    id: RecordId,
}

impl StreamId {
    /// The stream of record `id` of kind `kind`.
    pub fn new(kind: StreamKind, id: RecordId) -> StreamId {
        StreamId { kind, id }
    }
    /// Parses `<kind>/<id>`.
    pub fn parse(text: &str) -> Result<StreamId, ValueError> {
        let bad = |reason| ValueError::new("StreamId", text, reason);
        let (kind, id) = text
            .split_once('/')
            .ok_or_else(|| bad("must be <kind>/<id>"))?;
        let kind = StreamKind::parse(kind).ok_or_else(|| bad("unknown stream kind"))?;
        let id = RecordId::new(id).map_err(|_| bad("id must match [A-Za-z0-9._:-]{1,128}"))?;
        Ok(StreamId { kind, id })
    }
    /// The stream's kind.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }
    /// The record id inside the stream.
    pub fn id(&self) -> &RecordId {
        &self.id
    }
    /// How rejections name the record: `risk R-0007`.
    pub fn subject(&self) -> Subject {
        Subject(self.clone())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.id)
    }
}

/// A stream named the way people read it in an error: `risk R-0007`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(pub StreamId);

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.kind, self.0.id)
    }
}

/// Well-known role names. Any `[a-z][a-z0-9_]*` role may be defined; these carry rules.
pub mod roles {
    /// Approves policy, plans and changes; holds the root of authority.
    pub const TOP_MANAGEMENT: &str = "top_management";
    /// Runs the SMS day to day: records, plans, triages.
    pub const SECURITY_MANAGER: &str = "security_manager";
    /// Owns and assesses risks.
    pub const RISK_OWNER: &str = "risk_owner";
    /// May accept a residual risk (6.1.2 risk acceptance authority).
    pub const RISK_ACCEPTANCE: &str = "risk_acceptance";
    /// Conducts audits and verifies corrective actions.
    pub const AUDITOR: &str = "auditor";
    /// Owns an operational area; audited by others (9.2 independence).
    pub const AREA_OWNER: &str = "area_owner";
    /// Handles incidents at a site.
    pub const INCIDENT_HANDLER: &str = "incident_handler";
    /// Any member of staff (acknowledges policy, completes training).
    pub const STAFF: &str = "staff";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_exactly() {
        let d = |s: &str| Decimal::new(s).unwrap().micros();
        assert_eq!(d("12.50"), 12_500_000);
        assert_eq!(d("-0.000001"), -1);
        assert!(d("96") > d("95.999999"));
        for bad in ["1e3", "01", "1.", ".5", "1.1234567", "", "NaN", "--1"] {
            assert!(Decimal::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_ids_follow_the_ledger_syntax() {
        let s = StreamId::parse("risk/R-0007").unwrap();
        assert_eq!(s.kind(), StreamKind::Risk);
        assert_eq!(s.to_string(), "risk/R-0007");
        assert_eq!(s.subject().to_string(), "risk R-0007");
        for bad in [
            "risk",
            "Risk/R-1",
            "risk/",
            "risk/a b",
            "nope/x",
            &format!("risk/{}", "x".repeat(129)),
        ] {
            assert!(StreamId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn actors_have_a_class_and_a_name() {
        assert!(Actor::new("user:alice@acme.example").is_ok());
        assert!(Actor::new("service:tms").is_ok());
        for bad in ["alice", ":alice", "User:alice", "user:", "user:a b"] {
            assert!(Actor::new(bad).is_err(), "{bad}");
        }
    }
}
