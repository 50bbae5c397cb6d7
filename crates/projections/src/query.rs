//! Filter, sort and page any register.

use crate::model::Table;
use crate::rows::RegisterRow;
use custodia_domain::{Actor, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The most rows one page returns; a larger `limit` is clamped to it (and the page says so
/// through its `limit`).
pub const PAGE_ROWS_MAX: u32 = 500;

/// What to sort by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Record id.
    #[default]
    Id,
    /// Due date (rows without one last).
    Due,
    /// Latest event.
    Updated,
    /// Status word.
    Status,
}

/// A register query: all filters must match; then sort, then page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The date statuses are computed at (`overdue` depends on it).
    pub at: Timestamp,
    /// Only rows with this status word.
    pub status: Option<String>,
    /// Only rows owned by this actor.
    pub owner: Option<Actor>,
    /// Only rows carrying this tag (rating, category, severity, …).
    pub tag: Option<String>,
    /// Sort key.
    pub sort: SortKey,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return (at most [`PAGE_ROWS_MAX`]).
    pub limit: u32,
}

impl Query {
    /// Every row at `at`, by id, the first page of 50.
    pub fn at(at: Timestamp) -> Query {
        Query {
            at,
            status: None,
            owner: None,
            tag: None,
            sort: SortKey::Id,
            descending: false,
            offset: 0,
            limit: 50,
        }
    }
}

/// One page of a register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Rows matching the filters, over all pages.
    pub total: u64,
    /// Offset of the first row.
    pub offset: u64,
    /// The page size used (after clamping).
    pub limit: u32,
    /// The rows.
    pub rows: Vec<T>,
}

/// Runs `query` over `table`.
pub fn query<T: RegisterRow + Clone>(table: &Table<T>, query: &Query) -> Page<T> {
    let mut hits: Vec<&T> = table
        .values()
        .map(|row| &**row)
        .filter(|row| matches(*row, query))
        .collect();
    hits.sort_by(|a, b| {
        let order = compare(*a, *b, query);
        if query.descending {
            order.reverse()
        } else {
            order
        }
    });
    let limit = query.limit.min(PAGE_ROWS_MAX);
    let rows = hits
        .iter()
        .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .map(|row| (*row).clone())
        .collect();
    Page {
        total: hits.len() as u64,
        offset: query.offset,
        limit,
        rows,
    }
}

fn matches<T: RegisterRow>(row: &T, q: &Query) -> bool {
    q.status.as_deref().is_none_or(|s| row.status(q.at) == s)
        && q.owner.as_ref().is_none_or(|o| row.owner() == Some(o))
        && q.tag.as_deref().is_none_or(|t| row.tags().contains(&t))
}

/// Orders by the key, then by id so that pages are stable.
fn compare<T: RegisterRow>(a: &T, b: &T, q: &Query) -> Ordering {
    let by_key = match q.sort {
        SortKey::Id => Ordering::Equal,
        SortKey::Due => match (a.due(), b.due()) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        SortKey::Updated => a.updated().cmp(&b.updated()),
        SortKey::Status => a.status(q.at).cmp(b.status(q.at)),
    };
    by_key.then_with(|| a.id().cmp(b.id()))
}
