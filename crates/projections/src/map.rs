//! [`SharedMap`]: the register tables, sorted by record id and stored in shared chunks.
//!
//! Every in-memory snapshot is a clone of the whole model. With a `BTreeMap` per register
//! a clone copied every key and node — about 6 MB per snapshot and 2.5 GB of snapshots on a
//! 1M-entry ledger. Here a clone copies one pointer per chunk, and a change after a snapshot
//! copies the one chunk it touches (`Arc::make_mut`); records are mostly touched while young
//! and ids grow, so the touched chunks are few.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;
use std::sync::Arc;

/// Entries in one chunk at most; a fuller chunk splits in two.
pub const MAP_CHUNK_MAX: usize = 128;

type Chunk<T> = Vec<(Arc<str>, Arc<T>)>;

/// Rows by record id, ascending, in chunks shared between clones.
#[derive(Debug)]
pub struct SharedMap<T> {
    chunks: Vec<Arc<Chunk<T>>>,
    len: usize,
}

impl<T> Clone for SharedMap<T> {
    fn clone(&self) -> Self {
        SharedMap {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

impl<T> Default for SharedMap<T> {
    fn default() -> Self {
        SharedMap {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> SharedMap<T> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    fn locate(&self, key: &str) -> usize {
        let i = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|(last, _)| &**last < key));
        i.min(self.chunks.len().saturating_sub(1))
    }

    fn find(&self, key: &str) -> Option<(usize, usize)> {
        if self.chunks.is_empty() {
            return None;
        }
        let i = self.locate(key);
        let at = self.chunks[i]
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()?;
        Some((i, at))
    }

    /// The row with this id.
    pub fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.find(key).map(|(i, at)| &self.chunks[i][at].1)
    }

    /// Whether a row has this id.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Rows in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<T>)> + '_ {
        self.chunks
            .iter()
            .flat_map(|c| c.iter().map(|(k, v)| (k, v)))
    }

    /// Ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &Arc<str>> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Rows in id order.
    pub fn values(&self) -> impl Iterator<Item = &Arc<T>> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<T: Clone> SharedMap<T> {
    /// The row with this id, to change (copying its chunk if a snapshot shares it).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Arc<T>> {
        let (i, at) = self.find(key)?;
        Some(&mut Arc::make_mut(&mut self.chunks[i])[at].1)
    }

    /// Inserts `make()` under `key` unless a row is there; returns whether it inserted.
    pub fn insert_with(&mut self, key: &str, make: impl FnOnce() -> T) -> bool {
        if self.chunks.is_empty() {
            self.chunks
                .push(Arc::new(vec![(Arc::from(key), Arc::new(make()))]));
            self.len = 1;
            return true;
        }
        let i = self.locate(key);
        let Err(at) = self.chunks[i].binary_search_by(|(k, _)| (**k).cmp(key)) else {
            return false;
        };
        let chunk = Arc::make_mut(&mut self.chunks[i]);
        chunk.insert(at, (Arc::from(key), Arc::new(make())));
        self.len += 1;
        if chunk.len() > MAP_CHUNK_MAX {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(i + 1, Arc::new(tail));
        }
        true
    }
}

impl<T> std::ops::Index<&str> for SharedMap<T> {
    type Output = T;
    /// The row with this id; panics when there is none, like `BTreeMap`'s index.
    fn index(&self, key: &str) -> &T {
        let (i, at) = self.find(key).expect("no row with this id");
        &self.chunks[i][at].1
    }
}

impl<T: PartialEq> PartialEq for SharedMap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, x), (b, y))| a == b && (Arc::ptr_eq(x, y) || x == y))
    }
}

impl<T: Eq> Eq for SharedMap<T> {}

impl<T> FromIterator<(Arc<str>, Arc<T>)> for SharedMap<T> {
    /// Builds from rows in any order; a repeated id keeps its last row.
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Arc<T>)>>(rows: I) -> Self {
        let mut sorted: Vec<(Arc<str>, Arc<T>)> = rows.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted.reverse();
        sorted.dedup_by(|a, b| a.0 == b.0);
        sorted.reverse();
        let len = sorted.len();
        let mut chunks = Vec::new();
        let mut rest = sorted.into_iter().peekable();
        while rest.peek().is_some() {
            chunks.push(Arc::new(rest.by_ref().take(MAP_CHUNK_MAX / 2).collect()));
        }
        SharedMap { chunks, len }
    }
}

/// Serialized as a plain JSON object by id, so the format does not depend on chunking.
impl<T: Serialize> Serialize for SharedMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(k, v)| (&**k, &**v)))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SharedMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rows<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Rows<T> {
            type Value = SharedMap<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("rows by record id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut rows = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    rows.push((Arc::from(k), Arc::new(v)));
                }
                Ok(rows.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Rows(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The map behaves as a `BTreeMap` across splits; a clone taken midway keeps its
    /// contents while the original changes; JSON round-trips.
    #[test]
    fn behaves_as_a_btreemap_and_clones_stay_put() {
        let mut ours: SharedMap<u64> = SharedMap::default();
        let mut reference = BTreeMap::new();
        let mut state = 11u64;
        let mut snapshot = None;
        for step in 0..20_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = format!("K-{:05}", (state >> 33) % 5_000);
            if state.is_multiple_of(2) {
                let inserted = ours.insert_with(&key, || step);
                assert_eq!(inserted, !reference.contains_key(&key));
                reference.entry(key).or_insert(step);
            } else if let Some(v) = ours.get_mut(&key) {
                *Arc::make_mut(v) += 1;
                *reference.get_mut(&key).unwrap() += 1;
            }
            if step == 10_000 {
                snapshot = Some((ours.clone(), reference.clone()));
            }
        }
        let flat = |m: &SharedMap<u64>| {
            m.iter()
                .map(|(k, v)| (k.to_string(), **v))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(flat(&ours), reference);
        assert_eq!(ours.len(), reference.len());
        let (then, then_reference) = snapshot.unwrap();
        assert_eq!(flat(&then), then_reference);
        let json = serde_json::to_string(&ours).unwrap();
        assert_eq!(serde_json::from_str::<SharedMap<u64>>(&json).unwrap(), ours);
        assert_eq!(ours["K-00001"], reference["K-00001"]);
    }
}
