//! `ml-master exec`: hostile scripts run through the real sandbox, and a real solution on titanic.

use std::path::Path;

use crate::support::{ml_master, path, prepared_task};

/// Runs `script` with `ml-master exec --json` on titanic and returns the exit code and parsed result.
fn exec(script: &str, extra_arguments: &[&str]) -> (i32, serde_json::Value) {
    let (code, result, _node) = exec_keeping_node(script, extra_arguments, &[]);
    (code, result)
}

fn exec_with(
    script: &str,
    extra_arguments: &[&str],
    environment: &[(&str, &str)],
) -> (i32, serde_json::Value) {
    let (code, result, _node) = exec_keeping_node(script, extra_arguments, environment);
    (code, result)
}

/// Like [`exec`], also returning the directory that holds the node, which lives as long as it does.
fn exec_keeping_node(
    script: &str,
    extra_arguments: &[&str],
    environment: &[(&str, &str)],
) -> (i32, serde_json::Value, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let script_path = scratch.path().join("script.py");
    std::fs::write(&script_path, script).unwrap();
    let node_dir = scratch.path().join("node");
    let task = prepared_task("titanic");
    let mut command = ml_master();
    command
        .args([
            "exec",
            "--json",
            "--task",
            path(&task),
            "--node-dir",
            path(&node_dir),
            path(&script_path),
        ])
        .args(extra_arguments);
    // The interpreter is named outright, so a test that moves HOME never sets up a new environment.
    command.env("ML_MASTER_PYTHON", mlm_test_support::python());
    for (name, value) in environment {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), result, scratch)
}

fn output_of(result: &serde_json::Value) -> &str {
    result["output"].as_str().unwrap()
}

/// A script that tries to read `target` and prints READ or DENIED.
fn read_attempt(target: &Path) -> String {
    format!(
        "try:\n    open({:?}).read()\n    print('READ')\nexcept OSError as error:\n    print('DENIED', type(error).__name__)\n",
        path(target)
    )
}

#[test]
fn the_private_answers_of_this_and_other_tasks_are_unreadable() {
    let titanic_answers = prepared_task("titanic").join("prepared/private/answers.csv");
    let digits_answers = prepared_task("digits").join("prepared/private/answers.csv");
    let digits_train = prepared_task("digits").join("prepared/public/train.csv");
    for target in [&titanic_answers, &digits_answers, &digits_train] {
        assert!(target.is_file());
        let (_, result) = exec(&read_attempt(target), &[]);
        assert!(
            output_of(&result).contains("DENIED"),
            "{}: {}",
            target.display(),
            output_of(&result)
        );
    }
    // The task's own public files are readable through ./input.
    let (code, result) = exec("print(open('input/train.csv').readline().strip())", &[]);
    assert_eq!(code, 0, "{result}");
    assert!(output_of(&result).contains("PassengerId"), "{result}");
}

#[test]
fn the_home_directory_is_unreadable() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join(".ssh/id_ed25519");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "secret").unwrap();
    let (_, result) = exec_with(&read_attempt(&key), &[], &[("HOME", path(home.path()))]);
    assert!(output_of(&result).contains("DENIED"), "{result}");
    let real_home = std::env::var("HOME").unwrap();
    let script = format!("import os\ntry:\n    os.listdir({real_home:?})\n    print('LISTED')\nexcept OSError as error:\n    print('DENIED', type(error).__name__)\n");
    let (_, result) = exec(&script, &[]);
    assert!(output_of(&result).contains("DENIED"), "{result}");
}

#[test]
fn tcp_connections_fail_even_to_localhost() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    print('CONNECTED')\nexcept OSError as error:\n    print('DENIED', error.errno)\n"
    );
    let (_, result) = exec(&script, &[]);
    assert!(output_of(&result).contains("DENIED"), "{result}");
    assert!(!output_of(&result).contains("CONNECTED"), "{result}");
}

#[test]
fn writing_outside_the_node_directory_fails_and_inside_works() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("escaped.txt");
    let script = format!(
        "try:\n    open({:?}, 'w').write('x')\n    print('WROTE')\nexcept OSError as error:\n    print('DENIED', type(error).__name__)\nopen('working/inside.txt', 'w').write('ok')\nprint('INSIDE OK')\n",
        path(&target)
    );
    let (code, result) = exec(&script, &[]);
    assert_eq!(code, 0, "{result}");
    assert!(output_of(&result).contains("DENIED"), "{result}");
    assert!(output_of(&result).contains("INSIDE OK"), "{result}");
    assert!(!target.exists());
}

