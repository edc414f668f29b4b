//! Test fixtures: small competitions written to a temporary directory, and the briefs and requests
//! the coder gets for them.

use std::path::Path;
use std::time::Duration;

use mlm_search::Stage;
use mlm_task::CsvTable;

use super::schema::{self, TaskSchema};
use super::BuiltinCoder;
use crate::operator::{Budget, ExecutionStatus, MemoryEntry, NodeView, ProposalRequest, TaskBrief};

/// Writes `train.csv`, `test.csv` and `sample_submission.csv` into `dir` and returns the brief.
pub(crate) fn task(dir: &Path, metric: &str, train: &str, test: &str, sample: &str) -> TaskBrief {
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("test.csv"), test).unwrap();
    std::fs::write(dir.join("sample_submission.csv"), sample).unwrap();
    let headers: Vec<String> = sample
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    TaskBrief {
        competition_id: "fixture".to_string(),
        description: String::new(),
        data_preview: String::new(),
        metric: mlm_grade::Metric::from_name(metric).unwrap(),
        public_dir: dir.to_path_buf(),
        train_sample: CsvTable::read_head(&dir.join("train.csv"), BuiltinCoder::SAMPLE_ROWS).ok(),
        test_sample: CsvTable::read_head(&dir.join("test.csv"), BuiltinCoder::SAMPLE_ROWS).ok(),
        id_column: headers[0].clone(),
        target_columns: headers[1..].to_vec(),
        sample_submission_file: "sample_submission.csv".to_string(),
        hardware: "2 CPU cores".to_string(),
        installed_packages: vec!["numpy".to_string(), "pandas".to_string()],
        text_model: None,
    }
}

/// A passenger-like table: an id, a name (text), a class (category), an age with gaps (numeric), a
/// boarding date, and a 0/1 label; 60 training rows, 10 test rows.
pub(crate) fn passengers(dir: &Path, metric: &str) -> TaskBrief {
    let mut train = String::from("id,name,class,age,boarded,survived\n");
    for row in 0..60_usize {
        let age = if row.is_multiple_of(7) {
            String::new()
        } else {
            format!("{}", 20 + row % 37)
        };
        train.push_str(&format!(
            "{},\"Passenger, Mr Number {row} of the voyage\",{},{age},2012-04-{:02},{}\n",
            row + 1,
            ["1st", "2nd", "3rd"][row % 3],
            1 + row % 28,
            (row % 3 == 0) as u8
        ));
    }
    let mut test = String::from("id,name,class,age,boarded\n");
    let mut sample = String::from("id,survived\n");
    for row in 60..70 {
        test.push_str(&format!(
            "{},\"Passenger, Mrs Number {row} of the voyage\",{},{},2012-04-{:02}\n",
            row + 1,
            ["1st", "2nd", "3rd"][row % 3],
            20 + row % 37,
            1 + row % 28
        ));
        sample.push_str(&format!("{},0\n", row + 1));
    }
    task(dir, metric, &train, &test, &sample)
}

/// Tiny 4x4 images as pixel columns `pixel0`…`pixel15` and a digit label; 40 training rows, 10 test
/// rows.
pub(crate) fn pixel_images(dir: &Path) -> TaskBrief {
    let pixels = |row: usize| {
        (0..16)
            .map(|pixel| ((row * 7 + pixel * 3) % 17).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let names = (0..16)
        .map(|pixel| format!("pixel{pixel}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut train = format!("id,{names},label\n");
    for row in 0..40 {
        train.push_str(&format!("{},{},{}\n", row + 1, pixels(row), row % 4));
    }
    let mut test = format!("id,{names}\n");
    let mut sample = String::from("id,label\n");
    for row in 40..50 {
        test.push_str(&format!("{},{}\n", row + 1, pixels(row)));
        sample.push_str(&format!("{},0\n", row + 1));
    }
    task(dir, "accuracy", &train, &test, &sample)
}

/// The same task with its images as files: `train/<id>.png` and `test/<id>.png` beside CSVs of ids
/// (and labels), as MLE-bench's image competitions ship them. The files' content is not read here.
pub(crate) fn image_files(dir: &Path) -> TaskBrief {
    let mut train = String::from("id,label\n");
    let mut test = String::from("id\n");
    let mut sample = String::from("id,label\n");
    std::fs::create_dir_all(dir.join("train")).unwrap();
    std::fs::create_dir_all(dir.join("test")).unwrap();
    for row in 0..40 {
        train.push_str(&format!("{},{}\n", row + 1, row % 4));
        std::fs::write(dir.join(format!("train/{}.png", row + 1)), b"png").unwrap();
    }
    for row in 40..50 {
        test.push_str(&format!("{}\n", row + 1));
        sample.push_str(&format!("{},0\n", row + 1));
        std::fs::write(dir.join(format!("test/{}.png", row + 1)), b"png").unwrap();
    }
    task(dir, "accuracy", &train, &test, &sample)
}

pub(crate) fn schema_of(task: &TaskBrief) -> TaskSchema {
    schema::detect(task).unwrap()
}

pub(crate) fn request(
    stage: Stage,
    parent: Option<NodeView>,
    memory: Vec<MemoryEntry>,
    seed: u64,
) -> ProposalRequest {
    ProposalRequest {
        stage,
        parent,
        memory,
        buggy_ancestors: Vec::new(),
        budget: Budget {
            time_remaining: Duration::from_secs(3600),
            steps_remaining: 50,
            node_timeout: Duration::from_secs(600),
        },
        siblings_being_written: 0,
        seed,
    }
}

/// A finished node with this plan and code.
pub(crate) fn node(
    node: u32,
    plan: &str,
    code: &str,
    status: ExecutionStatus,
    output: &str,
) -> NodeView {
    NodeView {
        node,
        stage: Stage::Draft,
        plan: plan.to_string(),
        code: code.to_string(),
        output: output.to_string(),
        status,
        duration: Duration::from_secs(10),
        metric: match status {
            ExecutionStatus::Ok => Some(0.8),
            ExecutionStatus::Error
            | ExecutionStatus::Timeout
            | ExecutionStatus::Oom
            | ExecutionStatus::Killed
            | ExecutionStatus::DiskLimit => None,
        },
        buggy: status != ExecutionStatus::Ok,
        summary: String::new(),
        validation_message: None,
    }
}

pub(crate) fn memory(node: u32, plan: &str, metric: Option<f64>) -> MemoryEntry {
    MemoryEntry {
        node,
        plan: plan.to_string(),
        summary: String::new(),
        metric,
        buggy: metric.is_none(),
    }
}
