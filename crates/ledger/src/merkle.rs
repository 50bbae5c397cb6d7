//! The ledger's Merkle tree: RFC 9162 §2.1 over SHA-256 (LEDGER-FORMAT.md §6).
//!
//! The ledger never keeps a whole tree in memory. It stores *perfect subtree* hashes only: a
//! [`NodeId`] names the hash of the perfect subtree over leaves
//! `[index·2^level, (index+1)·2^level)`, level 0 being the leaf hash. Every subtree that the
//! RFC 9162 recursion visits is aligned, so it splits into perfect subtrees (largest first) whose
//! hashes fold right-to-left into the subtree hash. Roots and proofs for any size therefore need
//! O(log n) stored nodes and no rebuilding.
//!
//! Each computation comes in two halves, so that storage can fetch what it needs in one query:
//! - [`root_nodes`], [`inclusion_nodes`], [`consistency_nodes`] say which nodes are needed;
//! - [`root_from`], [`inclusion_proof_from`], [`consistency_proof_from`] compute from a lookup.
//!
//! [`Frontier`] is the right edge of the tree (at most 64 hashes) for the append path and for
//! streaming verification in bounded memory; [`MemoryTree`] keeps every perfect node in memory
//! for tests and for verifying export bundles. [`verify_inclusion`] and [`verify_consistency`]
//! are the RFC 9162 §2.1.3.2 and §2.1.4.2 verification algorithms.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// Results of this module.
pub type Result<T, E = MerkleError> = std::result::Result<T, E>;

/// Why a tree computation or a proof verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index of an inclusion proof is not inside the tree.
    #[error("inclusion proof for leaf {index} in tree of {size}: index out of range")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// The first size of a consistency proof exceeds the second.
    #[error("consistency proof from {first} to {second}: first size exceeds second")]
    SizesOutOfOrder {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
    },
    /// A perfect-subtree hash that the computation needs was not available from the lookup.
    #[error("perfect subtree node (level {}, index {}) is not available", .node.level, .node.index)]
    MissingNode {
        /// The node that the lookup did not return.
        node: NodeId,
    },
    /// An inclusion proof has the wrong number of hashes for its index and tree size.
    #[error(
        "inclusion proof for leaf {index} in tree of {size}: {got} hashes, expected {expected}"
    )]
    InclusionProofLength {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
        /// Hashes in the proof.
        got: usize,
        /// Hashes RFC 9162 prescribes for this index and size.
        expected: usize,
    },
    /// An inclusion proof does not lead from the leaf to the expected root.
    #[error("inclusion proof for leaf {index} in tree of {size}: computed root does not match")]
    InclusionRootMismatch {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof has the wrong number of hashes for its two sizes.
    #[error("consistency proof from {first} to {second}: {got} hashes, expected {expected}")]
    ConsistencyProofLength {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
        /// Hashes in the proof.
        got: usize,
        /// Hashes RFC 9162 prescribes for these sizes.
        expected: usize,
    },
    /// A consistency proof does not reproduce one of the two roots.
    #[error(
        "consistency proof from {first} to {second}: computed root of the tree of {tree_size} \
         does not match"
    )]
    ConsistencyRootMismatch {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
        /// Which of the two trees (`first` or `second`) did not match.
        tree_size: u64,
    },
    /// A [`MemoryTree`] was asked about a tree larger than the leaves it holds.
    #[error("tree of {requested} leaves requested, but only {available} are stored")]
    TreeTooSmall {
        /// The tree size asked for.
        requested: u64,
        /// The leaves stored.
        available: u64,
    },
    /// A tree cannot grow beyond `u64::MAX` leaves.
    #[error("tree of {size} leaves is full")]
    TreeFull {
        /// The size of the full tree.
        size: u64,
    },
}

/// The hash of an empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf: SHA-256(0x00 || data). In the ledger, `data` is an entry's 32-byte hash.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A map keyed by tree node, hashed cheaply: a verifier puts every node of the ledger through
/// one, and the ids are positions it computed, not input anyone chose.
pub type NodeMap<V> =
    std::collections::HashMap<NodeId, V, std::hash::BuildHasherDefault<NodeHasher>>;

/// The hasher of [`NodeMap`]: level and index mixed by one multiplication.
#[derive(Default)]
pub struct NodeHasher(u64);

