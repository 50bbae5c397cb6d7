//! Schema evolution: stored payloads of older schema versions are rewritten into the current
//! version before they are decoded, so the rest of the domain only knows current types.
//!
//! The one real case so far: `risk.assessed` v1 (likelihood, impact, rationale on the fixed
//! 5×5 matrix) becomes v2, which names the matrix and carries score and band. A v1 event reads
//! as if made on `matrix/default` definition 1, which is the default 5×5 matrix — the matrix
//! every v1 assessment was in fact made with.

use crate::ids::RecordId;
use crate::kinds::{MatrixDefined, MatrixRef, RiskAssessed, RiskAssessedV1};
use serde::de::Error as _;
use serde_json::Value;

/// The matrix v1 assessments were made on.
pub const LEGACY_MATRIX_ID: &str = "default";

/// Rewrites `data` of `event_type` at `version` into the current version's shape.
pub(crate) fn upcast(
    event_type: &str,
    version: u32,
    data: &Value,
) -> Result<Value, serde_json::Error> {
    match (event_type, version) {
        ("risk.assessed", 1) => risk_assessed_v1_to_v2(data),
        _ => Err(serde_json::Error::custom(format!(
            "no upcaster from {event_type} v{version}"
        ))),
    }
}

fn risk_assessed_v1_to_v2(data: &Value) -> Result<Value, serde_json::Error> {
    let v1: RiskAssessedV1 = serde_json::from_value(data.clone())?;
    let matrix = MatrixDefined::default_5x5();
    for (field, value) in [("likelihood", v1.likelihood), ("impact", v1.impact)] {
        if !(1..=5).contains(&value) {
            return Err(serde_json::Error::custom(format!(
                "{field} {value} is outside 1..=5"
            )));
        }
    }
    let (score, rating) = matrix.rate(v1.likelihood, v1.impact);
    let id = RecordId::new(LEGACY_MATRIX_ID).expect("valid id");
    let v2 = RiskAssessed {
        likelihood: v1.likelihood,
        impact: v1.impact,
        score,
        rating,
        matrix: MatrixRef { id, version: 1 },
        rationale: v1.rationale,
    };
    serde_json::to_value(v2)
}
