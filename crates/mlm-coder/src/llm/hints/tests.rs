use super::*;
use crate::builtin::fixtures;
use crate::operator::ExecutionStatus;

/// The bundled titanic task's columns, 30 passengers with some ages missing and a train-only target.
fn titanic(dir: &std::path::Path) -> TaskBrief {
    let mut train = String::from("PassengerId,Name,Class,Age,Sex,Survived\n");
    for id in 1..=30 {
        let age = if id % 3 == 0 {
            String::new()
        } else {
            (20 + id).to_string()
        };
        let (class, sex) = (["1st", "2nd", "3rd"][id % 3], ["female", "male"][id % 2]);
        let name = match id {
            2 => "Harris, Mrs Henry".to_string(),
            _ => format!("Passenger, Mr Number {id}"),
        };
        train.push_str(&format!("{id},\"{name}\",{class},{age},{sex},{}\n", id % 2));
    }
    fixtures::task(
        dir,
        "accuracy",
        &train,
        "PassengerId,Name,Class,Age,Sex\n31,\"Smith, Mr Lucien Philip\",1st,,male\n",
        "PassengerId,Survived\n31,0\n",
    )
}

/// The script the tracebacks below stopped in, at line 9.
const SCRIPT: &str = "import pandas as pd\n\ntrain = pd.read_csv('./input/train.csv')\n\n\n\n\n\n\
                      train.dropna(subset=['Age', 'Embarked', 'Fare'], inplace=True)\n";

/// The tail of a traceback as Python prints it, after pandas' own frames.
fn traceback(last_line: &str) -> String {
    format!(
        "/run/attempt-4/solution.py:9: Pandas4Warning: The inplace keyword in DataFrame.dropna is deprecated\n\
         Traceback (most recent call last):\n  File \"/run/attempt-4/solution.py\", line 9, in <module>\n    \
         train.dropna(subset=['Age', 'Embarked', 'Fare'], inplace=True)\n{last_line}\n"
    )
}

/// The hints for a debug of `code`, which failed printing `output`, with the task's starting script
/// as the LLM coder renders it.
fn hints_for(code: &str, output: &str, task: &TaskBrief) -> Vec<String> {
    let parent = fixtures::node(1, "A draft.", code, ExecutionStatus::Error, output);
    let starting_script = crate::llm::Prompts::load(None)
        .unwrap()
        .starting_script(task)
        .unwrap();
    debug_hints(&parent, task, starting_script.as_deref())
}

/// The hints after a traceback of [`SCRIPT`] that ends with `last_line`, on the titanic columns.
fn hints_after(last_line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    hints_for(SCRIPT, &traceback(last_line), &titanic(dir.path()))
}

#[test]
fn columns_of_another_version_of_the_data_set_are_named_with_the_real_columns() {
    let hints = hints_after("KeyError: ['Embarked', 'Fare']");
    assert_eq!(
        hints,
        vec![
            "`Embarked` and `Fare` are not columns of train.csv or test.csv: this data set differs \
             from other versions you may know, so remove every use of them. train.csv has exactly the \
             columns `PassengerId`, `Name`, `Class`, `Age`, `Sex` and `Survived`; test.csv has \
             `PassengerId`, `Name`, `Class`, `Age` and `Sex`."
        ]
    );
}

#[test]
fn the_target_read_from_the_test_file_is_named_as_train_only() {
    let hints = hints_after("KeyError: \"['Survived'] not found in axis\"");
    assert_eq!(hints.len(), 1);
    assert!(
        hints[0].starts_with(
            "`Survived` is in train.csv only: test.csv has no such column, so do not select, drop or \
             fill it on the test data."
        ),
        "{}",
        hints[0]
    );
}

#[test]
fn a_column_both_files_have_was_removed_by_the_script() {
    let hints =
        hints_after("KeyError: \"None of [Index(['Sex'], dtype='object')] are in the [columns]\"");
    assert!(
        hints[0].starts_with(
            "`Sex` is in the data files, so the script removed or renamed it before the failing line."
        ),
        "{}",
        hints[0]
    );
}

/// An improve that rewrote the starting script's preparation and lost its feature table is shown the
/// line that built it (three debugs of the 1.5B model ended in `NameError: name 'X'` without it).
#[test]
fn a_name_the_starting_script_defined_is_quoted_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    let script = "import pandas as pd\ntrain = pd.read_csv('./input/train.csv')\n\
                  train['Sex'] = pd.Categorical(train['Sex']).codes\nmodel.fit(X, train['Survived'])\n";
    let output = "Traceback (most recent call last):\n  File \"/run/attempt-3/solution.py\", line 4, in <module>\n    model.fit(X, train['Survived'])\nNameError: name 'X' is not defined\n";
    assert_eq!(
        hints_for(script, output, &task),
        vec![
            "`X` is used on line 4, and no line before it defines `X`. The starting script defined \
             it with `X = train[features].copy()`: put that line back before line 4 (after the lines \
             it needs), or create `X` another way. Nothing carries over from earlier solutions: \
             reply with the whole script, every import and definition included, not only the lines \
             that change."
        ]
    );
}