impl std::hash::Hasher for NodeHasher {
    fn finish(&self) -> u64 {
        // The high bits of the product are the well-mixed ones; hashbrown reads the top 7 too.
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.0 = (self.0 ^ u64::from(n)).rotate_left(58);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// A perfect subtree: the `2^level` leaves starting at leaf `index · 2^level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId {
    /// Height of the subtree; 0 is a single leaf.
    pub level: u8,
    /// Position among the subtrees of this level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level` and `index`.
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }
}

/// The perfect subtrees that make up leaves `[start, end)`, largest first.
///
/// Each piece is as large as both the alignment of its start and the leaves left allow. For the
/// ranges of the RFC 9162 recursion this is exactly the binary decomposition of `end - start`.
fn pieces(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let left = end - pos;
        let fits = 63 - left.leading_zeros();
        let level = pos.trailing_zeros().min(fits);
        // `level` ≤ 63, so it fits both the shift and the u8.
        out.push(NodeId::new(level as u8, pos >> level));
        pos += 1u64 << level;
    }
    out
}

/// The largest power of two strictly below `n`, for `n ≥ 2`.
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A leaf range `[start, end)` whose subtree hash a proof contains.
type Span = (u64, u64);

/// The subtrees whose hashes form PATH(index, D\[size\]) (RFC 9162 §2.1.3.1), in proof order.
fn inclusion_spans(index: u64, size: u64) -> Result<Vec<Span>> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut m, mut start, mut end) = (index, 0u64, size);
    let mut spans = Vec::new();
    while end - start > 1 {
        let k = split(end - start);
        if m < k {
            spans.push((start + k, end));
            end = start + k;
        } else {
            spans.push((start, start + k));
            m -= k;
            start += k;
        }
    }
    // The recursion appends each sibling after the deeper path, so the walk runs top-down.
    spans.reverse();
    Ok(spans)
}

/// The subtrees whose hashes form PROOF(m, D\[n\]) (RFC 9162 §2.1.4.1), in proof order.
///
/// `m == 0` and `m == n` need no proof.
fn consistency_spans(m: u64, n: u64) -> Result<Vec<Span>> {
    if m > n {
        return Err(MerkleError::SizesOutOfOrder {
            first: m,
            second: n,
        });
    }
    if m == 0 || m == n {
        return Ok(Vec::new());
    }
    let (mut m, mut start, mut end, mut whole) = (m, 0u64, n, true);
    let mut spans = Vec::new();
    let terminal = loop {
        let size = end - start;
        if m == size {
            // SUBPROOF(m, D[m], b): nothing when the old tree is the whole subtree.
            break (!whole).then_some((start, end));
        }
        let k = split(size);
        if m <= k {
            spans.push((start + k, end));
            end = start + k;
        } else {
            spans.push((start, start + k));
            m -= k;
            start += k;
            whole = false;
        }
    };
    spans.reverse();
    Ok(terminal.into_iter().chain(spans).collect())
}

/// The distinct perfect nodes covering `spans`, in first-use order.
fn nodes_of(spans: &[Span]) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = Vec::new();
    for &(start, end) in spans {
        for id in pieces(start, end) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The hash of the RFC 9162 subtree over leaves `[start, end)`, from its perfect pieces.
fn span_hash(span: Span, lookup: &impl Fn(NodeId) -> Option<Hash>) -> Result<Hash> {
    let (start, end) = span;
    let mut acc: Option<Hash> = None;
    for id in pieces(start, end).into_iter().rev() {
        let h = lookup(id).ok_or(MerkleError::MissingNode { node: id })?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or_else(empty_root))
}

fn hashes_of(spans: &[Span], lookup: &impl Fn(NodeId) -> Option<Hash>) -> Result<Vec<Hash>> {
    spans.iter().map(|&s| span_hash(s, lookup)).collect()
}

/// The perfect nodes whose hashes make the root of a tree of `size` leaves (none for size 0).
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    pieces(0, size)
}

/// The perfect nodes needed to build the inclusion proof of leaf `index` in a tree of `size`.
///
/// At most about 2·log2(size) nodes, with no duplicates.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<NodeId>> {
    Ok(nodes_of(&inclusion_spans(index, size)?))
}

/// The perfect nodes needed to build the consistency proof from size `m` to size `n`.
pub fn consistency_nodes(m: u64, n: u64) -> Result<Vec<NodeId>> {
    Ok(nodes_of(&consistency_spans(m, n)?))
}

/// The root of a tree of `size` leaves, from the nodes [`root_nodes`] names.
pub fn root_from(size: u64, lookup: impl Fn(NodeId) -> Option<Hash>) -> Result<Hash> {
    span_hash((0, size), &lookup)
}

