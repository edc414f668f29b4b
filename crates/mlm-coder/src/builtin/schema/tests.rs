use super::*;
use crate::builtin::fixtures::{passengers, schema_of, task};
use crate::builtin::FoldDesign;

fn kinds(schema: &TaskSchema) -> Vec<(&str, ColumnKind)> {
    schema
        .columns
        .iter()
        .map(|(name, kind)| (name.as_str(), *kind))
        .collect()
}

fn failure_message(brief: &TaskBrief) -> String {
    match detect(brief) {
        Err(error @ CoderError::Failed { .. }) => error.to_string(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn columns_are_classified_and_the_id_and_target_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_of(&passengers(dir.path(), "accuracy"));
    assert_eq!(
        kinds(&schema),
        vec![
            ("name", ColumnKind::Text),
            ("class", ColumnKind::Categorical),
            ("age", ColumnKind::Numeric),
            ("boarded", ColumnKind::Date),
        ]
    );
    assert!(schema.has_missing_numbers);
    assert_eq!(schema.modality, Modality::Tabular);
    assert_eq!(schema.target.kind, TargetKind::BinaryLabel);
    assert_eq!(schema.target.classes, vec!["0", "1"]);
    assert_eq!(schema.train_rows, 60);
}

#[test]
fn the_target_kind_follows_the_metric_and_the_sample_submission() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("accuracy", TargetKind::BinaryLabel),
        ("f1", TargetKind::BinaryLabel),
        ("roc_auc", TargetKind::BinaryProbability),
        ("log_loss", TargetKind::BinaryProbability),
        ("rmse", TargetKind::Regression),
        ("rmsle", TargetKind::Regression),
        ("mae", TargetKind::Regression),
        ("pearson", TargetKind::Regression),
        ("quadratic_weighted_kappa", TargetKind::Ordinal),
    ];
    for (metric, expected) in cases {
        let schema = schema_of(&passengers(dir.path(), metric));
        assert_eq!(schema.target.kind, expected, "{metric}");
        assert_eq!(
            schema.target.source,
            LabelSource::Column("survived".to_string())
        );
    }
    let three_classes = "id,x,animal\n1,0.5,cat\n2,0.1,dog\n3,0.7,bird\n4,0.2,cat\n";
    let brief = task(
        dir.path(),
        "f1_macro",
        three_classes,
        "id,x\n5,0.3\n",
        "id,animal\n5,cat\n",
    );
    assert_eq!(schema_of(&brief).target.kind, TargetKind::MulticlassLabel);
}

#[test]
fn several_probability_columns_are_classes_or_independent_labels() {
    let dir = tempfile::tempdir().unwrap();
    // Leaf-like: the classes are the sample's columns; train names them in a column test lacks.
    let brief = task(
        dir.path(),
        "log_loss",
        "id,width,species\n1,0.5,oak\n2,0.1,elm\n3,0.7,ash\n",
        "id,width\n4,0.3\n",
        "id,ash,elm,oak\n4,0.3,0.3,0.4\n",
    );
    let schema = schema_of(&brief);
    assert_eq!(schema.target.kind, TargetKind::MulticlassProbability);
    assert_eq!(
        schema.target.source,
        LabelSource::Column("species".to_string())
    );
    // Train holds the class columns one-hot.
    let brief = task(
        dir.path(),
        "log_loss",
        "id,width,ash,elm\n1,0.5,1,0\n2,0.1,0,1\n",
        "id,width\n3,0.3\n",
        "id,ash,elm\n3,0.5,0.5\n",
    );
    assert_eq!(schema_of(&brief).target.source, LabelSource::OneHotColumns);
    // AUC over several columns train holds: independent yes/no labels.
    let brief = task(
        dir.path(),
        "roc_auc",
        "id,text_length,toxic,obscene\n1,5,1,0\n2,7,0,1\n",
        "id,text_length\n3,4\n",
        "id,toxic,obscene\n3,0.5,0.5\n",
    );
    assert_eq!(
        schema_of(&brief).target.kind,
        TargetKind::MultilabelProbability
    );
    // Several numeric columns.
    let brief = task(
        dir.path(),
        "mcrmse",
        "id,x,cohesion,syntax\n1,5,3.5,2.0\n2,7,2.5,3.0\n",
        "id,x\n3,4\n",
        "id,cohesion,syntax\n3,3,3\n",
    );
    assert_eq!(schema_of(&brief).target.kind, TargetKind::Regression);
}

#[test]
fn unknown_column_types_are_an_error_naming_the_file_and_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let brief = task(
        dir.path(),
        "rmse",
        "id,embedding,y\n1,\"[0.1, 0.2]\",3\n2,\"[0.3, 0.1]\",4\n",
        "id,embedding\n3,\"[0.2, 0.2]\"\n",
        "id,y\n3,0\n",
    );
    let message = failure_message(&brief);
    assert!(message.contains("train.csv"), "{message}");
    assert!(message.contains("`embedding`"), "{message}");
    assert!(message.contains("serialised lists"), "{message}");
    assert!(message.contains("hint:"), "{message}");
}

