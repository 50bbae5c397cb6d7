//! One module per group of clauses; each stream kind has its payloads, commands and state.

mod evaluation;
mod improvement;
mod leadership;
mod operation;
mod org;
mod planning;
mod risk;
mod support;

pub use evaluation::*;
pub use improvement::*;
pub use leadership::*;
pub use operation::*;
pub use org::*;
pub use planning::*;
pub use risk::*;
pub use support::*;
