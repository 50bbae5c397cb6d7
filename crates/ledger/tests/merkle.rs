//! The Merkle tree against the public RFC 6962 vectors, the ledger-v1 vectors, and exhaustive
//! and random checks of proof generation and verification.

use custodia_ledger::merkle::{
    consistency_nodes, consistency_proof_from, empty_root, inclusion_nodes, inclusion_proof_from,
    leaf_hash, root_from, root_nodes, verify_consistency, verify_inclusion, ConsistencyProof,
    Frontier, Hash, HexHash, InclusionProof, MemoryTree, MerkleError, NodeId,
};
use proptest::prelude::*;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors");

fn read(path: &str) -> String {
    let full = format!("{VECTORS}/{path}");
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

fn h(hex: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).expect("64 hex characters");
    out
}

fn hs(hexes: &[String]) -> Vec<Hash> {
    hexes.iter().map(|s| h(s)).collect()
}

#[derive(Deserialize)]
struct RfcVectors {
    leaves_hex: Vec<String>,
    roots_hex: BTreeMap<u64, String>,
    inclusion: Vec<RfcInclusion>,
    consistency: Vec<RfcConsistency>,
}

#[derive(Deserialize)]
struct RfcInclusion {
    leaf_index: u64,
    tree_size: u64,
    hashes: Vec<String>,
}

#[derive(Deserialize)]
struct RfcConsistency {
    size1: u64,
    size2: u64,
    hashes: Vec<String>,
}

fn rfc() -> (RfcVectors, MemoryTree) {
    let v: RfcVectors = serde_json::from_str(&read("rfc6962-sha256.json")).expect("vector JSON");
    let mut tree = MemoryTree::new();
    for leaf in &v.leaves_hex {
        tree.push(&hex::decode(leaf).expect("hex leaf"));
    }
    (v, tree)
}

/// A lookup that answers only the nodes in `allowed`, so a test proves that the `*_nodes`
/// functions name everything the `*_from` functions read.
fn restricted(tree: &MemoryTree, allowed: Vec<NodeId>) -> impl Fn(NodeId) -> Option<Hash> + '_ {
    move |id| allowed.contains(&id).then(|| tree.lookup(id)).flatten()
}

#[test]
fn rfc6962_roots_for_every_size_0_to_8() {
    let (v, tree) = rfc();
    assert_eq!(v.roots_hex.len(), 9);
    for (&size, hex) in &v.roots_hex {
        assert_eq!(
            tree.root(size).unwrap(),
            h(hex),
            "MemoryTree root of {size}"
        );
        let via_nodes = root_from(size, restricted(&tree, root_nodes(size))).unwrap();
        assert_eq!(via_nodes, h(hex), "root_from of {size}");
    }
    assert_eq!(tree.root(0).unwrap(), empty_root());
}

#[test]
fn rfc6962_every_inclusion_proof_reproduced_and_verified() {
    let (v, tree) = rfc();
    assert_eq!(v.inclusion.len(), 36, "every (index, size) up to 8");
    for p in &v.inclusion {
        let (i, n) = (p.leaf_index, p.tree_size);
        let want = hs(&p.hashes);
        assert_eq!(
            tree.inclusion_proof(i, n).unwrap(),
            want,
            "MemoryTree ({i}, {n})"
        );
        let nodes = inclusion_nodes(i, n).unwrap();
        let got = inclusion_proof_from(i, n, restricted(&tree, nodes)).unwrap();
        assert_eq!(got, want, "inclusion_proof_from ({i}, {n})");
        let leaf = leaf_hash(&hex::decode(&v.leaves_hex[i as usize]).unwrap());
        let root = h(&v.roots_hex[&n]);
        verify_inclusion(&leaf, i, n, &want, &root).unwrap();
    }
}

#[test]
fn rfc6962_every_consistency_proof_reproduced_and_verified() {
    let (v, tree) = rfc();
    assert_eq!(v.consistency.len(), 36, "every (size1, size2) up to 8");
    for p in &v.consistency {
        let (m, n) = (p.size1, p.size2);
        let want = hs(&p.hashes);
        assert_eq!(
            tree.consistency_proof(m, n).unwrap(),
            want,
            "MemoryTree ({m}, {n})"
        );
        let nodes = consistency_nodes(m, n).unwrap();
        let got = consistency_proof_from(m, n, restricted(&tree, nodes)).unwrap();
        assert_eq!(got, want, "consistency_proof_from ({m}, {n})");
        let (rm, rn) = (h(&v.roots_hex[&m]), h(&v.roots_hex[&n]));
        verify_consistency(m, n, &want, &rm, &rn).unwrap();
    }
}

