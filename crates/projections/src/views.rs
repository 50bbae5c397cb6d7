//! Registers that join tables: the CAPA register, the training matrix and the risk heat map.

use crate::model::{Model, Table};
use crate::rows::*;
use custodia_domain::{Actor, RecordId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A nonconformity with its corrective actions: one line of the CAPA register (10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapaLine {
    /// The nonconformity.
    pub nonconformity: NonconformityRow,
    /// Its corrective actions, by id.
    pub actions: Vec<CorrectiveActionRow>,
}

impl CapaLine {
    /// Whether any action is overdue at `at`.
    pub fn overdue(&self, at: Timestamp) -> bool {
        self.nonconformity.closed.is_none() && self.actions.iter().any(|a| a.overdue(at))
    }
    /// Whether an action was verified effective.
    pub fn effective(&self) -> bool {
        self.actions.iter().any(CorrectiveActionRow::effective)
    }
}

impl RegisterRow for CapaLine {
    fn id(&self) -> &str {
        self.nonconformity.meta.id.as_str()
    }
    fn status(&self, at: Timestamp) -> &'static str {
        match () {
            _ if self.nonconformity.closed.is_some() => "closed",
            _ if self.overdue(at) => "overdue",
            _ if self.actions.is_empty() => "awaiting_action",
            _ => "open",
        }
    }
    fn owner(&self) -> Option<&Actor> {
        self.actions.first().map(|a| &a.owner)
    }
    fn due(&self) -> Option<Timestamp> {
        self.actions
            .iter()
            .filter(|a| a.open())
            .map(|a| a.due)
            .min()
    }
    fn tags(&self) -> Vec<&str> {
        self.nonconformity.tags()
    }
    fn updated(&self) -> Timestamp {
        let actions = self.actions.iter().map(|a| a.meta.updated);
        actions.fold(self.nonconformity.meta.updated, Timestamp::max)
    }
}

/// The CAPA register as a table, so [`crate::query()`] filters, sorts and pages it.
pub fn capa_register(m: &Model) -> Table<CapaLine> {
    m.nonconformities
        .iter()
        .map(|(id, nc)| {
            let actions = nc
                .actions
                .iter()
                .filter_map(|a| m.corrective_actions.get(a.as_str()))
                .map(|a| (**a).clone())
                .collect();
            let line = CapaLine {
                nonconformity: (**nc).clone(),
                actions,
            };
            (id.clone(), Arc::new(line))
        })
        .collect()
}

/// Where one person stands on one competence their role requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingStatus {
    /// Trained, valid at the date.
    Valid,
    /// Trained once, but expired (recorded, or past `valid_until`).
    Expired,
    /// Never trained.
    Missing,
}

/// One cell of the training matrix (7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingCell {
    /// The role.
    pub role: String,
    /// A holder of the role.
    pub person: Actor,
    /// A competence the role requires.
    pub competence: RecordId,
    /// The holder's standing at the date.
    pub status: TrainingStatus,
}

/// The training matrix at `at`: for every role, every holder × every competence the role
/// requires, in role, person, competence order.
pub fn training_matrix(m: &Model, at: Timestamp) -> Vec<TrainingCell> {
    let mut required: BTreeMap<&str, Vec<&RecordId>> = BTreeMap::new();
    for c in m.competences.values() {
        required
            .entry(c.role.as_str())
            .or_default()
            .push(&c.meta.id);
    }
    let mut cells = Vec::new();
    for (role, competences) in required {
        let holders = m.roles.get(role).map(|r| r.people()).unwrap_or_default();
        for person in holders {
            let row = m.people.get(crate::kpi::person_id(person));
            for competence in &competences {
                let status = match row.and_then(|p| p.trainings.get(*competence)) {
                    None => TrainingStatus::Missing,
                    Some(_) if row.is_some_and(|p| p.trained(competence, at)) => {
                        TrainingStatus::Valid
                    }
                    Some(_) => TrainingStatus::Expired,
                };
                cells.push(TrainingCell {
                    role: role.to_owned(),
                    person: person.clone(),
                    competence: (*competence).clone(),
                    status,
                });
            }
        }
    }
    cells
}

/// Open risks at one likelihood × impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatCell {
    /// Likelihood.
    pub likelihood: u32,
    /// Impact.
    pub impact: u32,
    /// Open risks rated here before treatment.
    pub inherent: u64,
    /// Open risks rated here after treatment.
    pub residual: u64,
}

/// The risk heat map (6.1): open risks per likelihood × impact, inherent and residual;
/// cells with no risk are left out.
pub fn risk_heat_map(m: &Model) -> Vec<HeatCell> {
    let mut cells: BTreeMap<(u32, u32), (u64, u64)> = BTreeMap::new();
    for r in m.risks.values().filter(|r| r.closed.is_none()) {
        if let Some(i) = &r.inherent {
            cells.entry((i.likelihood, i.impact)).or_default().0 += 1;
        }
        if let Some(x) = &r.residual {
            cells.entry((x.likelihood, x.impact)).or_default().1 += 1;
        }
    }
    cells
        .into_iter()
        .map(|((likelihood, impact), (inherent, residual))| HeatCell {
            likelihood,
            impact,
            inherent,
            residual,
        })
        .collect()
}
