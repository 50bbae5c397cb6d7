//! Why a command was refused. Every variant names the rule and the record; nothing is written.

use crate::ids::{Actor, Subject};
use crate::time::Timestamp;

/// A shorthand for decisions.
pub type Result<T, E = Rejection> = std::result::Result<T, E>;

/// A command refused by a rule of the SMS. The message names the rule and the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// A creating command was sent to a record that already exists.
    #[error("{record}: already exists")]
    AlreadyExists {
        /// The record.
        record: Subject,
    },
    /// A command was sent to a record that has not been created.
    #[error("{record}: does not exist")]
    NotFound {
        /// The record.
        record: Subject,
    },
    /// The record's state machine does not allow this step now.
    #[error("{record}: cannot {action} while it is {state}")]
    InvalidState {
        /// The record.
        record: Subject,
        /// What was attempted.
        action: &'static str,
        /// The state it is in.
        state: &'static str,
    },
    /// The actor does not hold a role the step requires (authority is data: `role.assigned`).
    #[error("{record}: {action} requires the {role} role, which {actor} does not hold")]
    Unauthorized {
        /// The record.
        record: Subject,
        /// What was attempted.
        action: &'static str,
        /// The role(s) that would allow it.
        role: String,
        /// Who tried.
        actor: Actor,
    },
    /// A follow-up event cannot happen before the event it follows.
    #[error("{record}: occurred_at {at} precedes the record's previous event at {previous}")]
    TimeRunsBackwards {
        /// The record.
        record: Subject,
        /// The command's time.
        at: Timestamp,
        /// The time of the stream's latest event.
        previous: Timestamp,
    },
    /// A follow-up cannot precede what it follows in another stream (a corrective action
    /// planned before its nonconformity was raised, a closure before the verification).
    #[error("{record}: occurred_at {at} precedes {link}, which dates from {linked_at}")]
    PrecedesLink {
        /// The record.
        record: Subject,
        /// The record it follows.
        link: Subject,
        /// The command's time.
        at: Timestamp,
        /// When the linked record was created, or last changed when its latest state matters.
        linked_at: Timestamp,
    },
    /// A due date, expiry or validity end must lie after the event that sets it.
    #[error("{record}: {field} {date} must be after occurred_at {at}")]
    DateNotAfter {
        /// The record.
        record: Subject,
        /// The date field.
        field: &'static str,
        /// The date given.
        date: Timestamp,
        /// The command's time.
        at: Timestamp,
    },
    /// A record the command links to does not exist.
    #[error("{record}: linked {link} does not exist")]
    LinkMissing {
        /// The record.
        record: Subject,
        /// The missing record.
        link: Subject,
    },
    /// A likelihood or impact outside the matrix in force.
    #[error("{record}: {field} {value} is outside 1..={max} of matrix {matrix}")]
    ScoreOutOfRange {
        /// The record.
        record: Subject,
        /// `likelihood` or `impact`.
        field: &'static str,
        /// The value given.
        value: u32,
        /// The matrix's size on that axis.
        max: u32,
        /// The matrix in force, `<id>@v<version>`.
        matrix: String,
    },
    /// A value breaks a rule of its own (empty list, bad band layout, rating out of range).
    #[error("{record}: {field} is invalid: {reason}")]
    InvalidValue {
        /// The record.
        record: Subject,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A policy is published only after approval by top management (5.2).
    #[error("{record}: cannot publish before it is approved by top management")]
    PolicyNotApproved {
        /// The policy.
        record: Subject,
    },
    /// A risk is treated, accepted or residual-rated only after it was assessed (6.1).
    #[error("{record}: cannot {action} before it is assessed")]
    RiskNotAssessed {
        /// The risk.
        record: Subject,
        /// What was attempted.
        action: &'static str,
    },
    /// A risk cannot close while a planned treatment is incomplete (8.3).
    #[error("{record}: cannot close while treatment {treatment} is incomplete")]
    TreatmentIncomplete {
        /// The risk.
        record: Subject,
        /// The open treatment.
        treatment: String,
    },
    /// Residual risk after treatment cannot be rated above the inherent risk.
    #[error("{record}: residual score {residual} exceeds inherent score {inherent}")]
    ResidualAboveInherent {
        /// The risk.
        record: Subject,
        /// Residual likelihood × impact.
        residual: u32,
        /// Inherent likelihood × impact.
        inherent: u32,
    },
    /// A nonconformity closes only after its corrective action was verified effective (10.2).
    #[error("{record}: cannot close before corrective action {action} is verified effective")]
    CorrectiveActionNotEffective {
        /// The nonconformity.
        record: Subject,
        /// The corrective action named.
        action: String,
    },
    /// An auditor must not audit an area they own (9.2 independence).
    #[error("{record}: auditor {auditor} owns area {area} and cannot audit it (independence)")]
    AuditorNotIndependent {
        /// The audit.
        record: Subject,
        /// The auditor.
        auditor: Actor,
        /// The audited area.
        area: String,
    },
    /// A high-severity incident closes only with an investigation (root cause) recorded.
    #[error(
        "{record}: a {severity} incident closes only after an investigation records its root cause"
    )]
    InvestigationRequired {
        /// The incident.
        record: Subject,
        /// Its severity.
        severity: &'static str,
    },
    /// A supplier is approved for use only after a passing screening (8.x).
    #[error("{record}: cannot {action} without a passing screening")]
    SupplierNotScreened {
        /// The supplier.
        record: Subject,
        /// What was attempted.
        action: &'static str,
    },
    /// A supplier's last screening is older than the configured interval.
    #[error("{record}: screening of {screened_at} is overdue (interval {interval_days} days)")]
    ScreeningOverdue {
        /// The supplier.
        record: Subject,
        /// When it was last screened.
        screened_at: Timestamp,
        /// The configured interval.
        interval_days: u32,
    },
    /// An objective is achieved only when a measurement meets its target (6.2).
    #[error("{record}: cannot mark achieved: no measurement meets target {target}")]
    ObjectiveNotMet {
        /// The objective.
        record: Subject,
        /// The target.
        target: String,
    },
    /// A keyed item (treatment, finding, decision, acknowledgement, rating) was recorded twice.
    #[error("{record}: {what} {key} is already recorded")]
    Duplicate {
        /// The record.
        record: Subject,
        /// What kind of item.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// A command names an item the record does not have.
    #[error("{record}: has no {what} {key}")]
    UnknownItem {
        /// The record.
        record: Subject,
        /// What kind of item.
        what: &'static str,
        /// The key given.
        key: String,
    },
    /// Two steps must be done by different people (maker/checker).
    #[error("{record}: {action} must be done by someone other than {actor}, who {did}")]
    SegregationOfDuties {
        /// The record.
        record: Subject,
        /// What was attempted.
        action: &'static str,
        /// Who tried.
        actor: Actor,
        /// What they did before.
        did: &'static str,
    },
    /// The command was addressed to a stream whose state is of another kind (a caller bug).
    #[error("{record}: the state given belongs to another kind of stream")]
    StreamMismatch {
        /// The record the command named.
        record: Subject,
    },
    /// A management review is held only with its inputs sealed, and closes only with a decision (9.3).
    #[error("{record}: {rule}")]
    ReviewIncomplete {
        /// The review.
        record: Subject,
        /// The missing part.
        rule: &'static str,
    },
}