#[derive(Deserialize)]
struct Details {
    tree_roots_hex: BTreeMap<u64, String>,
    inclusion_seq2_size5_hex: Vec<String>,
    consistency_3_to_5_hex: Vec<String>,
}

#[derive(Deserialize)]
struct Entry {
    hash: String,
}

fn ledger_v1() -> (Details, Vec<Hash>, MemoryTree) {
    let d: Details = serde_json::from_str(&read("ledger-v1/details.json")).expect("details");
    let hashes: Vec<Hash> = read("ledger-v1/entries.jsonl")
        .lines()
        .map(|line| h(&serde_json::from_str::<Entry>(line).expect("entry").hash))
        .collect();
    let mut tree = MemoryTree::new();
    for e in &hashes {
        tree.push(e);
    }
    (d, hashes, tree)
}

#[test]
fn ledger_v1_roots_and_proofs_from_entry_hashes() {
    let (d, hashes, tree) = ledger_v1();
    assert_eq!(hashes.len(), 5);
    assert_eq!(d.tree_roots_hex.len(), 6);
    for (&size, hex) in &d.tree_roots_hex {
        assert_eq!(tree.root(size).unwrap(), h(hex), "root of {size}");
    }
    let inclusion = hs(&d.inclusion_seq2_size5_hex);
    assert_eq!(tree.inclusion_proof(2, 5).unwrap(), inclusion);
    let root5 = h(&d.tree_roots_hex[&5]);
    verify_inclusion(&leaf_hash(&hashes[2]), 2, 5, &inclusion, &root5).unwrap();

    let consistency = hs(&d.consistency_3_to_5_hex);
    assert_eq!(tree.consistency_proof(3, 5).unwrap(), consistency);
    let root3 = h(&d.tree_roots_hex[&3]);
    verify_consistency(3, 5, &consistency, &root3, &root5).unwrap();
}

#[test]
fn ledger_v1_frontier_matches_roots() {
    let (d, hashes, _) = ledger_v1();
    let mut f = Frontier::new();
    assert_eq!(f.root(), h(&d.tree_roots_hex[&0]));
    for (i, e) in hashes.iter().enumerate() {
        f.push(*e);
        assert_eq!(f.root(), h(&d.tree_roots_hex[&(i as u64 + 1)]));
    }
}

#[test]
fn proof_json_is_lowercase_hex_and_round_trips() {
    let (d, hashes, tree) = ledger_v1();
    let proof = InclusionProof::new(2, 5, tree.inclusion_proof(2, 5).unwrap());
    let json = serde_json::to_string(&proof).unwrap();
    let want = format!(
        r#"{{"leaf_index":2,"tree_size":5,"hashes":["{}"]}}"#,
        d.inclusion_seq2_size5_hex.join(r#"",""#)
    );
    assert_eq!(json, want);
    let back: InclusionProof = serde_json::from_str(&json).unwrap();
    assert_eq!(back, proof);
    let root5 = h(&d.tree_roots_hex[&5]);
    back.verify(&leaf_hash(&hashes[2]), &root5).unwrap();

    let c = ConsistencyProof::new(3, 5, tree.consistency_proof(3, 5).unwrap());
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.starts_with(r#"{"first":3,"second":5,"hashes":["4a56bd74"#),
        "{json}"
    );
    let back: ConsistencyProof = serde_json::from_str(&json).unwrap();
    back.verify(&h(&d.tree_roots_hex[&3]), &root5).unwrap();
}

#[test]
fn proof_json_rejects_non_canonical_hashes() {
    let upper = format!(
        r#"{{"leaf_index":0,"tree_size":1,"hashes":["{}"]}}"#,
        "AB".repeat(32)
    );
    assert!(serde_json::from_str::<InclusionProof>(&upper).is_err());
    let short = r#"{"leaf_index":0,"tree_size":1,"hashes":["abcd"]}"#;
    assert!(serde_json::from_str::<InclusionProof>(short).is_err());
    let extra = r#"{"leaf_index":0,"tree_size":1,"hashes":[],"x":1}"#;
    assert!(serde_json::from_str::<InclusionProof>(extra).is_err());
    assert!("zz".repeat(32).parse::<HexHash>().is_err());
    assert!("ab".repeat(32).parse::<HexHash>().is_ok());
}

fn tree_of(n: u64, seed: u8) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        let mut data = [seed; 32];
        data[..8].copy_from_slice(&i.to_be_bytes());
        t.push(&data);
    }
    t
}

