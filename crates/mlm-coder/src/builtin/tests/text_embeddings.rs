//! `[builtin] text_model`: with a local model and an interpreter that imports torch and transformers,
//! the first draft of a task with text columns embeds them; without any of the three, drafts stay as
//! they were (TF-IDF).

use std::path::PathBuf;

use mlm_search::Stage;

use super::{changed_keys, family_of, propose};
use crate::builtin::family::Family;
use crate::builtin::fixtures::{memory, node, passengers, request, schema_of};
use crate::builtin::moves::{candidates, Setting};
use crate::builtin::options::ScriptOptions;
use crate::operator::{ExecutionStatus, TaskBrief};

const MODEL: &str = "/models/tiny-bert";

fn with_model(mut task: TaskBrief, packages: &[&str]) -> TaskBrief {
    task.text_model = Some(PathBuf::from(MODEL));
    task.installed_packages
        .extend(packages.iter().map(|package| package.to_string()));
    task
}

#[test]
fn the_first_draft_embeds_the_text_only_with_a_model_torch_and_transformers() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "roc_auc");
    for unusable in [
        task.clone(),
        with_model(task.clone(), &["torch"]),
        with_model(task.clone(), &["transformers"]),
    ] {
        let draft = propose(&unusable, &request(Stage::Draft, None, Vec::new(), 0));
        assert_eq!(family_of(&draft), Family::LightGbm);
        assert!(draft.code.contains("TfidfVectorizer("));
        assert!(!draft.code.contains("transformers"));
    }

    let task = with_model(task, &["torch", "transformers"]);
    let first = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    assert_eq!(family_of(&first), Family::TextEmbeddings);
    assert!(
        first
            .plan
            .starts_with("Text embeddings: logistic regression (C 1, texts cut at 256 tokens"),
        "{}",
        first.plan
    );
    assert!(first.plan.contains(MODEL), "{}", first.plan);
    for needle in [
        "from transformers import AutoModel, AutoTokenizer",
        &format!("TEXT_MODEL = \"{MODEL}\""),
        "MAX_TOKENS = 256",
        "AutoModel.from_pretrained(TEXT_MODEL, local_files_only=True)",
        "torch.set_num_threads(THREADS)",
        "torch.cuda.is_available()",
        "LogisticRegression(C=1.0",
        "./input/folds.csv",
        "oof.csv",
    ] {
        assert!(first.code.contains(needle), "the script lacks {needle}");
    }
    assert!(!first.code.contains("TfidfVectorizer"), "{}", first.code);
    assert!(!first.code.contains("{{") && !first.code.contains("{%"));

    let second = propose(
        &task,
        &request(
            Stage::Draft,
            None,
            vec![memory(0, &first.plan, Some(0.8))],
            0,
        ),
    );
    assert_eq!(family_of(&second), Family::LightGbm, "{}", second.plan);
}

#[test]
fn an_embedding_scripts_improves_change_the_regularisation_or_the_tokens_read() {
    let dir = tempfile::tempdir().unwrap();
    let task = with_model(
        passengers(dir.path(), "roc_auc"),
        &["torch", "transformers"],
    );
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let options = ScriptOptions::from_code(&draft.code).unwrap();
    let settings: Vec<Setting> = candidates(&options, &schema_of(&task))
        .iter()
        .map(|candidate| candidate.setting)
        .collect();
    assert_eq!(
        settings[..4],
        [
            Setting::InverseRegularization,
            Setting::InverseRegularization,
            Setting::MaxTokens,
            Setting::MaxTokens
        ]
    );
    let parent = node(1, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    let child = propose(&task, &request(Stage::Improve, Some(parent), Vec::new(), 0));
    let child_options = ScriptOptions::from_code(&child.code).unwrap();
    assert_eq!(child_options.family, Family::TextEmbeddings);
    assert_eq!(
        changed_keys(&options, &child_options).len(),
        1,
        "{}",
        child.plan
    );
}
