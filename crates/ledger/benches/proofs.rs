//! Proof generation and verification at 1,000,000 leaves, from a `MemoryTree` lookup.
//!
//! Run with `cargo bench -p custodia-ledger --bench proofs`. Generation reads perfect-subtree
//! hashes through the same lookup closure the SQLite store uses, so the figures bound the CPU
//! part of serving a proof; storage reads come on top.

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use custodia_ledger::merkle::{
    consistency_nodes, consistency_proof_from, inclusion_nodes, inclusion_proof_from, root_from,
    verify_consistency, verify_inclusion, Hash, MemoryTree, NodeId,
};
use sha2::{Digest, Sha256};

const LEAVES: u64 = 1_000_000;

/// Spread-out probe positions, so no single path stays hot in cache.
fn probes(count: u64, below: u64) -> Vec<u64> {
    (0..count)
        .map(|i| (i * 7_919_993 + 12_345) % below)
        .collect()
}

fn tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..LEAVES {
        let entry: Hash = Sha256::digest(i.to_be_bytes()).into();
        t.push(&entry);
    }
    t
}

fn bench(c: &mut Criterion) {
    let t = tree();
    let lookup = |id: NodeId| t.lookup(id);
    let root = root_from(LEAVES, lookup).expect("root");
    let indices = probes(1024, LEAVES);
    let olds: Vec<u64> = probes(1024, LEAVES - 1)
        .into_iter()
        .map(|m| m + 1)
        .collect();
    let old_roots: Vec<Hash> = olds.iter().map(|&m| t.root(m).expect("root")).collect();

    let mut g = c.benchmark_group("merkle_1m_leaves");
    let mut k = 0usize;
    g.bench_function("inclusion_nodes", |b| {
        b.iter(|| {
            k = (k + 1) % indices.len();
            black_box(inclusion_nodes(indices[k], LEAVES).expect("nodes"))
        })
    });
    g.bench_function("inclusion_proof_from", |b| {
        b.iter(|| {
            k = (k + 1) % indices.len();
            black_box(inclusion_proof_from(indices[k], LEAVES, lookup).expect("proof"))
        })
    });
    let proofs: Vec<Vec<Hash>> = indices
        .iter()
        .map(|&i| t.inclusion_proof(i, LEAVES).expect("proof"))
        .collect();
    let leaves: Vec<Hash> = indices
        .iter()
        .map(|&i| t.lookup(NodeId::new(0, i)).expect("leaf"))
        .collect();
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| {
            k = (k + 1) % indices.len();
            verify_inclusion(&leaves[k], indices[k], LEAVES, &proofs[k], &root).expect("valid")
        })
    });
    g.bench_function("consistency_nodes", |b| {
        b.iter(|| {
            k = (k + 1) % olds.len();
            black_box(consistency_nodes(olds[k], LEAVES).expect("nodes"))
        })
    });
    g.bench_function("consistency_proof_from", |b| {
        b.iter(|| {
            k = (k + 1) % olds.len();
            black_box(consistency_proof_from(olds[k], LEAVES, lookup).expect("proof"))
        })
    });
    let cproofs: Vec<Vec<Hash>> = olds
        .iter()
        .map(|&m| t.consistency_proof(m, LEAVES).expect("proof"))
        .collect();
    g.bench_function("verify_consistency", |b| {
        b.iter(|| {
            k = (k + 1) % olds.len();
            verify_consistency(olds[k], LEAVES, &cproofs[k], &old_roots[k], &root).expect("valid")
        })
    });
    g.bench_function("root_from", |b| {
        b.iter(|| black_box(root_from(LEAVES, lookup).expect("root")))
    });
    g.finish();
}

/// The criterion group; its macro makes an undocumented `pub fn`, hence the allowances.
#[allow(missing_docs, unreachable_pub)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
