//! `ml-master grade`: one submission into MLE-bench's report, or a JSONL batch into the aggregate report.

use std::path::Path;

use anyhow::{anyhow, Context};
use mlm_agent::prepared_recipe;
use mlm_grade::{grade_batch, CompetitionReport, Grader};
use mlm_task::Task;

use crate::cli::{GradeArguments, TaskArguments};
use crate::failure::{CommandResult, Failure};
use crate::reporter::TerminalReporter;

pub fn run(arguments: GradeArguments) -> CommandResult {
    match (&arguments.task, &arguments.submission, &arguments.batch, &arguments.output_dir) {
        (Some(task_dir), Some(submission), None, _) => grade_one(
            task_dir,
            submission,
            &arguments.task_arguments,
            arguments.python.python.as_deref(),
            arguments.json,
        ),
        (None, None, Some(batch), Some(output_dir)) => grade_many(batch, output_dir, &arguments),
        _ => Err(Failure::bad_input(anyhow!(
            "grade takes either --task DIR --submission FILE, or --batch FILE.jsonl --output-dir DIR"
        ))),
    }
}

/// Loads a competition and its grader; every problem here is bad input. A recipe is prepared first
/// (once; its prepared copy is reused), as `run --task` does, with `python` or the managed environment.
pub fn load_grader(
    task_dir: &Path,
    task_arguments: &TaskArguments,
    python: Option<&Path>,
) -> Result<Grader, Failure> {
    let prepared = prepared_recipe(task_dir, python, &mut TerminalReporter)?;
    let task = Task::load(
        prepared.as_deref().unwrap_or(task_dir),
        task_arguments.registry.as_deref(),
    )
    .map_err(Failure::bad_input)?;
    Grader::for_task(&task).map_err(Failure::bad_input)
}

fn grade_one(
    task_dir: &Path,
    submission: &Path,
    task_arguments: &TaskArguments,
    python: Option<&Path>,
    json: bool,
) -> CommandResult {
    let grader = load_grader(task_dir, task_arguments, python)?;
    let report = grader.grade_file(submission);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(Failure::job)?
        );
    } else {
        print!("{}", describe(&report));
    }
    if report.valid_submission {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}

fn grade_many(batch: &Path, output_dir: &Path, arguments: &GradeArguments) -> CommandResult {
    let find_task = |competition_id: &str| {
        Task::load(
            &arguments.data_dir.join(competition_id),
            arguments.task_arguments.registry.as_deref(),
        )
    };
    let report = grade_batch(batch, &find_task).map_err(Failure::bad_input)?;
    std::fs::create_dir_all(output_dir)
        .with_context(|| {
            format!(
                "{}: cannot create the output directory",
                output_dir.display()
            )
        })
        .map_err(Failure::job)?;
    let timestamp = chrono::Local::now().format("%Y-%m-%dT%H-%M-%S-%Z");
    let path = output_dir.join(format!("{timestamp}_grading_report.json"));
    let text = serde_json::to_string_pretty(&report).map_err(Failure::job)?;
    std::fs::write(&path, text)
        .with_context(|| format!("{}: cannot write the report", path.display()))
        .map_err(Failure::job)?;
    let summary = format!(
        "Graded {} submissions: {} present, {} valid, {} medals ({} gold, {} silver, {} bronze), {} above median",
        report.total_runs,
        report.total_runs_with_submissions,
        report.total_valid_submissions,
        report.total_medals,
        report.total_gold_medals,
        report.total_silver_medals,
        report.total_bronze_medals,
        report.total_above_median
    );
    // stdout carries the result: the JSON object with --json, else the human summary.
    if arguments.json {
        println!("{}", serde_json::to_string(&report).map_err(Failure::job)?);
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    eprintln!("Saved the report to {}", path.display());
    Ok(())
}

/// The human form of a report, for stdout.
fn describe(report: &CompetitionReport) -> String {
    let mut text = format!("{}: {}\n", report.competition_id, report.submission_path);
    match (&report.score, &report.invalid_reason) {
        (Some(score), _) => {
            text.push_str("  valid submission\n");
            let direction = if report.is_lower_better {
                "lower is better"
            } else {
                "higher is better"
            };
            text.push_str(&format!(
                "  score: {score} ({}, {direction})\n",
                report.metric
            ));
        }
        (None, Some(reason)) => text.push_str(&format!("  Submission invalid! {reason}\n")),
        (None, None) => text.push_str("  Submission invalid!\n"),
    }
    match (
        &report.medals_note,
        report.gold_threshold,
        report.silver_threshold,
        report.bronze_threshold,
        report.median_threshold,
    ) {
        (None, Some(gold), Some(silver), Some(bronze), Some(median)) => {
            let medal = match (report.gold_medal, report.silver_medal, report.bronze_medal) {
                (Some(true), _, _) => "gold",
                (_, Some(true), _) => "silver",
                (_, _, Some(true)) => "bronze",
                _ => "none",
            };
            text.push_str(&format!(
                "  medal: {medal} (gold {gold}, silver {silver}, bronze {bronze}); above median ({median}): {}\n",
                if report.above_median == Some(true) { "yes" } else { "no" }
            ));
        }
        (Some(note), ..) => text.push_str(&format!("  medals: {note}\n")),
        (None, ..) => {}
    }
    text
}