/// Python stops at the first name it cannot find; the hint names every common one the script uses
/// without importing, so that one debug fixes them all (the 1.5B model fixed one per debug).
#[test]
fn a_forgotten_import_lists_every_other_common_name_the_script_never_imports() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    let script = "import pandas as pd\nfrom sklearn.metrics import f1_score\n\n\
                  # os and np are not used in this comment\n\
                  train = pd.read_csv('./input/train.csv')\n\
                  if os.path.exists('./input/folds.csv'):\n    fold = np.arange(len(train))\n\
                  model = RandomForestClassifier(n_estimators=100)\n\
                  json.dump({'validation_metric': accuracy_score(y, p)}, handle)\n";
    let output = "Traceback (most recent call last):\n  File \"/run/attempt-2/solution.py\", line 6, in <module>\n    if os.path.exists('./input/folds.csv'):\nNameError: name 'os' is not defined\n";
    assert_eq!(
        hints_for(script, output, &task),
        vec![
            "`os` is used but never imported, and so are `np`, `json`, `RandomForestClassifier` and \
             `accuracy_score`: add these lines at the top of the script: `import os`, `import numpy \
             as np`, `import json`, `from sklearn.ensemble import RandomForestClassifier` and `from \
             sklearn.metrics import accuracy_score`."
        ]
    );
}

#[test]
fn a_forgotten_import_gets_its_import_line_and_an_unknown_name_asks_for_the_whole_script() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    assert_eq!(
        hints_for(SCRIPT, &traceback("NameError: name 'SimpleImputer' is not defined"), &task),
        vec![
            "`SimpleImputer` is used but never imported: add `from sklearn.impute import SimpleImputer` \
             at the top of the script."
        ]
    );
    let hints = hints_for(
        SCRIPT,
        &traceback("NameError: name 'train' is not defined. Did you mean: 'trains'?"),
        &task,
    );
    assert!(
        hints[0].starts_with("`train` is used before anything in the script assigns it."),
        "line 3 defines it, so the definition did not run: {}",
        hints[0]
    );
    assert!(hints[0].contains("reply with the whole script"));
    let fragment = "model.fit(X, y)\n# Rest of the code remains the same\n";
    let output = "Traceback (most recent call last):\n  File \"/run/attempt-5/solution.py\", line 1, in <module>\n    model.fit(X, y)\nNameError: name 'model' is not defined\n";
    let parent = fixtures::node(1, "A draft.", fragment, ExecutionStatus::Error, output);
    assert_eq!(
        debug_hints(&parent, &task, None),
        vec![
            "`model` is used on line 1, and no line before it defines `model`: create it before line \
             1, or write that part without it. Nothing carries over from earlier solutions: reply with \
             the whole script, every import and definition included, not only the lines that change."
        ]
    );
}

#[test]
fn a_text_value_that_reached_a_model_names_its_column_and_the_columns_to_encode() {
    let hints = hints_after("ValueError: could not convert string to float: 'Harris, Mrs Henry'");
    assert_eq!(
        hints,
        vec![
            "'Harris, Mrs Henry' is a value of the text column `Name`. A model needs numbers: before \
             fitting, encode the text columns `Name`, `Class` and `Sex` as numbers (for example with \
             `pd.get_dummies` on train and test together, or an `OrdinalEncoder`) or leave them out. \
             `Name` is different on almost every row: one-hot encoding it is useless, so drop it or \
             extract a part that repeats (such as a title or a word)."
        ]
    );
}

#[test]
fn a_mean_of_the_whole_table_names_the_text_columns_it_reached() {
    let hints = hints_after("TypeError: Cannot perform reduction 'mean' with string dtype");
    assert_eq!(
        hints,
        vec![
            "A mean or median of the whole table reached its text columns `Name`, `Class` and `Sex`: \
             compute it on the numeric columns only (`df.mean(numeric_only=True)`), or fill column by \
             column: `df[column] = df[column].fillna(df[column].median())`."
        ]
    );
}

#[test]
fn validation_predictions_put_into_the_test_table_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    let hints = hints_for(
        SCRIPT,
        &traceback("ValueError: Length of values (6) does not match length of index (1)"),
        &task,
    );
    assert_eq!(
        hints,
        vec![
            "test.csv has 1 rows and the submission needs one prediction for each, but the script \
             assigned 6 values (predictions of the validation rows?): predict on the test data's \
             features, prepared exactly as the training features were."
        ]
    );
    let other_table =
        traceback("ValueError: Length of values (6) does not match length of index (30)");
    assert!(hints_for(SCRIPT, &other_table, &task).is_empty());
}

