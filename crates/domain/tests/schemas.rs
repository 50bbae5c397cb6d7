//! `schemas/` is generated from the Rust types and checked in. This test fails when they
//! drift; `CUSTODIA_BLESS=1 cargo test -p custodia-domain --test schemas` rewrites them.
//! Every event of the demo scenario must validate against its checked-in schema, with an
//! independent validator (the `jsonschema` crate), and obey the ledger's value rules.

use custodia_domain::scenario::{generate, ScenarioConfig};
use custodia_domain::{schema_files, EVENT_TYPES};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn checked_in() -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(schema_dir()) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && !name.starts_with('.'))
        .map(|name| {
            let text = std::fs::read_to_string(schema_dir().join(&name)).expect("readable schema");
            (name, text)
        })
        .collect()
}

#[test]
fn checked_in_schemas_match_the_rust_types() {
    let generated: BTreeMap<String, String> = schema_files()
        .into_iter()
        .map(|f| (f.file_name(), f.text))
        .collect();
    if std::env::var_os("CUSTODIA_BLESS").is_some() {
        std::fs::create_dir_all(schema_dir()).expect("schemas dir");
        for stale in checked_in()
            .keys()
            .filter(|name| !generated.contains_key(*name))
        {
            std::fs::remove_file(schema_dir().join(stale)).expect("remove stale schema");
        }
        for (name, text) in &generated {
            // Write then rename, so tests running alongside never read half a file.
            let tmp = schema_dir().join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text).expect("write schema");
            std::fs::rename(&tmp, schema_dir().join(name)).expect("rename schema");
        }
    }
    let on_disk = checked_in();
    let missing: Vec<_> = generated
        .keys()
        .filter(|n| !on_disk.contains_key(*n))
        .collect();
    let extra: Vec<_> = on_disk
        .keys()
        .filter(|n| !generated.contains_key(*n))
        .collect();
    let changed: Vec<_> = generated
        .iter()
        .filter(|(n, t)| on_disk.get(*n).is_some_and(|d| d != *t))
        .map(|(n, _)| n)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "schemas/ drifted (run CUSTODIA_BLESS=1 cargo test -p custodia-domain --test schemas):\n missing {missing:?}\n extra {extra:?}\n changed {changed:?}"
    );
}

#[test]
fn every_event_type_has_a_current_schema_and_only_risk_assessed_has_a_legacy_one() {
    let files: BTreeSet<String> = schema_files().iter().map(|f| f.file_name()).collect();
    for t in EVENT_TYPES {
        assert!(
            files.contains(&format!("{}.v{}.json", t.name, t.version)),
            "{}",
            t.name
        );
    }
    assert_eq!(files.len(), EVENT_TYPES.len() + 1);
    assert!(files.contains("risk.assessed.v1.json"));
}

fn validators() -> BTreeMap<String, jsonschema::Validator> {
    checked_in()
        .into_iter()
        .map(|(name, text)| {
            let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
            let validator =
                jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, validator)
        })
        .collect()
}

/// The ledger's value rules: integers within ±(2^53−1), no floats anywhere.
fn check_values(value: &Value, path: &str) {
    match value {
        Value::Number(n) => {
            let safe = (1i64 << 53) - 1;
            assert!(
                n.as_i64().is_some_and(|i| (-safe..=safe).contains(&i)),
                "{path}: {n} is not a safe integer"
            );
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| check_values(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| check_values(v, &format!("{path}.{k}"))),
        _ => {}
    }
}

#[test]
fn every_demo_event_validates_against_its_checked_in_schema() {
    let validators = validators();
    let envelopes = generate(ScenarioConfig::demo()).expect("scenario generates");
    let mut seen = BTreeSet::new();
    for envelope in &envelopes {
        let file = format!(
            "{}.v{}.json",
            envelope.event.event_type(),
            envelope.event.schema_version()
        );
        let validator = validators
            .get(&file)
            .unwrap_or_else(|| panic!("no schema {file}"));
        let json = envelope.to_json();
        let data = &json["data"];
        let errors: Vec<String> = validator.iter_errors(data).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{} v{} at {}: {errors:?}\n{data}",
            envelope.stream,
            envelope.version,
            file
        );
        check_values(&json, &envelope.stream.to_string());
        let occurred_at = json["occurred_at"].as_str().expect("string");
        assert_eq!(occurred_at.len(), 27);
        seen.insert(file);
    }
    assert!(
        seen.len() > 75,
        "the demo covers most types; saw {}",
        seen.len()
    );
}

#[test]
fn schemas_refuse_what_the_types_refuse() {
    let validators = validators();
    let risk = &validators["risk.assessed.v2.json"];
    let good = serde_json::json!({
        "likelihood": 4, "impact": 5, "score": 20, "rating": "Critical",
        "matrix": {"id": "default", "version": 1}, "rationale": "history"
    });
    assert!(risk.is_valid(&good));
    for (field, bad) in [
        ("likelihood", serde_json::json!(4.5)),
        ("likelihood", serde_json::json!(0)),
        ("rating", serde_json::json!("")),
        ("extra", serde_json::json!(1)),
    ] {
        let mut doc = good.clone();
        doc[field] = bad;
        assert!(!risk.is_valid(&doc), "{field} should be refused: {doc}");
    }
    let incident = &validators["incident.reported.v1.json"];
    let doc = serde_json::json!({
        "title": "t", "category": "alien_invasion", "severity": "high",
        "site": "HUB-NL", "country": "NL", "description": "d"
    });
    assert!(!incident.is_valid(&doc));
    let sealed = &validators["review.inputs_sealed.v1.json"];
    let hex = "0".repeat(64);
    let max =
        serde_json::json!({"tree_size": 9007199254740991u64, "root": hex, "pack_digest": hex});
    let errors: Vec<String> = sealed.iter_errors(&max).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!sealed.is_valid(
        &serde_json::json!({"tree_size": 9007199254740992u64, "root": hex, "pack_digest": hex})
    ));
    assert!(
        !sealed.is_valid(&serde_json::json!({"tree_size": 5, "root": "ABC", "pack_digest": hex}))
    );
}