/// Recomputes the RFC 9162 MTH from the definition, to cross-check the node arithmetic.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let (l, r) = leaves.split_at(k);
            custodia_ledger::merkle::node_hash(&reference_root(l), &reference_root(r))
        }
    }
}

#[test]
fn roots_match_the_recursive_definition_up_to_300() {
    let t = tree_of(300, 7);
    let leaves: Vec<Hash> = (0..300)
        .map(|i| t.lookup(NodeId::new(0, i)).unwrap())
        .collect();
    for n in 0..=300u64 {
        assert_eq!(
            t.root(n).unwrap(),
            reference_root(&leaves[..n as usize]),
            "size {n}"
        );
    }
}

#[test]
fn every_inclusion_proof_up_to_300_verifies_and_rejects_tampering() {
    let t = tree_of(300, 1);
    for n in 1..=300u64 {
        let root = t.root(n).unwrap();
        let wrong_root = t.root(n - 1).unwrap();
        for i in 0..n {
            let leaf = t.lookup(NodeId::new(0, i)).unwrap();
            let proof = t.inclusion_proof(i, n).unwrap();
            let via_nodes =
                inclusion_proof_from(i, n, restricted(&t, inclusion_nodes(i, n).unwrap()));
            assert_eq!(via_nodes.unwrap(), proof, "({i}, {n})");
            verify_inclusion(&leaf, i, n, &proof, &root).unwrap();
            assert!(verify_inclusion(&leaf, i, n, &proof, &wrong_root).is_err());
            if n > 1 {
                let other = (i + 1) % n;
                assert!(
                    verify_inclusion(&leaf, other, n, &proof, &root).is_err(),
                    "({i}, {n})"
                );
            }
            if let Some(first) = proof.first() {
                let mut bad = proof.clone();
                let byte = (i as usize) % 32;
                bad[0][byte] ^= 0x01;
                assert_ne!(bad[0], *first);
                assert!(verify_inclusion(&leaf, i, n, &bad, &root).is_err());
                let mut longer = proof.clone();
                longer.push(root);
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &longer, &root),
                    Err(MerkleError::InclusionProofLength { .. })
                ));
            }
        }
    }
}

#[test]
fn every_consistency_proof_up_to_300_verifies_and_rejects_tampering() {
    let t = tree_of(300, 2);
    let roots: Vec<Hash> = (0..=300).map(|n| t.root(n).unwrap()).collect();
    for n in 0..=300u64 {
        for m in 0..=n {
            let proof = t.consistency_proof(m, n).unwrap();
            let nodes = consistency_nodes(m, n).unwrap();
            assert_eq!(
                consistency_proof_from(m, n, restricted(&t, nodes)).unwrap(),
                proof
            );
            let (rm, rn) = (roots[m as usize], roots[n as usize]);
            verify_consistency(m, n, &proof, &rm, &rn).unwrap();
            if m > 0 && m < n {
                let wrong = roots[(m - 1) as usize];
                assert!(
                    verify_consistency(m, n, &proof, &wrong, &rn).is_err(),
                    "({m}, {n})"
                );
                assert!(
                    verify_consistency(m, n, &proof, &rm, &wrong).is_err(),
                    "({m}, {n})"
                );
                for k in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[k][(m as usize + k) % 32] ^= 0x80;
                    assert!(
                        verify_consistency(m, n, &bad, &rm, &rn).is_err(),
                        "({m}, {n}) #{k}"
                    );
                }
                if m + 1 < n {
                    let rm1 = roots[(m + 1) as usize];
                    assert!(verify_consistency(m + 1, n, &proof, &rm1, &rn).is_err());
                }
            }
        }
    }
}

