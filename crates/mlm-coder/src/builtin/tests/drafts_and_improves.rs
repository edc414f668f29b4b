//! Drafts rotate through families; improves change exactly one option, skip what siblings tried,
//! defer what hurt them and respect the time budget.

use std::collections::BTreeSet;

use mlm_search::Stage;

use super::{block_on, changed_keys, family_of, propose};
use crate::builtin::family::{Family, ALL_FAMILIES};
use crate::builtin::fixtures::{
    image_files, memory, node, passengers, pixel_images, request, schema_of,
};
use crate::builtin::moves::{candidates, Setting};
use crate::builtin::options::ScriptOptions;
use crate::builtin::render::{render, FIRST_SEED};
use crate::builtin::{BuiltinCoder, ImproveChoice};
use crate::operator::Coder;
use crate::operator::ExecutionStatus;

#[test]
fn drafts_take_the_strongest_family_no_earlier_draft_used() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "roc_auc");
    let first = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    assert_eq!(family_of(&first), Family::LightGbm);
    assert!(
        first.plan.starts_with("LightGBM gradient boosting: "),
        "{}",
        first.plan
    );
    assert_eq!(Family::named_in(&first.plan), Some(Family::LightGbm));

    let tried = vec![memory(0, &first.plan, Some(0.8))];
    let second = propose(&task, &request(Stage::Draft, None, tried, 0));
    assert_eq!(family_of(&second), Family::CatBoost);
    assert!(second
        .plan
        .contains("Earlier drafts used LightGBM gradient boosting"));

    let all_but_one: Vec<_> = ALL_FAMILIES
        .iter()
        .filter(|family| **family != Family::KNearestNeighbours)
        .enumerate()
        .map(|(index, family)| {
            memory(
                index as u32,
                &format!("{}: a draft", family.plan_name()),
                None,
            )
        })
        .collect();
    let last = propose(&task, &request(Stage::Draft, None, all_but_one, 0));
    assert_eq!(family_of(&last), Family::KNearestNeighbours);
}

#[test]
fn proposals_are_deterministic_and_ignore_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let first = propose(&task, &request(Stage::Draft, None, Vec::new(), 3));
    assert_eq!(
        first,
        propose(&task, &request(Stage::Draft, None, Vec::new(), 3))
    );
    assert_eq!(
        first,
        propose(&task, &request(Stage::Draft, None, Vec::new(), 12_345))
    );
}

#[test]
fn drafts_and_improves_written_in_parallel_take_the_next_choices() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let mut second = request(Stage::Draft, None, Vec::new(), 0);
    second.siblings_being_written = 1;
    assert_eq!(family_of(&propose(&task, &second)), Family::CatBoost);
    second.siblings_being_written = 20;
    assert_eq!(
        family_of(&propose(&task, &second)),
        Family::KNearestNeighbours
    );

    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let parent = node(1, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    let mut improve = request(Stage::Improve, Some(parent), Vec::new(), 0);
    improve.siblings_being_written = 1;
    let child = propose(&task, &improve);
    // The first move is target encoding; the sibling written beside it takes the second.
    assert!(
        child
            .plan
            .ends_with("[option categorical_encoding = one_hot, was ordinal]"),
        "{}",
        child.plan
    );
}

#[test]
fn once_every_family_was_drafted_a_draft_averages_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let everything: Vec<_> = ALL_FAMILIES
        .iter()
        .enumerate()
        .map(|(index, family)| {
            memory(
                index as u32,
                &format!("{}: a draft", family.plan_name()),
                None,
            )
        })
        .collect();
    let proposal = propose(&task, &request(Stage::Draft, None, everything, 0));
    assert_eq!(ScriptOptions::from_code(&proposal.code).unwrap().seeds, 3);
    assert!(proposal
        .plan
        .contains("Every family has been drafted already"));
}

#[test]
fn scripts_are_complete_and_record_their_options_on_the_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "roc_auc");
    let schema = schema_of(&task);
    for family in ALL_FAMILIES {
        let options = ScriptOptions::draft(family, &schema);
        let code = render(&schema, &options, "A plan.", FIRST_SEED).unwrap();
        assert!(
            code.starts_with("# ml-master-builtin: {\"family\""),
            "{family:?}"
        );
        assert_eq!(ScriptOptions::from_code(&code), Some(options));
        for needle in [
            "./input/train.csv",
            "./input/test.csv",
            "./input/sample_submission.csv",
            "./metrics.json",
            "./submission/submission.csv",
            "OMP_NUM_THREADS",
            "roc_auc_score",
        ] {
            assert!(code.contains(needle), "{family:?} lacks {needle}");
        }
        assert!(
            !code.contains("{{") && !code.contains("{%"),
            "{family:?}: template syntax left"
        );
    }
}

