//! What the coder is told about the task: the description, the data preview, the metric and its
//! direction, the submission's columns, the first rows of the training and test tables, and the
//! hardware each script gets.

use mlm_coder::{BuiltinCoder, TaskBrief};
use mlm_exec::{Profile, Slot};
use mlm_grade::Grader;
use mlm_task::{CsvTable, Task};

use crate::error::Result;

/// The brief of `task` for scripts that run in `slots` with `memory_bytes_per_slot` each.
pub fn task_brief(
    task: &Task,
    grader: &Grader,
    slots: &[Slot],
    memory_bytes_per_slot: Option<u64>,
) -> Result<TaskBrief> {
    let cores = slots.first().map_or(1, |slot| slot.cpus.len().max(1));
    let memory = memory_bytes_per_slot.map_or("no fixed memory limit".to_string(), |bytes| {
        format!("{:.1} GB of memory", bytes as f64 / 1e9)
    });
    Ok(TaskBrief {
        competition_id: task.id.clone(),
        description: task.description()?,
        data_preview: mlm_task::preview::data_preview(&task.public_dir)?,
        metric: grader.metric,
        public_dir: task.public_dir.clone(),
        train_sample: CsvTable::read_head(
            &task.public_dir.join("train.csv"),
            BuiltinCoder::SAMPLE_ROWS,
        )
        .ok(),
        test_sample: CsvTable::read_head(
            &task.public_dir.join("test.csv"),
            BuiltinCoder::SAMPLE_ROWS,
        )
        .ok(),
        id_column: grader.id_column().to_string(),
        target_columns: grader.target_columns().to_vec(),
        sample_submission_file: task
            .grading
            .sample_submission
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sample_submission.csv".to_string()),
        hardware: format!("{cores} CPU core(s) per script, no GPU, {memory}"),
        installed_packages: Profile::Base.modules(),
    })
}
