//! A run directory has one writer, and a damaged journal is refused rather than resumed as a shorter run.

use std::path::Path;

use mlm_journal::{Error, Journal};
use mlm_test_support::journal_rows::{node_entry, run_record, valid};

/// Records nodes `ids` and gives each its directory, as the engine does.
fn record_nodes(journal: &mut Journal, run_dir: &Path, ids: std::ops::Range<u32>) {
    for id in ids {
        std::fs::create_dir_all(run_dir.join("nodes").join(id.to_string())).unwrap();
        journal
            .record_node(&node_entry(id, None, valid(0.8)), &[])
            .unwrap();
    }
}

#[test]
fn a_second_writer_of_a_run_is_refused_at_once_naming_the_holder() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = run_dir.path().join("journal.sqlite");
    let writer = Journal::create(&path, &run_record()).unwrap();

    let error = Journal::open(&path).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::Locked { holder: Some(pid), .. } if pid == std::process::id()),
        "{message}"
    );
    assert!(
        message.contains(&format!("PID {}", std::process::id()))
            && message.contains(&run_dir.path().display().to_string())
            && message.contains("hint:"),
        "{message}"
    );
    assert!(matches!(
        Journal::create(&path, &run_record()),
        Err(Error::Locked { .. })
    ));
    // Readers (the dashboard, reports) take no lock.
    let reader = Journal::open_read_only(&path).unwrap();
    assert_eq!(reader.run().unwrap().task_id, "titanic");

    drop(writer);
    Journal::open(&path).unwrap();
}

#[test]
fn two_writers_racing_for_one_run_never_both_proceed() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = run_dir.path().join("journal.sqlite");
    drop(Journal::create(&path, &run_record()).unwrap());
    let barrier = std::sync::Barrier::new(8);
    let opened: Vec<Result<Journal, Error>> = std::thread::scope(|scope| {
        let openers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    Journal::open(&path)
                })
            })
            .collect();
        openers
            .into_iter()
            .map(|opener| opener.join().unwrap())
            .collect()
    });
    let proceeding = opened.iter().filter(|journal| journal.is_ok()).count();
    assert_eq!(proceeding, 1);
    assert!(opened
        .iter()
        .filter_map(|journal| journal.as_ref().err())
        .all(|error| matches!(error, Error::Locked { .. })));
}

/// A copy of the run directory as a crash would leave it while the run's writer had `ids` in its
/// write-ahead log only.
fn crashed_copy_with_nodes_in_the_log(scratch: &Path) -> std::path::PathBuf {
    let live = scratch.join("live");
    std::fs::create_dir_all(&live).unwrap();
    let path = live.join("journal.sqlite");
    let mut first_session = Journal::create(&path, &run_record()).unwrap();
    record_nodes(&mut first_session, &live, 0..2);
    // Closing checkpoints: the main file now holds the run and nodes 0 and 1.
    drop(first_session);
    let mut second_session = Journal::open(&path).unwrap();
    record_nodes(&mut second_session, &live, 2..6);
    let crashed = scratch.join("crashed");
    std::fs::create_dir_all(&crashed).unwrap();
    for file in ["journal.sqlite", "journal.sqlite-wal"] {
        std::fs::copy(live.join(file), crashed.join(file)).unwrap();
    }
    for id in 0..6 {
        std::fs::create_dir_all(crashed.join("nodes").join(id.to_string())).unwrap();
    }
    drop(second_session);
    crashed
}

#[test]
fn a_truncated_write_ahead_log_is_refused_not_resumed_as_a_shorter_run() {
    let scratch = tempfile::tempdir().unwrap();
    let crashed = crashed_copy_with_nodes_in_the_log(scratch.path());
    let path = crashed.join("journal.sqlite");
    // As whole, the copy reads back every node.
    assert_eq!(Journal::open(&path).unwrap().node_count().unwrap(), 6);

    let crashed = crashed_copy_with_nodes_in_the_log(&scratch.path().join("again"));
    let path = crashed.join("journal.sqlite");
    std::fs::OpenOptions::new()
        .write(true)
        .open(crashed.join("journal.sqlite-wal"))
        .unwrap()
        .set_len(40)
        .unwrap();
    let error = Journal::open(&path).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, Error::LostNodes { journaled: 2, ahead, .. } if ahead == &[2, 3, 4, 5]),
        "{message}"
    );
    assert!(
        message.contains("journal.sqlite-wal") && message.contains("hint:"),
        "{message}"
    );
    // Nothing was touched: the log and the node directories are as they were.
    assert_eq!(
        std::fs::metadata(crashed.join("journal.sqlite-wal"))
            .unwrap()
            .len(),
        40
    );
    assert!(crashed.join("nodes/5").is_dir());
}

#[test]
fn one_node_directory_ahead_of_the_journal_is_what_a_crash_leaves_and_is_accepted() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = run_dir.path().join("journal.sqlite");
    let mut journal = Journal::create(&path, &run_record()).unwrap();
    record_nodes(&mut journal, run_dir.path(), 0..3);
    drop(journal);
    // Moved into place, not yet recorded.
    std::fs::create_dir_all(run_dir.path().join("nodes/3")).unwrap();
    assert_eq!(Journal::open(&path).unwrap().node_count().unwrap(), 3);
    std::fs::create_dir_all(run_dir.path().join("nodes/4")).unwrap();
    assert!(matches!(
        Journal::open(&path),
        Err(Error::LostNodes { journaled: 3, .. })
    ));
}

#[test]
fn a_truncated_main_file_is_named_as_truncated() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = run_dir.path().join("journal.sqlite");
    let mut journal = Journal::create(&path, &run_record()).unwrap();
    record_nodes(&mut journal, run_dir.path(), 0..40);
    drop(journal);
    let size = std::fs::metadata(&path).unwrap().len();
    for truncated_size in [size / 2, 60, 0] {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(truncated_size)
            .unwrap();
        for error in [
            Journal::open(&path).unwrap_err(),
            Journal::open_read_only(&path).unwrap_err(),
        ] {
            let message = error.to_string();
            assert!(matches!(error, Error::Damaged { .. }), "{message}");
            assert!(
                message.contains("truncated")
                    && message.contains(&format!("{truncated_size} bytes")),
                "{message}"
            );
            assert!(!message.contains("schema version 0"), "{message}");
        }
    }
}
