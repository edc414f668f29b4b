//! The prepared-task cache under concurrency: test binaries run their tests on parallel threads, and
//! several of them ask for the same bundled task at once.

use mlm_test_support::prepared_task_in;

#[test]
fn threads_preparing_the_same_task_at_once_all_get_a_complete_competition() {
    let cache = tempfile::tempdir().expect("a temporary cache");
    let prepared: Vec<_> = std::thread::scope(|scope| {
        let preparations: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| prepared_task_in(cache.path(), "titanic")))
            .collect();
        preparations
            .into_iter()
            .map(|preparation| preparation.join().expect("no preparation panicked"))
            .collect()
    });
    for directory in &prepared {
        assert_eq!(directory, &prepared[0]);
    }
    for file in [
        "task.toml",
        "prepared/public/train.csv",
        "prepared/public/test.csv",
        "prepared/public/sample_submission.csv",
        "prepared/private/answers.csv",
    ] {
        assert!(prepared[0].join(file).is_file(), "{file} is missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(cache.path())
        .expect("the cache is readable")
        .map(|entry| entry.expect("an entry").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "scratch directories left: {leftovers:?}"
    );
}
