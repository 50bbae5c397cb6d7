//! [`SharedSet`]: a sorted set in shared chunks, for the few rows that hold very large sets
//! (a role's holders, a policy's acknowledgements: tens of thousands each in a large SMS).
//!
//! Snapshots share rows; changing a row after a snapshot copies it (`Arc::make_mut`). With a
//! plain `BTreeSet` that meant copying all 50,000 acknowledgements of a policy once per
//! snapshot interval — gigabytes of memory and much of the rebuild's time on a 1M-entry
//! ledger. Here a change copies one chunk of at most [`CHUNK_MAX`] items.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// Items in one chunk at most; a fuller chunk splits in two.
pub const CHUNK_MAX: usize = 256;

/// A sorted set of distinct items, stored as sorted chunks shared between clones.
#[derive(Debug, Clone)]
pub struct SharedSet<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for SharedSet<T> {
    fn default() -> Self {
        SharedSet {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Ord + Clone> SharedSet<T> {
    /// An empty set.
    pub fn new() -> SharedSet<T> {
        SharedSet::default()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk that holds `item` if anything does: the first whose last item is not
    /// below it, else the last chunk.
    fn locate(&self, item: &T) -> usize {
        let i = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|last| last < item));
        i.min(self.chunks.len().saturating_sub(1))
    }

    /// Whether `item` is in the set.
    pub fn contains(&self, item: &T) -> bool {
        !self.chunks.is_empty() && self.chunks[self.locate(item)].binary_search(item).is_ok()
    }

    /// Adds `item`; `false` when it was already there.
    pub fn insert(&mut self, item: T) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(vec![item]));
            self.len = 1;
            return true;
        }
        let i = self.locate(&item);
        let chunk = Arc::make_mut(&mut self.chunks[i]);
        let Err(at) = chunk.binary_search(&item) else {
            return false;
        };
        chunk.insert(at, item);
        self.len += 1;
        if chunk.len() > CHUNK_MAX {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(i + 1, Arc::new(tail));
        }
        true
    }

    /// Removes `item`; `false` when it was not there.
    pub fn remove(&mut self, item: &T) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let i = self.locate(item);
        let Ok(at) = self.chunks[i].binary_search(item) else {
            return false;
        };
        let chunk = Arc::make_mut(&mut self.chunks[i]);
        chunk.remove(at);
        self.len -= 1;
        if chunk.is_empty() {
            self.chunks.remove(i);
        }
        true
    }

    /// The items in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

impl<T: Ord + Clone> PartialEq for SharedSet<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Ord + Clone> Eq for SharedSet<T> {}

impl<T: Ord + Clone> FromIterator<T> for SharedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut sorted: Vec<T> = items.into_iter().collect();
        sorted.sort();
        sorted.dedup();
        let len = sorted.len();
        let chunks = sorted
            .chunks(CHUNK_MAX / 2)
            .map(|c| Arc::new(c.to_vec()))
            .collect();
        SharedSet { chunks, len }
    }
}

/// Serialized as a plain ascending sequence, so the format does not depend on chunking.
impl<T: Ord + Clone + Serialize> Serialize for SharedSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T: Ord + Clone + Deserialize<'de>> Deserialize<'de> for SharedSet<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(deserializer)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The set behaves as a `BTreeSet` under any mix of inserts and removes, across splits,
    /// and a clone taken midway is not disturbed by later changes.
    #[test]
    fn behaves_as_a_btreeset_and_clones_stay_put() {
        let mut ours = SharedSet::new();
        let mut reference = BTreeSet::new();
        let mut state = 7u64;
        let mut snapshot = None;
        for step in 0..20_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let item = (state >> 33) % 3_000;
            if state.is_multiple_of(3) {
                assert_eq!(ours.remove(&item), reference.remove(&item));
            } else {
                assert_eq!(ours.insert(item), reference.insert(item));
            }
            if step == 10_000 {
                snapshot = Some((ours.clone(), reference.clone()));
            }
        }
        assert!(ours.iter().eq(reference.iter()));
        assert_eq!(ours.len(), reference.len());
        assert!((0..3_000).all(|i| ours.contains(&i) == reference.contains(&i)));
        let (then, then_reference) = snapshot.unwrap();
        assert!(then.iter().eq(then_reference.iter()));
        let json = serde_json::to_string(&ours).unwrap();
        assert_eq!(serde_json::from_str::<SharedSet<u64>>(&json).unwrap(), ours);
    }
}