#[test]
fn every_improve_move_changes_exactly_the_option_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_of(&passengers(dir.path(), "accuracy"));
    for family in ALL_FAMILIES {
        let mut options = ScriptOptions::draft(family, &schema);
        // Moves from early-stopped boosting and from ensembles too.
        for step in 0..3 {
            let moves = candidates(&options, &schema);
            assert!(!moves.is_empty(), "{family:?} has no move");
            for candidate in &moves {
                let mut changed = changed_keys(&options, &candidate.options);
                // "Trees with early stopping" is one setting: switching it on raises the allowance.
                if candidate.setting == Setting::EarlyStopping {
                    changed.remove("trees");
                }
                assert_eq!(
                    changed,
                    BTreeSet::from([candidate.setting.key().to_string()]),
                    "{family:?}: {}",
                    candidate.description
                );
            }
            options = moves[step.min(moves.len() - 1)].options.clone();
        }
    }
}

#[test]
fn an_improve_changes_one_option_that_the_childs_header_and_plan_record() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let parent = node(4, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    let child = propose(
        &task,
        &request(Stage::Improve, Some(parent.clone()), Vec::new(), 0),
    );
    assert_eq!(
        child.plan,
        "Improve: Encode categories by their mean target, fitted inside each fold. Everything else in the LightGBM gradient boosting script stays as it was. [option categorical_encoding = target, was ordinal]"
    );
    let before = ScriptOptions::from_code(&draft.code).unwrap();
    let after = ScriptOptions::from_code(&child.code).unwrap();
    assert_eq!(
        changed_keys(&before, &after),
        BTreeSet::from(["categorical_encoding".to_string()])
    );
    assert!(child.code.contains("TargetEncoder(random_state=SEED)"));

    // A sibling already tried that: the next improve tries another encoding.
    let sibling = memory(5, &child.plan, Some(0.81));
    let next = propose(
        &task,
        &request(Stage::Improve, Some(parent), vec![sibling], 0),
    );
    assert!(
        next.plan
            .ends_with("[option categorical_encoding = one_hot, was ordinal]"),
        "{}",
        next.plan
    );
    let after = ScriptOptions::from_code(&next.code).unwrap();
    assert_eq!(
        changed_keys(&before, &after),
        BTreeSet::from(["categorical_encoding".to_string()])
    );
}

#[test]
fn boosting_drafts_stop_early_and_a_lower_learning_rate_is_the_last_move() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_of(&passengers(dir.path(), "accuracy"));
    for family in [Family::LightGbm, Family::XgBoost, Family::CatBoost] {
        let options = ScriptOptions::draft(family, &schema);
        assert_eq!(
            options.hyperparameters.early_stopping,
            Some(crate::builtin::options::Switch::On),
            "{family:?}"
        );
        let code = render(&schema, &options, "a draft", FIRST_SEED).unwrap();
        // The refit trains the rounds the folds' early stopping found.
        assert!(
            code.contains("\"rounds\": 1000, \"stops_early\": True"),
            "{family:?}"
        );
        assert!(code.contains("final_rounds = {"), "{family:?}");
        let moves = candidates(&options, &schema);
        assert_eq!(
            moves.last().map(|last| last.setting),
            Some(Setting::LearningRate),
            "{family:?}"
        );
        assert!(
            moves
                .iter()
                .filter(|candidate| candidate.setting == Setting::LearningRate)
                .count()
                == 1,
            "{family:?}"
        );
    }
}

#[test]
fn an_improve_defers_settings_whose_change_made_a_sibling_worse() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let schema = schema_of(&task);
    let options = ScriptOptions::draft(Family::Linear, &schema);
    let code = render(&schema, &options, "Linear model: a draft.", FIRST_SEED).unwrap();
    let mut parent = node(1, "Linear model: a draft.", &code, ExecutionStatus::Ok, "");
    parent.metric = Some(0.80);
    // Without memory the first move raises C; a sibling that lowered C did worse.
    let first = propose(
        &task,
        &request(Stage::Improve, Some(parent.clone()), Vec::new(), 0),
    );
    assert!(
        first
            .plan
            .ends_with("[option inverse_regularization = 4.0, was 1.0]"),
        "{}",
        first.plan
    );
    let worse = memory(
        2,
        "Improve: regularise more. [option inverse_regularization = 0.25]",
        Some(0.70),
    );
    let next = propose(
        &task,
        &request(Stage::Improve, Some(parent), vec![worse], 0),
    );
    assert!(
        !next.plan.contains("inverse_regularization"),
        "{}",
        next.plan
    );
}