#[test]
fn secrets_in_the_parent_environment_never_reach_the_script() {
    let script = "import json, os\nprint(json.dumps(sorted(os.environ)))\n";
    let (code, result) = exec_with(
        script,
        &[],
        &[
            ("OPENAI_API_KEY", "sk-secret"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("GITHUB_TOKEN", "ghp-secret"),
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("http_proxy", "http://proxy:3128"),
        ],
    );
    assert_eq!(code, 0, "{result}");
    let output = output_of(&result);
    for forbidden in ["API_KEY", "TOKEN", "PROXY", "proxy", "secret"] {
        assert!(
            !output.contains(forbidden),
            "{forbidden} reached the script: {output}"
        );
    }
    assert!(
        output.contains("OMP_WAIT_POLICY") && output.contains("OMP_NUM_THREADS"),
        "{output}"
    );
}

#[test]
fn a_timeout_leaves_no_process_behind() {
    // The ids a script sees are its PID namespace's; the grandchild is found here by a marker instead.
    let marker = format!("grandchild-of-test-{}", std::process::id());
    let script = format!("import subprocess, sys, time\nchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\nprint('GRANDCHILD', flush=True)\ntime.sleep(300)\n");
    let (code, result) = exec(&script, &["--timeout", "2"]);
    assert_eq!(code, 1);
    assert_eq!(result["status"], "timeout", "{result}");
    assert!(output_of(&result).contains("GRANDCHILD"), "{result}");
    assert!(
        processes_are_gone(&marker),
        "the grandchild is still running"
    );
}

/// True once no live process has `marker` among its arguments, waiting up to five seconds.
fn processes_are_gone(marker: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let alive = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|entry| {
                let process = entry.path();
                let command = std::fs::read(process.join("cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(process.join("stat")).unwrap_or_default();
                String::from_utf8_lossy(&command).contains(marker) && !stat.contains(") Z ")
            })
            .count();
        if alive == 0 {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_two_gigabyte_output_flood_is_capped_with_bounded_supervisor_memory() {
    let script = "import sys\nline = b'x' * 1023 + b'\\n'\nout = sys.stdout.buffer\nfor _ in range(2 * 1024 * 1024):\n    out.write(line)\nout.flush()\nprint('DONE', flush=True)\n";
    let (code, result) = exec(script, &[]);
    assert_eq!(
        code,
        0,
        "{}",
        &output_of(&result)[..200.min(output_of(&result).len())]
    );
    assert_eq!(
        result["output_bytes"].as_u64().unwrap(),
        2 * 1024 * 1024 * 1024 + 5
    );
    let output = output_of(&result);
    assert!(output.len() < 1024 * 1024, "kept {} bytes", output.len());
    assert!(output.contains("bytes of output omitted") && output.trim_end().ends_with("DONE"));
    let supervisor_kilobytes = result["supervisor_peak_rss_kilobytes"].as_u64().unwrap();
    assert!(
        supervisor_kilobytes < 200 * 1024,
        "the supervisor grew to {supervisor_kilobytes} kB"
    );
}

#[test]
fn memory_hogs_segfaults_and_exit_codes_are_told_apart() {
    let (code, hog) = exec(
        "import numpy\nblock = numpy.ones(64 * 1024**3 // 8)\n",
        &["--memory-mib", "2048"],
    );
    assert_eq!((code, hog["status"].as_str().unwrap()), (1, "oom"), "{hog}");
    let (_, segfault) = exec("import ctypes\nctypes.string_at(0)\n", &[]);
    assert_eq!(segfault["status"], "killed", "{segfault}");
    assert_eq!(segfault["signal"], 11, "{segfault}");
    let (code, exit) = exec("import sys\nprint('bye')\nsys.exit(3)\n", &[]);
    assert_eq!(code, 1);
    assert_eq!(exit["status"], "error", "{exit}");
    assert_eq!(exit["exit_code"], 3, "{exit}");
}

#[test]
fn a_lightgbm_solution_on_titanic_writes_a_valid_submission_and_metrics() {
    let script = r#"
import json
import lightgbm as lgb
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

train = pd.read_csv("input/train.csv")
test = pd.read_csv("input/test.csv")

def features(frame):
    out = pd.DataFrame({"age": frame["Age"], "female": (frame["Sex"] == "female").astype(int)})
    out["class"] = frame["Class"].str[0].map({"1": 1, "2": 2, "3": 3})
    return out

x, y = features(train), train["Survived"]
x_fit, x_valid, y_fit, y_valid = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_threads=1, verbose=-1)
model.fit(x_fit, y_fit)
score = accuracy_score(y_valid, model.predict(x_valid))
print(f"validation accuracy: {score:.4f}")
json.dump({"validation_metric": score, "lower_is_better": False}, open("metrics.json", "w"))
model.fit(x, y)
pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": model.predict(features(test))}).to_csv(
    "submission/submission.csv", index=False
)
"#;
    let (code, result, _node) = exec_keeping_node(script, &[], &[]);
    assert_eq!(code, 0, "{}", output_of(&result));
    assert_eq!(result["status"], "ok");
    let validation = result["metrics"]["validation_metric"].as_f64().unwrap();
    assert!(validation > 0.7, "{result}");
    assert_eq!(result["metrics"]["lower_is_better"], false);
    let submission = result["submission_path"].as_str().unwrap();
    let task = prepared_task("titanic");
    let (code, stdout, stderr) = crate::support::run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        submission,
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["score"].as_f64().unwrap() > 0.7, "{report}");
    assert_eq!(
        result["sandbox"]["filesystem"]["state"], "enforced",
        "{result}"
    );
}
