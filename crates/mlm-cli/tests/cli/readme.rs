//! The README's synopses list every flag of every command: a flag `--help` shows and the README's
//! `ml-master <command> …` lines do not name fails here.

use std::collections::BTreeSet;

use crate::support::run;

const COMMANDS: [&[&str]; 11] = [
    &["env", "setup"],
    &["env", "check"],
    &["prepare"],
    &["grade"],
    &["serve-validator"],
    &["run"],
    &["resume"],
    &["exec"],
    &["dashboard"],
    &["report"],
    &["bench"],
];

/// The `--name` flags in `text`.
fn flags_in(text: &str) -> BTreeSet<String> {
    text.split("--")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|character| character.is_ascii_alphanumeric() || *character == '-')
                .collect::<String>()
        })
        .filter(|flag| !flag.is_empty())
        .collect()
}

/// The README's synopsis lines of `command`: each line that starts with `ml-master <command> `, with
/// the indented lines that continue it.
fn synopses(readme: &str, command: &[&str]) -> String {
    let start = format!("ml-master {} ", command.join(" "));
    let mut text = String::new();
    let mut continuing = false;
    for line in readme.lines() {
        if line.starts_with(&start) {
            continuing = true;
        } else if !(continuing && line.starts_with("  ")) {
            continuing = false;
            continue;
        }
        text.push_str(line.split('#').next().unwrap_or(line));
        text.push('\n');
    }
    text
}

#[test]
fn the_readme_synopses_name_every_flag_of_every_command() {
    let readme =
        std::fs::read_to_string(mlm_test_support::repository_root().join("README.md")).unwrap();
    let mut missing = Vec::new();
    for command in COMMANDS {
        let mut arguments = command.to_vec();
        arguments.push("--help");
        let (code, help, stderr) = run(&arguments);
        assert_eq!(code, 0, "{stderr}");
        // An option's line starts with its flag (`-s, --seed`, `--json`); its help, and the list of a
        // flag's values (`- flaml: …`), may name others.
        let options: String = help
            .lines()
            .map(str::trim_start)
            .filter(|line| {
                line.starts_with("--") || (line.starts_with('-') && line.get(2..3) == Some(","))
            })
            .filter_map(|line| line.split_whitespace().find(|word| word.starts_with("--")))
            .collect::<Vec<_>>()
            .join(" ");
        let documented = flags_in(&synopses(&readme, command));
        for flag in flags_in(&options) {
            if flag != "help" && !documented.contains(&flag) {
                missing.push(format!("ml-master {} --{flag}", command.join(" ")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags missing from the README's synopses:\n{}",
        missing.join("\n")
    );
}