#[test]
fn verification_rejects_impossible_arguments() {
    let t = tree_of(8, 3);
    let r = |n| t.root(n).unwrap();
    let leaf = t.lookup(NodeId::new(0, 0)).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 5, 5, &[], &r(5)).unwrap_err(),
        MerkleError::IndexOutOfRange { index: 5, size: 5 }
    );
    assert_eq!(
        verify_inclusion(&leaf, 7, 5, &[], &r(5))
            .unwrap_err()
            .to_string(),
        "inclusion proof for leaf 7 in tree of 5: index out of range"
    );
    assert!(verify_inclusion(&leaf, 0, 0, &[], &empty_root()).is_err());
    assert_eq!(
        verify_consistency(5, 3, &[], &r(5), &r(3)).unwrap_err(),
        MerkleError::SizesOutOfOrder {
            first: 5,
            second: 3
        }
    );
    // m == 0: only an empty proof from the empty root.
    verify_consistency(0, 5, &[], &empty_root(), &r(5)).unwrap();
    assert!(verify_consistency(0, 5, &[r(5)], &empty_root(), &r(5)).is_err());
    assert!(verify_consistency(0, 5, &[], &r(1), &r(5)).is_err());
    // m == n: an empty proof and equal roots.
    verify_consistency(5, 5, &[], &r(5), &r(5)).unwrap();
    assert!(verify_consistency(5, 5, &[r(5)], &r(5), &r(5)).is_err());
    assert!(verify_consistency(5, 5, &[], &r(4), &r(5)).is_err());
    // 0 < m < n: an empty proof never suffices.
    assert!(matches!(
        verify_consistency(3, 5, &[], &r(3), &r(5)),
        Err(MerkleError::ConsistencyProofLength {
            expected: 4,
            got: 0,
            ..
        })
    ));
    assert!(matches!(
        inclusion_nodes(3, 3),
        Err(MerkleError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        consistency_nodes(4, 3),
        Err(MerkleError::SizesOutOfOrder { .. })
    ));
    assert!(matches!(
        t.root(9),
        Err(MerkleError::TreeTooSmall {
            requested: 9,
            available: 8
        })
    ));
}

#[test]
fn a_missing_node_is_an_error_naming_it() {
    let t = tree_of(5, 4);
    let err = root_from(5, |id| (id.level != 0).then(|| t.lookup(id)).flatten()).unwrap_err();
    assert_eq!(
        err,
        MerkleError::MissingNode {
            node: NodeId::new(0, 4)
        }
    );
    assert!(inclusion_proof_from(0, 5, |_| None).is_err());
    assert!(consistency_proof_from(3, 5, |_| None).is_err());
    assert!(Frontier::from_nodes(5, |_| None).is_err());
}

#[test]
fn frontier_push_returns_exactly_the_perfect_nodes_memory_tree_stores() {
    let t = tree_of(300, 5);
    let mut f = Frontier::new();
    let mut seen: HashMap<NodeId, Hash> = HashMap::new();
    for i in 0..300u64 {
        let leaf = t.lookup(NodeId::new(0, i)).unwrap();
        let completed = f.try_push_leaf_hash(leaf).unwrap();
        // The leaf, then one parent per trailing one bit of the old size.
        assert_eq!(completed.len() as u32, 1 + i.trailing_ones());
        for (id, hash) in completed {
            assert_eq!(t.lookup(id), Some(hash), "{id:?}");
            assert!(seen.insert(id, hash).is_none(), "{id:?} completed twice");
        }
        assert_eq!(f.size(), i + 1);
        assert_eq!(f.root(), t.root(i + 1).unwrap());
    }
    // Every perfect node of the tree was reported exactly once.
    let total: usize = (0..9u8)
        .map(|l| {
            (0..)
                .take_while(|&j| t.lookup(NodeId::new(l, j)).is_some())
                .count()
        })
        .sum();
    assert_eq!(seen.len(), total);
}

#[test]
fn frontier_push_hashes_the_leaf_data() {
    let mut f = Frontier::new();
    let data = [9u8; 32];
    let completed = f.push(data);
    assert_eq!(completed, vec![(NodeId::new(0, 0), leaf_hash(&data))]);
}

