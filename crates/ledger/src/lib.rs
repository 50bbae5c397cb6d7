//! The custodia ledger: a signed, BLAKE3 hash-chained, Merkle-committed log of events, exactly as
//! `LEDGER-FORMAT.md` (version 1) defines it.
//!
//! It knows nothing of ISO 28000: an event is a stream, a version, a type and a JSON payload.
//! It owns the one canonical encoding ([`canonical`]), entries and their hashes and signatures
//! ([`entry`]), keys and the key registry ([`keys`]), the RFC 9162 Merkle tree and proofs
//! ([`merkle`]), C2SP signed-note checkpoints ([`note`]), storage backends ([`store`]), the
//! group-committing writer ([`writer`]), the verifier ([`verify`]) and export bundles
//! ([`bundle`]).
//!
//! ```
//! use custodia_ledger::{canonical, entry::{Event, Unsealed, ZERO_HASH}, keys::SecretKey, time::Timestamp};
//! let key = SecretKey::from_seed(&[1; 32]);
//! let data = serde_json::json!({"title": "Seal tampering"});
//! let at = Timestamp::parse("2026-03-01T10:00:00.000000Z").unwrap();
//! let event = Event::new("risk/R-1", 1, "risk.identified", 1, at, "user:alice", data.as_object().unwrap().clone()).unwrap();
//! let entry = Unsealed { ledger: "acme.example/sms".into(), seq: 0, prev: ZERO_HASH, recorded_at: at, event, attestation: None }
//!     .seal(&key).unwrap();
//! assert!(entry.signer.verify(&entry.hash.0, &entry.sig));
//! assert_eq!(canonical::jcs(&serde_json::json!({"b": 1, "a": [true]})).unwrap(), br#"{"a":[true],"b":1}"#);
//! ```
#![warn(missing_docs)]

pub mod bundle;
pub mod canonical;
pub mod entry;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod store;
pub mod time;
pub mod verify;
pub mod writer;