#[test]
fn an_improve_turns_another_knob_and_never_undoes_the_change_that_made_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let schema = schema_of(&task);
    let mut options = ScriptOptions::draft(Family::Linear, &schema);
    options.hyperparameters.inverse_regularization = Some(4.0);
    let plan = "Improve: Regularise less: C from 1.0 to 4.0. Everything else in the Linear model \
                script stays as it was. [option inverse_regularization = 4.0, was 1.0]";
    let code = render(&schema, &options, plan, FIRST_SEED).unwrap();
    let parent = node(2, plan, &code, ExecutionStatus::Ok, "");

    // C was the parent's own change: another setting comes first.
    let child = propose(
        &task,
        &request(Stage::Improve, Some(parent.clone()), Vec::new(), 0),
    );
    let expected = "[option categorical_encoding = target, was ordinal]";
    assert!(child.plan.ends_with(expected), "{}", child.plan);

    // Once everything else was tried, C goes on, but never back to the grandparent's 1.0.
    let everything_else: Vec<_> = candidates(&options, &schema)
        .iter()
        .filter(|candidate| candidate.setting.key() != "inverse_regularization")
        .enumerate()
        .map(|(index, candidate)| {
            let plan = format!("[option {} = {}]", candidate.setting.key(), candidate.to);
            memory(10 + index as u32, &plan, Some(0.8))
        })
        .collect();
    let last = propose(
        &task,
        &request(Stage::Improve, Some(parent), everything_else, 0),
    );
    let expected = "[option inverse_regularization = 16.0, was 4.0]";
    assert!(last.plan.ends_with(expected), "{}", last.plan);
}

#[test]
fn an_improve_leaves_out_changes_the_time_budget_cannot_afford() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let mut parent = node(1, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    parent.duration = std::time::Duration::from_secs(100);
    let mut tight = request(Stage::Improve, Some(parent.clone()), Vec::new(), 0);
    tight.budget.node_timeout = std::time::Duration::from_secs(150);
    let child = propose(&task, &tight);
    // 60% of 150 s leaves 90 s: a new encoding (about 110 s) no longer fits, smaller trees (80 s) do.
    assert!(
        child.plan.ends_with("[option num_leaves = 7, was 15]"),
        "{}",
        child.plan
    );
    // The same when the run has 85 s left, whatever the node timeout.
    let mut late = request(Stage::Improve, Some(parent), Vec::new(), 0);
    late.budget.time_remaining = std::time::Duration::from_secs(85);
    let child = propose(&task, &late);
    assert!(
        child.plan.ends_with("[option num_leaves = 7, was 15]"),
        "{}",
        child.plan
    );
}

/// `bench --ablate moves`'s baseline: the first untried change of the list, whatever it costs and
/// however a sibling that made the same change fared.
#[test]
fn the_in_order_choice_ignores_the_budget_and_the_siblings_losses() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let in_order = BuiltinCoder::new().with_improve_choice(ImproveChoice::InOrder);
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let mut parent = node(1, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    parent.duration = std::time::Duration::from_secs(100);
    let mut tight = request(Stage::Improve, Some(parent), Vec::new(), 0);
    tight.budget.node_timeout = std::time::Duration::from_secs(150);
    let planned = propose(&task, &tight);
    let unplanned = block_on(in_order.propose(&task, &tight)).unwrap();
    assert!(
        planned.plan.ends_with("[option num_leaves = 7, was 15]"),
        "{}",
        planned.plan
    );
    assert!(
        unplanned
            .plan
            .ends_with("[option categorical_encoding = target, was ordinal]"),
        "the 110-s encoding the planned choice leaves out: {}",
        unplanned.plan
    );

    let schema = schema_of(&task);
    let options = ScriptOptions::draft(Family::Linear, &schema);
    let code = render(&schema, &options, "Linear model: a draft.", FIRST_SEED).unwrap();
    let mut linear = node(1, "Linear model: a draft.", &code, ExecutionStatus::Ok, "");
    linear.metric = Some(0.80);
    let worse = memory(
        2,
        "Improve: regularise more. [option inverse_regularization = 0.25]",
        Some(0.70),
    );
    let after_a_loss = block_on(in_order.propose(
        &task,
        &request(Stage::Improve, Some(linear), vec![worse], 0),
    ))
    .unwrap();
    assert!(
        after_a_loss
            .plan
            .ends_with("[option inverse_regularization = 4.0, was 1.0]"),
        "{}",
        after_a_loss.plan
    );
}