#[test]
fn frontier_resumes_from_stored_nodes() {
    let t = tree_of(300, 6);
    for size in 0..=300u64 {
        let mut resumed = Frontier::from_nodes(size, restricted(&t, root_nodes(size))).unwrap();
        assert_eq!(resumed.size(), size);
        assert_eq!(resumed.root(), t.root(size).unwrap());
        let mut fresh = Frontier::new();
        for i in 0..size {
            fresh
                .try_push_leaf_hash(t.lookup(NodeId::new(0, i)).unwrap())
                .unwrap();
        }
        assert_eq!(resumed, fresh, "size {size}");
        if size < 300 {
            let next = t.lookup(NodeId::new(0, size)).unwrap();
            resumed.try_push_leaf_hash(next).unwrap();
            assert_eq!(resumed.root(), t.root(size + 1).unwrap());
        }
    }
}

fn ceil_log2(n: u64) -> u32 {
    64 - (n - 1).leading_zeros()
}

#[test]
fn proofs_need_logarithmically_many_nodes() {
    let mut sizes: Vec<u64> = (1..=1100).collect();
    for e in 11..=20 {
        let p = 1u64 << e;
        sizes.extend([p - 1, p, p + 1, p + p / 2 + 3, (p << 1) - 1]);
    }
    sizes.extend([u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) + 1]);
    for n in sizes {
        let bound = 2 * ceil_log2(n.max(2)) as usize + 2;
        let probes = [0, n / 3, n / 2, n - 1, n.saturating_sub(2), (n / 7) * 5];
        for i in probes {
            let nodes = inclusion_nodes(i, n).unwrap();
            assert!(
                nodes.len() <= bound,
                "inclusion ({i}, {n}): {} > {bound}",
                nodes.len()
            );
            let c = consistency_nodes(i + 1, n).unwrap();
            assert!(
                c.len() <= bound + 1,
                "consistency ({}, {n}): {}",
                i + 1,
                c.len()
            );
        }
        assert_eq!(root_nodes(n).len() as u32, n.count_ones());
    }
}

#[test]
fn huge_sizes_do_not_overflow() {
    // Proof shapes at the extremes of u64; a constant lookup stands in for storage.
    let any = |_| Some([1u8; 32]);
    for (i, n, len) in [
        (0, u64::MAX, 64),
        (u64::MAX - 1, u64::MAX, 63),
        (1 << 63, u64::MAX, 64),
    ] {
        let proof = inclusion_proof_from(i, n, any).unwrap();
        assert_eq!(proof.len(), len, "({i}, {n})");
    }
    consistency_proof_from(u64::MAX - 1, u64::MAX, any).unwrap();
    let mut f = Frontier::from_nodes(u64::MAX, any).unwrap();
    assert!(matches!(
        f.try_push_leaf_hash([0; 32]),
        Err(MerkleError::TreeFull { size: u64::MAX })
    ));
    assert!(f.push([0; 32]).is_empty(), "a full tree appends nothing");
    assert_eq!(f.size(), u64::MAX);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_trees_prove_and_refuse(
        leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..120),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let mut t = MemoryTree::new();
        for l in &leaves {
            t.push(l);
        }
        let n = leaves.len() as u64;
        let i = a.index(leaves.len()) as u64;
        let m = b.index(leaves.len() + 1) as u64;
        let root = t.root(n).unwrap();

        let proof = t.inclusion_proof(i, n).unwrap();
        let leaf = leaf_hash(&leaves[i as usize]);
        prop_assert!(verify_inclusion(&leaf, i, n, &proof, &root).is_ok());
        let mut bad_root = root;
        bad_root[0] ^= 1;
        prop_assert!(verify_inclusion(&leaf, i, n, &proof, &bad_root).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = flip.0.index(proof.len());
            bad[k][usize::from(flip.1) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_inclusion(&leaf, i, n, &bad, &root).is_err());
        }

        let c = t.consistency_proof(m, n).unwrap();
        let rm = t.root(m).unwrap();
        prop_assert!(verify_consistency(m, n, &c, &rm, &root).is_ok());
        // From the empty tree there is nothing to check against the newer root.
        if m > 0 {
            prop_assert!(verify_consistency(m, n, &c, &rm, &bad_root).is_err());
        }
        if !c.is_empty() {
            let mut bad = c.clone();
            let k = flip.0.index(c.len());
            bad[k][usize::from(flip.1) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_consistency(m, n, &bad, &rm, &root).is_err());
        }
    }
}
