//! Final selection's re-evaluations in the journal (`reevaluations`, schema version 4): stored as each one
//! finishes, and read back by a resumed run, which re-runs none that already scored.

use mlm_search::{Direction, Metric, NodeId};
use rusqlite::params;

use crate::error::Result;
use crate::journal::Journal;
use crate::records::{Reevaluated, ReevaluationRecord};

impl Journal {
    /// Stores one re-evaluation.
    pub fn record_reevaluation(&self, reevaluation: &ReevaluationRecord) -> Result<()> {
        let (metric, lower_is_better, failure) = match &reevaluation.result {
            Reevaluated::Scored { metric } => (
                Some(metric.value),
                Some(metric.direction == Direction::LowerIsBetter),
                None,
            ),
            Reevaluated::Failed { reason } => (None, None, Some(reason.as_str())),
        };
        self.connection
            .execute(
                "INSERT INTO reevaluations (node_id, seed, created_at, metric, lower_is_better, failure, \
                 execute_seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    reevaluation.node.0,
                    reevaluation.seed as i64,
                    reevaluation.created_at.to_rfc3339(),
                    metric,
                    lower_is_better,
                    failure,
                    reevaluation.execute_seconds,
                ],
            )
            .map_err(self.database_error())?;
        Ok(())
    }

    /// Every re-evaluation in the order it was recorded (none in a journal before version 4).
    pub fn reevaluations(&self) -> Result<Vec<ReevaluationRecord>> {
        if self.schema_version < 4 {
            return Ok(Vec::new());
        }
        let mut statement = self
            .connection
            .prepare(
                "SELECT node_id, seed, created_at, metric, lower_is_better, failure, execute_seconds \
                 FROM reevaluations ORDER BY id",
            )
            .map_err(self.database_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<f64>>(3)?,
                    row.get::<_, Option<bool>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, f64>(6)?,
                ))
            })
            .map_err(self.database_error())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.database_error())?;
        rows.into_iter()
            .map(
                |(node, seed, created_at, metric, lower_is_better, failure, execute_seconds)| {
                    let result = match (metric, lower_is_better, failure) {
                        (Some(value), Some(lower_is_better), None) => Reevaluated::Scored {
                            metric: Metric::new(
                                value,
                                Direction::from_lower_is_better(lower_is_better),
                            ),
                        },
                        (None, _, Some(reason)) => Reevaluated::Failed { reason },
                        (metric, lower_is_better, failure) => {
                            return Err(self.corrupt(format!(
                                "re-evaluation of node {node} with seed {seed}: metric {metric:?}, lower_is_better {lower_is_better:?}, failure {failure:?}"
                            )))
                        }
                    };
                    Ok(ReevaluationRecord {
                        node: NodeId(node),
                        seed: seed as u64,
                        created_at: self.timestamp(&created_at)?,
                        result,
                        execute_seconds,
                    })
                },
            )
            .collect()
    }
}