#[test]
fn image_tasks_draft_a_convolutional_network_first_only_where_torch_imports() {
    for write in [pixel_images, image_files] {
        let dir = tempfile::tempdir().unwrap();
        let mut task = write(dir.path());
        let without_torch = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
        assert_eq!(family_of(&without_torch), Family::MultilayerPerceptron);
        assert!(!without_torch.code.contains("import torch"));

        task.installed_packages.push("torch".to_string());
        let first = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
        assert_eq!(family_of(&first), Family::ConvolutionalNetwork);
        assert!(
            first.plan.starts_with("Convolutional network: "),
            "{}",
            first.plan
        );
        for needle in [
            "torch.set_num_threads(THREADS)",
            "torch.cuda.is_available()",
            "TRAINING_SECONDS = 300",
            "./metrics.json",
            "./submission/submission.csv",
        ] {
            assert!(
                first.code.contains(needle),
                "the network's script lacks {needle}"
            );
        }
        assert!(!first.code.contains("{{") && !first.code.contains("{%"));
        let second = propose(
            &task,
            &request(
                Stage::Draft,
                None,
                vec![memory(0, &first.plan, Some(0.9))],
                0,
            ),
        );
        assert_eq!(family_of(&second), Family::MultilayerPerceptron);
    }
}

#[test]
fn image_files_become_pixel_columns_for_the_table_families() {
    let dir = tempfile::tempdir().unwrap();
    let task = image_files(dir.path());
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    assert!(draft
        .code
        .contains("IMAGE_FOLDERS = {\"train\": \"train\", \"test\": \"test\"}"));
    assert!(draft.code.contains("IMAGE_SUFFIX = \".png\""));
    assert!(draft
        .code
        .contains("train, NUMERIC_COLUMNS = with_pixels(train, \"train\")"));
    assert!(
        draft
            .plan
            .contains("the image files in train/ and test/ resized to 16×16 pixels"),
        "{}",
        draft.plan
    );
}

#[test]
fn a_networks_improves_change_width_epochs_augmentation_or_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = pixel_images(dir.path());
    task.installed_packages.push("torch".to_string());
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let options = ScriptOptions::from_code(&draft.code).unwrap();
    let settings: Vec<Setting> = candidates(&options, &schema_of(&task))
        .iter()
        .map(|candidate| candidate.setting)
        .collect();
    assert_eq!(
        settings,
        [
            Setting::Augmentation,
            Setting::Channels,
            Setting::Epochs,
            Setting::LearningRate
        ]
    );
    let parent = node(1, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    let child = propose(&task, &request(Stage::Improve, Some(parent), Vec::new(), 0));
    assert!(
        child.plan.ends_with("[option augmentation = on, was off]"),
        "{}",
        child.plan
    );
    assert_eq!(
        changed_keys(&options, &ScriptOptions::from_code(&child.code).unwrap()),
        BTreeSet::from(["augmentation".to_string()])
    );
}

/// A bench's seeds must measure different models even where the run's folds are the same for every
/// seed (time-ordered ones): the run's seed seeds the scripts' models, and an improve keeps its parent's.
#[test]
fn a_runs_seed_seeds_its_scripts_models_and_improves_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let seeded_line = |code: &str| {
        code.lines()
            .find(|line| line.starts_with("SEED = "))
            .unwrap()
            .to_string()
    };
    let draft = request(Stage::Draft, None, Vec::new(), 0);
    let first_run = propose(&task, &draft);
    let third_run = block_on(BuiltinCoder::new().with_run_seed(2).propose(&task, &draft)).unwrap();
    assert_eq!(seeded_line(&first_run.code), "SEED = 42");
    assert_eq!(seeded_line(&third_run.code), "SEED = 44");
    assert!(
        third_run.code.contains("SEEDS = [44]"),
        "{}",
        third_run.code
    );

    let mut parent = node(1, &third_run.plan, &third_run.code, ExecutionStatus::Ok, "");
    parent.metric = Some(0.8);
    let improve = block_on(
        BuiltinCoder::new()
            .with_run_seed(2)
            .propose(&task, &request(Stage::Improve, Some(parent), Vec::new(), 0)),
    )
    .unwrap();
    assert_eq!(seeded_line(&improve.code), "SEED = 44", "{}", improve.plan);
}
