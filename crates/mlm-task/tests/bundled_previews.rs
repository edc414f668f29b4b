//! The previews of the seven bundled competitions: deterministic, within the cap, and snapshot-tested, since
//! this is exactly what a coder is shown about each task.

#![expect(
    clippy::unwrap_used,
    reason = "a failed preview should fail the test loudly"
)]

use mlm_task::preview::{data_preview, PREVIEW_CHARACTER_LIMIT};

fn preview_of(name: &str) -> String {
    let public_dir = mlm_test_support::prepared_task(name).join("prepared/public");
    let first = data_preview(&public_dir).unwrap();
    let second = data_preview(&public_dir).unwrap();
    assert_eq!(first, second, "{name}: the preview is not deterministic");
    assert!(
        first.chars().count() <= PREVIEW_CHARACTER_LIMIT,
        "{name}: {} characters",
        first.chars().count()
    );
    assert!(
        !first.contains("answers"),
        "{name}: the preview mentions the private answers"
    );
    first
}

#[test]
fn titanic() {
    insta::assert_snapshot!(preview_of("titanic"));
}

#[test]
fn churn() {
    insta::assert_snapshot!(preview_of("churn"));
}

#[test]
fn leaf() {
    insta::assert_snapshot!(preview_of("leaf"));
}

#[test]
fn bikeshare() {
    insta::assert_snapshot!(preview_of("bikeshare"));
}

#[test]
fn rotten_tomatoes() {
    insta::assert_snapshot!(preview_of("rotten-tomatoes"));
}

#[test]
fn digits() {
    insta::assert_snapshot!(preview_of("digits"));
}

/// Image files: the folders are summarised, not listed file by file.
#[test]
fn digit_images() {
    insta::assert_snapshot!(preview_of("digit-images"));
}