#[test]
fn an_argument_older_releases_took_gets_its_current_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    let hint = |last_line: &str| hints_for(SCRIPT, &traceback(last_line), &task);
    assert_eq!(
        hint("TypeError: OneHotEncoder.__init__() got an unexpected keyword argument 'sparse'"),
        vec![
            "`OneHotEncoder.__init__` of the installed version takes no `sparse` argument (older \
             releases did): write `sparse_output=False`."
        ]
    );
    assert!(hint(
        "TypeError: LGBMClassifier.fit() got an unexpected keyword argument 'early_stopping_rounds'"
    )[0]
        .ends_with("write `callbacks=[lightgbm.early_stopping(rounds)]` in `fit`."));
    assert_eq!(
        hint("TypeError: Ridge.__init__() got an unexpected keyword argument 'normalize'"),
        vec![
            "`Ridge.__init__` of the installed version takes no `normalize` argument (older releases \
             may have): leave it out or use the name the installed version documents."
        ]
    );
}

#[test]
fn an_attribute_of_another_type_or_an_older_release_gets_what_to_write_instead() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    assert_eq!(
        hints_for(
            SCRIPT,
            &traceback("AttributeError: 'Categorical' object has no attribute 'cat'"),
            &task
        ),
        vec![
            "A `Categorical` has no `.cat` in the installed versions: write \
             `pd.Categorical(values).codes`, or `series.astype('category').cat.codes` on a Series."
        ]
    );
    let unknown =
        traceback("AttributeError: 'Booster' object has no attribute 'feature_importance_'");
    assert!(hints_for(SCRIPT, &unknown, &task).is_empty());
}

#[test]
fn test_rows_dropped_before_predicting_are_named_when_the_submission_lacks_rows() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    let code = "test = pd.read_csv('./input/test.csv')\ntest.dropna(inplace=True)\n";
    let mut parent = fixtures::node(2, "A tree.", code, ExecutionStatus::Ok, "Accuracy: 0.58\n");
    parent.validation_message = Some(
        "the submission has 156 rows, expected 263 (one per test id); id `1052` has no row"
            .to_string(),
    );
    assert_eq!(
        debug_hints(&parent, &task, None),
        vec![
            "The submission needs a prediction for every row of test.csv, and `dropna` removes rows: \
             never drop test rows; fill their missing values instead \
             (`df[column] = df[column].fillna(df[column].median())`)."
        ]
    );
    parent.code = "test = pd.read_csv('./input/test.csv')\n".to_string();
    assert!(debug_hints(&parent, &task, None).is_empty());
}

#[test]
fn missing_values_name_their_columns_and_copy_on_write_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let output = format!(
        "/run/solution.py:11: ChainedAssignmentError: A value is being set on a copy of a DataFrame \
         or Series through chained assignment using an inplace method.\n{}",
        traceback("ValueError: Input X contains NaN.")
    );
    let hints = hints_for(SCRIPT, &output, &titanic(dir.path()));
    assert_eq!(hints.len(), 2, "{hints:#?}");
    assert!(
        hints[0].starts_with(
            "These columns have missing values: `Age` (in train.csv and test.csv). Fill them"
        ),
        "{}",
        hints[0]
    );
    assert!(hints[1].contains("`df[column] = df[column].fillna(value)`"));
}

#[test]
fn an_error_the_harness_knows_nothing_about_gets_no_hint() {
    let dir = tempfile::tempdir().unwrap();
    let task = titanic(dir.path());
    assert!(hints_for(
        SCRIPT,
        &traceback("ZeroDivisionError: division by zero"),
        &task
    )
    .is_empty());
    assert!(hints_for(SCRIPT, "Validation accuracy: 0.8\n", &task).is_empty());
    let mut without_data = task.clone();
    without_data.train_sample = None;
    assert!(hints_for(SCRIPT, &traceback("KeyError: 'Fare'"), &without_data).is_empty());
}

/// pandas' optional dependencies are named as pandas 3 and pandas 2 spell them.
#[test]
fn a_missing_optional_package_says_to_do_without_the_call() {
    let hints = hints_after(
        "ImportError: `Import pytables` failed.  Use pip, conda, or your preferred package \
         management tool to install the pytables package.",
    );
    assert_eq!(
        hints,
        vec![
            "The call that raised this needs `pytables`, which is not installed and cannot be (there \
             is no network): do without that call. Keep intermediate tables in memory rather than \
             saving and reloading them (`to_hdf`, `read_hdf`), or write them as CSV under ./working \
             (./input is read-only)."
        ]
    );
    let hints = hints_after(
        "ImportError: Missing optional dependency 'tables'.  Use pip or conda to install tables.",
    );
    assert!(
        hints[0].starts_with("The call that raised this needs `tables`,"),
        "{hints:?}"
    );
}