#[test]
fn an_empty_test_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let brief = task(
        dir.path(),
        "accuracy",
        "id,x,y\n1,2,a\n2,3,b\n",
        "id,x\n",
        "id,y\n",
    );
    let message = failure_message(&brief);
    assert!(message.contains("test.csv"), "{message}");
    assert!(
        message.contains("no rows: there is nothing to predict"),
        "{message}"
    );
    let brief = task(
        dir.path(),
        "accuracy",
        "id,x,y\n1,2,a\n2,3,b\n",
        "",
        "id,y\n",
    );
    let message = failure_message(&brief);
    assert!(
        message.contains("test.csv: is missing, or is not a CSV file with a header row"),
        "{message}"
    );
}

#[test]
fn a_target_train_does_not_hold_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let brief = task(
        dir.path(),
        "accuracy",
        "id,x,y,z\n1,2,a,b\n2,3,b,c\n",
        "id,x\n3,4\n",
        "id,label\n3,a\n",
    );
    let message = failure_message(&brief);
    assert!(
        message.contains("train.csv: it has no column `label`"),
        "{message}"
    );
    assert!(message.contains("`y`, `z`"), "{message}");
}

#[test]
fn metrics_the_templates_cannot_compute_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let message = failure_message(&passengers(dir.path(), "map@3"));
    assert!(message.contains("`map@3`"), "{message}");
    let message = failure_message(&task(
        dir.path(),
        "rmsle",
        "id,x,y\n1,2,-1\n2,3,4\n",
        "id,x\n3,4\n",
        "id,y\n3,0\n",
    ));
    assert!(message.contains("negative values"), "{message}");
}

#[test]
fn pixel_columns_make_an_image_task_and_dominant_text_a_text_task() {
    let dir = tempfile::tempdir().unwrap();
    let header: Vec<String> = (0..20).map(|pixel| format!("pixel{pixel}")).collect();
    let row = |seed: usize| -> String {
        (0..20)
            .map(|pixel| ((pixel * 7 + seed * 3) % 17).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let train = format!(
        "id,{},label\n1,{},3\n2,{},5\n3,{},3\n",
        header.join(","),
        row(1),
        row(2),
        row(3)
    );
    let test = format!("id,{}\n4,{}\n", header.join(","), row(4));
    let brief = task(dir.path(), "accuracy", &train, &test, "id,label\n4,3\n");
    assert_eq!(schema_of(&brief).modality, Modality::Image);

    let brief = task(
        dir.path(),
        "roc_auc",
        "id,film,review,fresh\n1,a,a fine and moving film,1\n2,a,dull and far too long,0\n3,b,the best of the year,1\n",
        "id,film,review\n4,c,long but rewarding\n",
        "id,fresh\n4,0.5\n",
    );
    let schema = schema_of(&brief);
    assert_eq!(schema.modality, Modality::Text);
    // The films of test.csv are not in train.csv: the split was made by film.
    assert_eq!(schema.group_column(), Some("film"));
}

#[test]
fn a_competition_scored_by_map_at_k_is_refused_naming_the_metric() {
    let dir = tempfile::tempdir().unwrap();
    let message = failure_message(&passengers(dir.path(), "map@3"));
    assert!(
        message.contains("map@3") && message.contains("hint: use an LLM coder"),
        "{message}"
    );
}

#[test]
fn a_missing_training_table_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let brief = TaskBrief {
        train_sample: None,
        ..passengers(dir.path(), "accuracy")
    };
    let message = failure_message(&brief);
    assert!(
        message.contains("train.csv: is missing") && message.contains("hint:"),
        "{message}"
    );
}

/// A forecast: train.csv runs in time and test.csv starts where it ends, so the run's folds follow
/// time. A column that happens to run in order with few values (a season), or a split that interleaves
/// the days, says nothing.
#[test]
fn a_split_by_time_is_found_from_a_column_that_train_runs_in_and_test_continues() {
    let dir = tempfile::tempdir().unwrap();
    let rows = |days: std::ops::Range<u32>| -> String {
        days.map(|day| format!("{day},{},{day}\n", day / 40 + 1))
            .collect()
    };
    let forecast = task(
        dir.path(),
        "rmse",
        &format!(
            "id,season,day,riders\n{}",
            rows(1..81).replace('\n', ",5\n")
        ),
        &format!("id,season,day\n{}", rows(80..101)),
        "id,riders\n80,0\n",
    );
    let schema = schema_of(&forecast);
    assert_eq!(schema.split_order_column.as_deref(), Some("day"));
    assert_eq!(
        FoldDesign::for_task(&forecast),
        FoldDesign::TimeOrdered {
            order_column: "day".to_string()
        }
    );

    let dir = tempfile::tempdir().unwrap();
    let odd: String = (1..81)
        .filter(|day| day % 2 == 1)
        .map(|day| format!("{day},{},{day},5\n", day / 40 + 1))
        .collect();
    let even: String = (1..81)
        .filter(|day| day % 2 == 0)
        .map(|day| format!("{day},{},{day}\n", day / 40 + 1))
        .collect();
    let interleaved = task(
        dir.path(),
        "rmse",
        &format!("id,season,day,riders\n{odd}"),
        &format!("id,season,day\n{even}"),
        "id,riders\n2,0\n",
    );
    assert_eq!(schema_of(&interleaved).split_order_column, None);
    assert_eq!(FoldDesign::for_task(&interleaved), FoldDesign::Plain);
}
