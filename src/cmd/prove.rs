//! `custodia prove inclusion|consistency`: RFC 9162 proofs as JSON, hashes in lowercase hex.

use crate::cli::DataDir;
use crate::exit::{self, bad_input};
use crate::text::hex;
use anyhow::Context as _;
use custodia_ledger::keys::SecretKey;
use custodia_ledger::ledger::Ledger;
use custodia_ledger::merkle::{self, ConsistencyProof, InclusionProof};
use custodia_ledger::writer::WriterConfig;

/// Opens the ledger for reading proofs. `Ledger` always starts a writer and so wants a sealing
/// key; proofs never append, so a throwaway key stands in and the node key file is not needed
/// (an auditor with only the database can prove).
async fn open_for_proofs(data: &DataDir) -> anyhow::Result<Ledger> {
    let store = super::open_store(data).await?;
    Ledger::open_store(
        store.into_arc(),
        SecretKey::generate(),
        WriterConfig::default(),
    )
    .await
    .with_context(|| format!("opening the ledger in {}", data.display()))
}

/// `size`, or the whole ledger; refuses a size beyond the ledger.
fn tree_size(asked: Option<u64>, head: u64, what: &str) -> anyhow::Result<u64> {
    let size = asked.unwrap_or(head);
    if size > head {
        return Err(bad_input(format!(
            "{what} {size} is beyond the ledger's {head} entries"
        )));
    }
    Ok(size)
}

pub(crate) async fn inclusion(dir: &DataDir, seq: u64, size: Option<u64>) -> anyhow::Result<u8> {
    let ledger = open_for_proofs(dir).await?;
    let head = ledger.size().await?;
    let size = tree_size(size, head, "--size")?;
    if seq >= size {
        return Err(bad_input(format!(
            "--seq {seq} is not in a tree of {size} entries (seqs run from 0 to {})",
            size.saturating_sub(1)
        )));
    }
    let entry = ledger
        .entry(seq)
        .await?
        .ok_or_else(|| anyhow::anyhow!("seq {seq} is missing from the store"))?;
    let hashes = ledger.inclusion_proof(seq, size).await?;
    let root = ledger.root(size).await?;
    let proof = InclusionProof::new(seq, size, hashes);
    // Check before printing: a proof from damaged stored nodes must not leave this tool.
    proof
        .verify(&merkle::leaf_hash(&entry.hash.0), &root)
        .context("the stored tree does not prove this entry; run `custodia verify`")?;
    let out = serde_json::json!({
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "hashes": proof.hashes,
        "entry_hash": entry.hash.to_hex(),
        "root": hex(&root),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(exit::OK)
}

pub(crate) async fn consistency(dir: &DataDir, from: u64, to: Option<u64>) -> anyhow::Result<u8> {
    let ledger = open_for_proofs(dir).await?;
    let head = ledger.size().await?;
    let to = tree_size(to, head, "--to")?;
    if from > to {
        return Err(bad_input(format!(
            "--from {from} is larger than --to {to}: a tree can only be consistent with a larger one"
        )));
    }
    let hashes = ledger.consistency_proof(from, to).await?;
    let (root_from, root_to) = (ledger.root(from).await?, ledger.root(to).await?);
    let proof = ConsistencyProof::new(from, to, hashes);
    proof
        .verify(&root_from, &root_to)
        .context("the stored tree is not consistent; run `custodia verify`")?;
    let out = serde_json::json!({
        "first": proof.first,
        "second": proof.second,
        "hashes": proof.hashes,
        "first_root": hex(&root_from),
        "second_root": hex(&root_to),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(exit::OK)
}
