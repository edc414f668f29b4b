//! `[builtin] text_model`: a run whose configuration names a local Hugging Face model directory drafts
//! text embeddings first on a text task, its scripts reading the model through the sandbox; a path that
//! is no model directory is refused before the run starts. The model is a tiny random BERT built here,
//! so that no weights are downloaded.

use std::path::Path;

use mlm_journal::Journal;

use crate::support::{deep_python, ml_master, path, prepared_task};

/// Words the tiny model's vocabulary holds besides BERT's special tokens: enough of a review's words
/// that most texts are not all `[UNK]`.
const VOCABULARY: &str = "the a an and or but of to in on at for with is was it its this that as by \
    from be are not no very too so more most than just all one film movie story plot script director \
    acting actors cast performance characters character good bad great best worst funny boring dull \
    fun smart clever beautiful charming moving predictable mess love like hate entertaining \
    compelling tedious . , ! ? ' -";

/// Builds a random one-layer BERT with a word-piece tokenizer in `dir` with the deep profile's Python.
fn write_tiny_model(dir: &Path) {
    let script = format!(
        r#"
import os, sys
from transformers import BertConfig, BertModel, BertTokenizerFast
directory = sys.argv[1]
os.makedirs(directory, exist_ok=True)
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "{VOCABULARY}".split()
with open(os.path.join(directory, "vocab.txt"), "w") as vocabulary:
    vocabulary.write("\n".join(words) + "\n")
tokenizer = BertTokenizerFast(vocab_file=os.path.join(directory, "vocab.txt"), do_lower_case=True)
tokenizer.save_pretrained(directory)
config = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
BertModel(config).save_pretrained(directory)
"#
    );
    let output = std::process::Command::new(deep_python())
        .args(["-c", &script, path(dir)])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[cfg_attr(
    missing_transformers,
    ignore = "no torch or transformers when the tests were built: run `cargo run -- env setup --profile deep`"
)]
fn a_local_text_model_makes_the_first_text_draft_embed_the_reviews() {
    let scratch = tempfile::tempdir().unwrap();
    let model = scratch.path().join("tiny-bert");
    write_tiny_model(&model);
    let config = scratch.path().join("ml-master.toml");
    // One worker, so that node 0 is the first draft: with two, the second draft (a TF-IDF model) can take
    // the slot first and finish as node 0.
    std::fs::write(
        &config,
        format!(
            "[run]\nslots = 1\nworkers = 1\n[search]\nensemble = false\nreselect_candidates = 0\n[builtin]\ntext_model = {:?}\n",
            path(&model)
        ),
    )
    .unwrap();
    let run_dir = scratch.path().join("run");
    let task = prepared_task("rotten-tomatoes");
    let output = ml_master()
        .env("ML_MASTER_PYTHON", deep_python())
        .args([
            "run",
            "--task",
            path(&task),
            "--config",
            path(&config),
            "--steps",
            "2",
            "--time-limit",
            "900",
            "--run-dir",
            path(&run_dir),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let nodes = journal.nodes().unwrap();
    let first = &nodes[0];
    assert!(
        first
            .plan
            .starts_with("Text embeddings: logistic regression"),
        "{}",
        first.plan
    );
    assert!(first.outcome.is_valid(), "{}", first.output);
    assert!(
        first
            .output
            .contains("text embeddings: 1 text column(s) x 32 dimensions from"),
        "{}",
        first.output
    );
    assert!(first.oof_path.is_some() && first.test_predictions_path.is_some());
    // `resume` reads the model back from the run's recorded configuration.
    let recorded = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        recorded.contains(&format!("text_model = {:?}", path(&model))),
        "{recorded}"
    );
}

#[test]
fn a_text_model_that_is_not_a_model_directory_stops_the_run_before_it_starts() {
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("no-model-here");
    let run_dir = scratch.path().join("run");
    let output = ml_master()
        .env("ML_MASTER_TEXT_MODEL", &missing)
        .args([
            "run",
            "--task",
            path(&prepared_task("rotten-tomatoes")),
            "--run-dir",
            path(&run_dir),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "[builtin] text_model = {}: no such directory",
            path(&missing)
        )) && stderr.contains("hint: "),
        "{stderr}"
    );
    assert!(!run_dir.exists(), "nothing is written");
}
