//! The ledger-v1 vectors: every entry preimage, hash, signature and attestation is reproduced.

use custodia_ledger::entry::{self, Entry, Unsealed};
use custodia_ledger::keys::SecretKey;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/ledger-v1");

fn details() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/details.json")).unwrap()).unwrap()
}

fn lines() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{DIR}/entries.jsonl")).unwrap();
    text.lines().map(str::to_owned).collect()
}

fn seed(details: &Value, name: &str) -> SecretKey {
    let hex = details["keys"][format!("{name}_seed_hex")]
        .as_str()
        .unwrap();
    SecretKey::from_seed(&hex::decode(hex).unwrap().try_into().unwrap())
}

#[test]
fn every_preimage_and_hash_is_reproduced() {
    let details = details();
    let preimages = details["entry_preimages_hex"].as_array().unwrap();
    let lines = lines();
    assert_eq!(preimages.len(), lines.len());
    for (line, expected) in lines.iter().zip(preimages) {
        let (entry, raw) = Entry::parse_line(line).unwrap();
        let preimage = entry::entry_preimage(&raw).unwrap();
        assert_eq!(
            hex::encode(&preimage),
            expected.as_str().unwrap(),
            "seq {}",
            entry.seq
        );
        // The typed entry gives the same preimage as the object read from the line.
        assert_eq!(entry::entry_preimage(&entry.to_value()).unwrap(), preimage);
        assert_eq!(entry::entry_hash(&raw).unwrap(), entry.hash);
    }
}

#[test]
fn keys_and_public_keys_match_the_seeds() {
    let details = details();
    for name in ["root", "node", "alice"] {
        assert_eq!(
            seed(&details, name).public().to_base64(),
            details["keys"][name].as_str().unwrap()
        );
    }
}

#[test]
fn resealing_each_entry_reproduces_its_line_byte_for_byte() {
    let details = details();
    let keys = [seed(&details, "root"), seed(&details, "node")];
    for line in lines() {
        let (entry, _) = Entry::parse_line(&line).unwrap();
        let signer = keys.iter().find(|k| k.public() == entry.signer).unwrap();
        let resealed = Unsealed {
            ledger: entry.ledger.clone(),
            seq: entry.seq,
            prev: entry.prev,
            recorded_at: entry.recorded_at,
            event: entry.event.clone(),
            attestation: entry.attestation.clone(),
        }
        .seal(signer)
        .unwrap();
        assert_eq!(resealed, entry, "seq {}", entry.seq);
        assert_eq!(resealed.to_line(), line, "seq {}", entry.seq);
    }
}

#[test]
fn attestations_are_reproduced_and_the_seq3_digest_matches() {
    let details = details();
    let authors = [seed(&details, "root"), seed(&details, "alice")];
    for line in lines() {
        let (entry, _) = Entry::parse_line(&line).unwrap();
        let Some(att) = &entry.attestation else {
            continue;
        };
        let author = authors.iter().find(|k| k.public() == att.key).unwrap();
        assert_eq!(
            &entry.event.attest(author).unwrap(),
            att,
            "seq {}",
            entry.seq
        );
        if entry.seq == 3 {
            assert_eq!(
                hex::encode(entry.event.digest().unwrap()),
                details["event_digest_of_seq3_hex"].as_str().unwrap()
            );
        }
    }
}
