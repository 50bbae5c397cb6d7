//! Read models folded from the ledger's entries (in progress).
