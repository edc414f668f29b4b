//! What the coder is told about the task: the description, the data preview, the metric and its
//! direction, the submission's columns, the first rows of the training and test tables, and the
//! hardware each script gets.

use std::path::PathBuf;

use mlm_coder::{BuiltinCoder, TaskBrief};
use mlm_exec::{Gpu, Slot};
use mlm_grade::Grader;
use mlm_task::{CsvTable, Task};

use crate::error::Result;

/// What each script runs on.
pub struct Hardware<'a> {
    pub slots: &'a [Slot],
    /// The GPUs the slots were dealt, as the driver describes them.
    pub gpus: &'a [Gpu],
    pub memory_bytes_per_slot: Option<u64>,
}

impl Hardware<'_> {
    /// One line for the coder: the cores, the GPUs of a script's slot (model, memory, how many scripts
    /// share each) and the memory, e.g. `4 CPU core(s) per script, 1 GPU per script: NVIDIA H100 80GB
    /// HBM3 (79.6 GiB), shared by 2 scripts running at once, no fixed memory limit`. A slot with GPUs has
    /// no memory limit.
    pub fn describe(&self) -> String {
        let first = self.slots.first();
        let cores = first.map_or(1, |slot| slot.cpus.len().max(1));
        let slot_gpus = first.map_or(&[][..], |slot| slot.gpus.as_slice());
        // The sandbox sets no memory limit on a slot with GPUs: CUDA reserves far more address space
        // than it uses.
        let limit = self.memory_bytes_per_slot.filter(|_| slot_gpus.is_empty());
        let memory = limit.map_or("no fixed memory limit".to_string(), |bytes| {
            format!("{:.1} GB of memory", bytes as f64 / 1e9)
        });
        let gpus = match slot_gpus {
            [] => "no GPU".to_string(),
            indices => {
                let models: Vec<String> = indices
                    .iter()
                    .map(|index| {
                        let gpu = self.gpus.iter().find(|gpu| gpu.index == *index);
                        let name = gpu.map_or("an NVIDIA GPU", |gpu| gpu.name.as_str());
                        match gpu.and_then(|gpu| gpu.memory_mib) {
                            Some(mebibytes) => {
                                format!("{name} ({:.1} GiB)", mebibytes as f64 / 1024.0)
                            }
                            None => name.to_string(),
                        }
                    })
                    .collect();
                let sharing = self
                    .slots
                    .iter()
                    .filter(|slot| slot.gpus.contains(&indices[0]))
                    .count();
                let shared = match sharing {
                    0 | 1 => "used by this script alone".to_string(),
                    count => format!("shared by {count} scripts running at once"),
                };
                format!(
                    "{} GPU per script: {}, {shared}",
                    indices.len(),
                    models.join(" and ")
                )
            }
        };
        format!("{cores} CPU core(s) per script, {gpus}, {memory}")
    }
}

/// The brief of `task` for scripts that run on `hardware`, can import `installed_packages` and may read
/// the local model directory `text_model`.
pub fn task_brief(
    task: &Task,
    grader: &Grader,
    hardware: &Hardware<'_>,
    installed_packages: Vec<String>,
    text_model: Option<PathBuf>,
) -> Result<TaskBrief> {
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
        hardware: hardware.describe(),
        installed_packages,
        text_model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlm_exec::{parse_gpu_list, plan_slots};

    #[test]
    fn the_hardware_line_names_each_scripts_gpu_and_who_shares_it() {
        let gpus =
            parse_gpu_list("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n")
                .unwrap();
        let memory = Some(8_000_000_000);
        let shared = plan_slots(4, &[0, 1, 2, 3], &[0]);
        let line = Hardware {
            slots: &shared,
            gpus: &gpus,
            memory_bytes_per_slot: memory,
        }
        .describe();
        assert_eq!(line, "1 CPU core(s) per script, 1 GPU per script: NVIDIA H100 80GB HBM3 (79.6 GiB), shared by 4 scripts running at once, no fixed memory limit");
        let own = plan_slots(2, &[0, 1, 2, 3], &[0, 1]);
        let line = Hardware {
            slots: &own,
            gpus: &gpus,
            memory_bytes_per_slot: None,
        }
        .describe();
        assert_eq!(line, "2 CPU core(s) per script, 1 GPU per script: NVIDIA H100 80GB HBM3 (79.6 GiB), used by this script alone, no fixed memory limit");
        let none = plan_slots(2, &[0, 1], &[]);
        let line = Hardware {
            slots: &none,
            gpus: &[],
            memory_bytes_per_slot: memory,
        }
        .describe();
        assert_eq!(line, "1 CPU core(s) per script, no GPU, 8.0 GB of memory");
    }
}