/// The RFC 9162 inclusion proof of leaf `index` in a tree of `size`, from the nodes
/// [`inclusion_nodes`] names.
pub fn inclusion_proof_from(
    index: u64,
    size: u64,
    lookup: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>> {
    hashes_of(&inclusion_spans(index, size)?, &lookup)
}

/// The RFC 9162 consistency proof from size `m` to size `n`, from the nodes
/// [`consistency_nodes`] names. Empty when `m` is 0 or equals `n`.
pub fn consistency_proof_from(
    m: u64,
    n: u64,
    lookup: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>> {
    hashes_of(&consistency_spans(m, n)?, &lookup)
}

/// Checks an inclusion proof of the leaf whose hash is `leaf` (RFC 9162 §2.1.3.2).
///
/// `leaf` is the leaf *hash* ([`leaf_hash`] of the entry hash), not the leaf data.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let expected = inclusion_spans(index, size)?.len();
    if proof.len() != expected {
        return Err(MerkleError::InclusionProofLength {
            index,
            size,
            got: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::InclusionRootMismatch { index, size });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root {
        Ok(())
    } else {
        Err(MerkleError::InclusionRootMismatch { index, size })
    }
}

/// Checks a consistency proof between a tree of `m` leaves and one of `n` (RFC 9162 §2.1.4.2).
///
/// Sizes `m == n` need an empty proof and equal roots; `m == 0` needs an empty proof and the
/// empty-tree root as `root_m`.
pub fn verify_consistency(
    m: u64,
    n: u64,
    proof: &[Hash],
    root_m: &Hash,
    root_n: &Hash,
) -> Result<()> {
    let expected = consistency_spans(m, n)?.len();
    if proof.len() != expected {
        return Err(MerkleError::ConsistencyProofLength {
            first: m,
            second: n,
            got: proof.len(),
            expected,
        });
    }
    let mismatch = |tree_size| MerkleError::ConsistencyRootMismatch {
        first: m,
        second: n,
        tree_size,
    };
    if m == 0 {
        return if *root_m == empty_root() {
            Ok(())
        } else {
            Err(mismatch(m))
        };
    }
    if m == n {
        return if root_m == root_n {
            Ok(())
        } else {
            Err(mismatch(n))
        };
    }
    // Step 1: when m is a power of two the old root is itself the first node of the path.
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(root_m);
    }
    path.extend(proof);
    let (mut fn_, mut sn) = (m - 1, n - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(mismatch(m));
    };
    let (mut fr, mut sr) = (**first, **first);
    for c in rest {
        if sn == 0 {
            return Err(mismatch(n));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if fr != *root_m {
        Err(mismatch(m))
    } else if sr != *root_n || sn != 0 {
        Err(mismatch(n))
    } else {
        Ok(())
    }
}

/// The right edge of a tree: one hash per perfect subtree in the binary decomposition of its
/// size (at most 64). Enough to append leaves and to compute the current root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Perfect subtree hashes from the largest (leftmost) to the smallest.
    edge: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes the frontier of a tree of `size` leaves from its stored [`root_nodes`].
    pub fn from_nodes(size: u64, lookup: impl Fn(NodeId) -> Option<Hash>) -> Result<Self> {
        let edge = root_nodes(size)
            .into_iter()
            .map(|id| lookup(id).ok_or(MerkleError::MissingNode { node: id }))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { size, edge })
    }

    /// Appends the leaf whose data is `leaf_data` (an entry's 32-byte hash) and returns every
    /// perfect node it completes: the leaf itself, then each parent, lowest first.
    ///
    /// A tree holds at most `u64::MAX` leaves; at that limit nothing is appended and the result
    /// is empty (see [`Frontier::try_push_leaf_hash`] for an error instead).
    pub fn push(&mut self, leaf_data: Hash) -> Vec<(NodeId, Hash)> {
        self.try_push_leaf_hash(leaf_hash(&leaf_data))
            .unwrap_or_default()
    }

    /// Appends a leaf given its leaf *hash* (not its data) and returns the nodes it completes,
    /// or [`MerkleError::TreeFull`] at `u64::MAX` leaves.
    pub fn try_push_leaf_hash(&mut self, leaf: Hash) -> Result<Vec<(NodeId, Hash)>> {
        let index = self.size;
        let size = index
            .checked_add(1)
            .ok_or(MerkleError::TreeFull { size: index })?;
        let mut completed = vec![(NodeId::new(0, index), leaf)];
        let mut acc = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a perfect subtree that the new leaf completes.
        while (index >> level) & 1 == 1 {
            let Some(left) = self.edge.pop() else {
                // The edge holds one hash per one bit of the size, so this cannot happen.
                break;
            };
            acc = node_hash(&left, &acc);
            level += 1;
            completed.push((NodeId::new(level, index >> level), acc));
        }
        self.edge.push(acc);
        self.size = size;
        Ok(completed)
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree: the edge folded right to left.
    pub fn root(&self) -> Hash {
        let mut it = self.edge.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, h| node_hash(h, &acc)),
        }
    }
}

/// A tree kept whole in memory: every perfect subtree hash, level by level.
///
/// For tests and for verifying export bundles; a million leaves take about 64 MiB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of [`NodeId`] `{ level: l, index: i }`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf with arbitrary `data` (the ledger's leaves are 32-byte entry hashes).
    pub fn push(&mut self, data: &[u8]) {
        self.push_leaf_hash(leaf_hash(data));
    }

    /// Appends a leaf given its leaf hash.
    pub fn push_leaf_hash(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let len = row.len();
            if len % 2 == 1 {
                return;
            }
            hash = node_hash(&row[len - 2], &row[len - 1]);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |row| row.len() as u64)
    }

    /// The stored hash of a perfect node, if the tree has it.
    pub fn lookup(&self, id: NodeId) -> Option<Hash> {
        let row = self.levels.get(usize::from(id.level))?;
        row.get(usize::try_from(id.index).ok()?).copied()
    }

    fn check_size(&self, requested: u64) -> Result<()> {
        let available = self.size();
        if requested > available {
            return Err(MerkleError::TreeTooSmall {
                requested,
                available,
            });
        }
        Ok(())
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        root_from(size, |id| self.lookup(id))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.check_size(size)?;
        inclusion_proof_from(index, size, |id| self.lookup(id))
    }

    /// The consistency proof from the tree of the first `m` leaves to that of the first `n`.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>> {
        self.check_size(n)?;
        consistency_proof_from(m, n, |id| self.lookup(id))
    }
}

