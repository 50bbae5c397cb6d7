//! Sealing a management review's inputs, and proving later that the pack is unchanged.
//!
//! `review.inputs_sealed` records the tree size the pack was assembled at, the Merkle root
//! over that many entries, and the pack's digest. Anyone holding the ledger can regenerate
//! the pack as of that tree size ([`reproduce`]) and compare digests ([`check`]), however
//! much the ledger has grown since.

use crate::error::{Error, Result};
use crate::projector::Projector;
use crate::review::{Period, ReviewPack};
use custodia_domain::{
    decide, evolve, Actor, Command, Digest, Envelope, NoFacts, RecordId, ReviewCommand,
    ReviewInputsSealed, Role, StreamId, StreamKind, StreamState, Timestamp,
};
use custodia_ledger::ledger::Ledger;
use custodia_ledger::writer::{AppendRequest, Expect, Receipt};

/// What sealing wrote.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The pack management will see.
    pub pack: ReviewPack,
    /// Its digest (SHA-256 hex of its canonical JSON).
    pub digest: String,
    /// Tree size the pack reflects.
    pub tree_size: u64,
    /// Merkle root (hex) over that many entries.
    pub root: String,
    /// The receipt of the `review.inputs_sealed` entry.
    pub receipt: Receipt,
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealCheck {
    /// The digest recorded in the ledger.
    pub recorded_digest: String,
    /// The digest of the pack regenerated now.
    pub regenerated_digest: String,
    /// Whether the recorded root is the ledger's root at the recorded tree size.
    pub root_matches: bool,
}

impl SealCheck {
    /// Digest and root both match.
    pub fn holds(&self) -> bool {
        self.root_matches && self.recorded_digest == self.regenerated_digest
    }
}

/// Assembles review `review`'s pack from everything folded so far, and appends
/// `review.inputs_sealed` by `actor` at `at`, after the domain's rules for sealing.
pub async fn seal(
    ledger: &Ledger,
    projector: &mut Projector,
    review: &RecordId,
    actor: &Actor,
    at: Timestamp,
) -> Result<Sealed> {
    projector.catch_up().await?;
    let model = projector.current();
    let period = period_of(projector, review)?;
    let pack = ReviewPack::assemble(model, period);
    let digest = pack.digest()?;
    let tree_size = model.position().size;
    let root = hex::encode(ledger.root(tree_size).await?);
    let payload = ReviewInputsSealed {
        tree_size,
        root: Digest::new(root.clone()).map_err(|e| Error::Pack(e.to_string()))?,
        pack_digest: Digest::new(digest.clone()).map_err(|e| Error::Pack(e.to_string()))?,
    };
    let envelope = decided(ledger, projector, review, actor, at, payload).await?;
    let event = custodia_ledger::entry::Event::from_value(&envelope.to_json())?;
    let receipt = ledger
        .append(AppendRequest {
            event,
            attestation: None,
            expect: Expect::Exact,
        })
        .await?;
    tracing::info!(review = %review, tree_size, digest = %digest, "projections: review inputs sealed");
    Ok(Sealed {
        pack,
        digest,
        tree_size,
        root,
        receipt,
    })
}

/// Runs the domain's decision for the seal against the review stream as stored.
async fn decided(
    ledger: &Ledger,
    projector: &Projector,
    review: &RecordId,
    actor: &Actor,
    at: Timestamp,
    payload: ReviewInputsSealed,
) -> Result<Envelope> {
    let stream = StreamId::new(StreamKind::Review, review.clone());
    let mut state = StreamState::default();
    for entry in ledger.stream(&stream.to_string()).await? {
        state = evolve(state, &Envelope::from_json(&entry.event.to_value())?);
    }
    let roles = roles_of(projector, actor);
    let ctx = custodia_domain::Context::new(at, actor, &roles, &NoFacts);
    let command = Command::Review(review.clone(), ReviewCommand::SealInputs(payload));
    let event = decide(&state, command, &ctx)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound("the domain decided no event".into()))?;
    Ok(Envelope {
        stream,
        version: state.version() + 1,
        occurred_at: at,
        actor: actor.clone(),
        event,
    })
}

fn roles_of(projector: &Projector, actor: &Actor) -> Vec<Role> {
    let held = |r: &crate::rows::RoleRow| r.holders.iter().any(|(p, _)| p == actor);
    projector
        .current()
        .roles
        .values()
        .filter(|r| held(r))
        .filter_map(|r| Role::new(r.meta.id.as_str()).ok())
        .collect()
}

fn period_of(projector: &Projector, review: &RecordId) -> Result<Period> {
    let row = projector
        .current()
        .reviews
        .get(review.as_str())
        .ok_or_else(|| Error::NotFound(format!("review {review} is not scheduled")))?;
    Ok(Period {
        start: row.period_start,
        end: row.period_end,
    })
}

/// Regenerates the pack of a sealed review as of the tree size its seal recorded.
pub async fn reproduce(projector: &Projector, review: &RecordId) -> Result<ReviewPack> {
    let (tree_size, _, _) = sealed_of(projector, review)?;
    let period = period_of(projector, review)?;
    let model = projector.as_of_size(tree_size).await?;
    Ok(ReviewPack::assemble(&model, period))
}

/// Checks a sealed review: regenerates its pack and compares digests, and compares the
/// recorded root with the ledger's.
pub async fn check(ledger: &Ledger, projector: &Projector, review: &RecordId) -> Result<SealCheck> {
    let (tree_size, root, recorded_digest) = sealed_of(projector, review)?;
    let regenerated_digest = reproduce(projector, review).await?.digest()?;
    let root_matches = hex::encode(ledger.root(tree_size).await?) == root;
    Ok(SealCheck {
        recorded_digest,
        regenerated_digest,
        root_matches,
    })
}

fn sealed_of(projector: &Projector, review: &RecordId) -> Result<(u64, String, String)> {
    projector
        .current()
        .reviews
        .get(review.as_str())
        .and_then(|r| r.sealed.clone())
        .ok_or_else(|| Error::NotFound(format!("review {review} has no sealed inputs")))
}