/// A hash that serializes as 64 lowercase hex characters, and accepts only that form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HexHash(pub Hash);

impl fmt::Debug for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexHash({self})")
    }
}

impl fmt::Display for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl From<Hash> for HexHash {
    fn from(h: Hash) -> Self {
        Self(h)
    }
}

impl From<HexHash> for Hash {
    fn from(h: HexHash) -> Self {
        h.0
    }
}

impl std::str::FromStr for HexHash {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const MSG: &str = "expected 64 lowercase hex characters";
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(MSG);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| MSG)?;
        Ok(Self(out))
    }
}

impl Serialize for HexHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn to_hex_hashes(hashes: Vec<Hash>) -> Vec<HexHash> {
    hashes.into_iter().map(HexHash).collect()
}

fn from_hex_hashes(hashes: &[HexHash]) -> Vec<Hash> {
    hashes.iter().map(|h| h.0).collect()
}

/// An inclusion proof as JSON: `{"leaf_index": 2, "tree_size": 5, "hashes": ["…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The leaf's index (the entry's `seq`).
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The proof hashes, bottom up.
    pub hashes: Vec<HexHash>,
}

impl InclusionProof {
    /// Wraps proof hashes for serialization.
    pub fn new(leaf_index: u64, tree_size: u64, hashes: Vec<Hash>) -> Self {
        Self {
            leaf_index,
            tree_size,
            hashes: to_hex_hashes(hashes),
        }
    }

    /// Checks the proof for the leaf whose leaf hash is `leaf` against `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<()> {
        let hashes = from_hex_hashes(&self.hashes);
        verify_inclusion(leaf, self.leaf_index, self.tree_size, &hashes, root)
    }
}

/// A consistency proof as JSON: `{"first": 3, "second": 5, "hashes": ["…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub first: u64,
    /// The newer tree size.
    pub second: u64,
    /// The proof hashes.
    pub hashes: Vec<HexHash>,
}

impl ConsistencyProof {
    /// Wraps proof hashes for serialization.
    pub fn new(first: u64, second: u64, hashes: Vec<Hash>) -> Self {
        Self {
            first,
            second,
            hashes: to_hex_hashes(hashes),
        }
    }

    /// Checks that the tree with `root_first` is a prefix of the tree with `root_second`.
    pub fn verify(&self, root_first: &Hash, root_second: &Hash) -> Result<()> {
        let hashes = from_hex_hashes(&self.hashes);
        verify_consistency(self.first, self.second, &hashes, root_first, root_second)
    }
}
