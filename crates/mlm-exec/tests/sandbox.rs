//! The sandbox launcher against hostile scripts: each runs under a policy built the way the supervisor
//! builds one (system paths, the interpreter's prefixes, a public directory; the node directory
//! writable) and must be confined, while ordinary scientific Python keeps working.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step should fail the test loudly"
)]

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mlm_exec::sandbox::{
    probe_tiers, system_read_only_paths, system_read_write_paths, ChildOutcome,
    FilesystemIsolation, LaunchStatus, Launcher, NetworkAccess, ResourceLimits, SandboxPolicy,
    TierState, LAUNCH_FAILED_EXIT_CODE,
};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

const LAUNCHER: &str = env!("CARGO_BIN_EXE_mlm-sandbox-launcher");

/// A node directory with its neighbours: a public directory, another task's private answers, a
/// home directory with an SSH key, and the supervisor's state directory.
struct Sandbox {
    _root: tempfile::TempDir,
    node: PathBuf,
    public: PathBuf,
    answers: PathBuf,
    ssh_key: PathBuf,
    state: PathBuf,
}

/// What one launch left behind.
struct Launch {
    status: LaunchStatus,
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Sandbox {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let path = |name: &str| root.path().join(name);
        for directory in ["node", "public", "private", "home/.ssh", "state"] {
            std::fs::create_dir_all(path(directory)).unwrap();
        }
        std::fs::write(path("public/train.csv"), "x,y\n1,2\n").unwrap();
        std::fs::write(path("private/answers.csv"), "id,answer\n1,42\n").unwrap();
        std::fs::write(path("home/.ssh/id_ed25519"), "PRIVATE KEY\n").unwrap();
        Sandbox {
            node: path("node"),
            public: path("public"),
            answers: path("private/answers.csv"),
            ssh_key: path("home/.ssh/id_ed25519"),
            state: path("state"),
            _root: root,
        }
    }

    /// The policy the supervisor builds for a node.
    fn policy(&self) -> SandboxPolicy {
        let mut read_only_paths = system_read_only_paths();
        read_only_paths.extend(python_prefixes().iter().cloned());
        read_only_paths.push(self.public.clone());
        let mut read_write_paths = system_read_write_paths();
        read_write_paths.push(self.node.clone());
        SandboxPolicy {
            read_only_paths,
            read_write_paths,
            network: NetworkAccess::Denied,
            filesystem: FilesystemIsolation::Landlock,
            limits: ResourceLimits::default(),
            cpu_set: None,
            status_path: self.state.join("status.json"),
        }
    }

    /// Starts `script` (Python) under `policy`, as the supervisor would: scrubbed environment, the
    /// node directory as working directory, no process group of the launcher's own.
    fn spawn(&self, policy: &SandboxPolicy, script: &str) -> Child {
        let script_path = self.node.join("solution.py");
        std::fs::write(&script_path, script).unwrap();
        let policy_file = self.state.join("policy.json");
        policy.write(&policy_file).unwrap();
        let launcher = Launcher {
            program: LAUNCHER.into(),
            leading_arguments: Vec::new(),
        };
        let command: Vec<OsString> = vec![
            mlm_test_support::python().into(),
            script_path.into_os_string(),
        ];
        Command::new(&launcher.program)
            .args(launcher.arguments(&policy_file, &command))
            .current_dir(&self.node)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.node)
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, policy: &SandboxPolicy, script: &str) -> Launch {
        let output = self.spawn(policy, script).wait_with_output().unwrap();
        self.launch(output)
    }

    fn launch(&self, output: Output) -> Launch {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let status = LaunchStatus::read(&self.state.join("status.json"))
            .unwrap_or_else(|error| panic!("no launch status ({error})\n{stdout}\n{stderr}"));
        Launch {
            status,
            exit_code: output.status.code(),
            stdout,
            stderr,
        }
    }
}

impl Launch {
    /// The script's stdout, after checking that it exited with 0.
    fn succeeded(&self) -> &str {
        assert_eq!(
            self.status.outcome,
            ChildOutcome::Exited(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }
}

/// A path as a Python string literal.
fn quoted(path: &Path) -> String {
    format!("{:?}", path.to_str().unwrap())
}

/// `sys.prefix` and `sys.base_prefix` of the test interpreter, which the supervisor adds to the
/// read-only paths.
fn python_prefixes() -> &'static [PathBuf] {
    static PREFIXES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    PREFIXES.get_or_init(|| {
        let output = Command::new(mlm_test_support::python())
            .args([
                "-c",
                "import sys; print(sys.prefix); print(sys.base_prefix)",
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(PathBuf::from)
            .collect()
    })
}

/// The kernel's Landlock ABI, asked directly (not through the launcher): `None` without Landlock.
fn kernel_landlock_abi() -> Option<i64> {
    let script = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)\nprint(libc.syscall(444, None, 0, 1))";
    let output = Command::new(mlm_test_support::python())
        .args(["-c", script])
        .output()
        .unwrap();
    let abi: i64 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (abi > 0).then_some(abi)
}

const TRY_READ: &str = r#"
import sys
def try_read(path):
    try:
        with open(path) as file:
            print("read", file.read().strip())
    except PermissionError:
        print("denied")
"#;

#[test]
fn a_script_cannot_read_another_tasks_private_answers() {
    let sandbox = Sandbox::new();
    let script = format!("{TRY_READ}\ntry_read({})", quoted(&sandbox.answers));
    let confined = sandbox.run(&sandbox.policy(), &script);
    assert_eq!(confined.succeeded(), "denied\n");

    // The same script reads them when the filesystem is not isolated: the path was right.
    let mut open = sandbox.policy();
    open.filesystem = FilesystemIsolation::Unrestricted;
    let unconfined = sandbox.run(&open, &script);
    assert_eq!(unconfined.succeeded(), "read id,answer\n1,42\n");
    assert_eq!(unconfined.status.tiers.filesystem, TierState::Disabled);
}

#[test]
fn a_script_cannot_read_or_list_a_home_directory() {
    let sandbox = Sandbox::new();
    let ssh = sandbox.ssh_key.parent().unwrap();
    let script = format!(
        "{TRY_READ}\ntry_read({})\nimport os\ntry:\n    os.listdir({})\nexcept PermissionError:\n    print('denied')",
        quoted(&sandbox.ssh_key),
        quoted(ssh)
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    assert_eq!(launch.succeeded(), "denied\ndenied\n");
}

#[test]
fn a_script_writes_inside_its_node_directory_and_nowhere_else() {
    let sandbox = Sandbox::new();
    let sibling = sandbox.answers.with_file_name("planted.csv");
    let script = format!(
        r#"
import os
for path in ["submission.csv", {public}, {sibling}, "/tmp/planted.csv", "/etc/planted"]:
    try:
        with open(path, "w") as file:
            file.write("1\n")
        print("wrote", os.path.basename(path))
    except PermissionError:
        print("denied", os.path.basename(path))
"#,
        public = quoted(&sandbox.public.join("train.csv")),
        sibling = quoted(&sibling),
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    assert_eq!(
        launch.succeeded(),
        "wrote submission.csv\ndenied train.csv\ndenied planted.csv\ndenied planted.csv\ndenied planted\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.node.join("submission.csv")).unwrap(),
        "1\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.public.join("train.csv")).unwrap(),
        "x,y\n1,2\n"
    );
    assert!(!sibling.exists());
}

#[test]
fn a_script_cannot_open_a_tcp_connection_unless_the_network_is_allowed() {
    let sandbox = Sandbox::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        r#"
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    print("connected")
except PermissionError:
    print("denied")
"#
    );
    let denied = sandbox.run(&sandbox.policy(), &script);
    assert_eq!(denied.succeeded(), "denied\n");
    assert!(matches!(
        denied.status.tiers.network,
        TierState::Enforced { .. }
    ));

    let mut open = sandbox.policy();
    open.network = NetworkAccess::Allowed;
    let allowed = sandbox.run(&open, &script);
    assert_eq!(allowed.succeeded(), "connected\n");
    assert_eq!(allowed.status.tiers.network, TierState::Disabled);
}

#[test]
fn a_script_cannot_use_io_uring_to_reach_the_network() {
    let sandbox = Sandbox::new();
    let script = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
parameters = ctypes.create_string_buffer(120)
result = libc.syscall(425, 8, parameters)  # io_uring_setup
print("denied" if result == -1 and ctypes.get_errno() == 1 else "set up")
"#;
    let launch = sandbox.run(&sandbox.policy(), script);
    assert_eq!(launch.succeeded(), "denied\n");

    let mut open = sandbox.policy();
    open.network = NetworkAccess::Allowed;
    assert_eq!(sandbox.run(&open, script).succeeded(), "set up\n");
}

#[test]
fn a_script_cannot_signal_processes_outside_the_sandbox() {
    let sandbox = Sandbox::new();
    let mut outsider = Command::new("sleep").arg("30").spawn().unwrap();
    let script = format!(
        "import os\ntry:\n    os.kill({}, 0)\n    print('reached')\nexcept PermissionError:\n    print('denied')",
        outsider.id()
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    let mut open = sandbox.policy();
    open.filesystem = FilesystemIsolation::Unrestricted;
    let unconfined = sandbox.run(&open, &script);
    outsider.kill().unwrap();
    outsider.wait().unwrap();
    match kernel_landlock_abi() {
        Some(abi) if abi >= 6 => {
            assert_eq!(launch.succeeded(), "denied\n");
            assert_eq!(unconfined.succeeded(), "reached\n");
        }
        _ => assert!(
            matches!(
                &launch.status.tiers.filesystem,
                TierState::Enforced { detail } | TierState::Partial { detail } if detail.contains("signals")
            ) || matches!(
                launch.status.tiers.filesystem,
                TierState::Unavailable { .. }
            )
        ),
    }
}

#[test]
fn numpy_scikit_learn_and_worker_processes_run_in_the_sandbox() {
    let sandbox = Sandbox::new();
    let script = r#"
import numpy as np
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
x = np.random.default_rng(0).normal(size=(200, 3))
y = (x[:, 0] > 0).astype(int)
print(LogisticRegression().fit(x, y).score(x, y) > 0.9)
print(np.allclose(np.linalg.inv(np.eye(3) * 2), np.eye(3) / 2))
print(Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(3)))
"#;
    let launch = sandbox.run(&sandbox.policy(), script);
    assert_eq!(launch.succeeded(), "True\nTrue\n[0, 1, 2]\n");
    assert!(launch.status.peak_rss_kilobytes > 10_000);
}

#[test]
fn exit_codes_and_signals_are_reported_and_passed_on() {
    let sandbox = Sandbox::new();
    let exited = sandbox.run(&sandbox.policy(), "import sys\nsys.exit(3)");
    assert_eq!(exited.status.outcome, ChildOutcome::Exited(3));
    assert_eq!(exited.exit_code, Some(3));

    let crashed = sandbox.run(&sandbox.policy(), "import ctypes\nctypes.string_at(0)");
    assert_eq!(crashed.status.outcome, ChildOutcome::Signaled(11));
    assert_eq!(crashed.exit_code, Some(128 + 11));
}

#[test]
fn limits_and_the_cpu_set_bind_the_script() {
    let sandbox = Sandbox::new();
    let mut policy = sandbox.policy();
    policy.limits = ResourceLimits {
        file_size_bytes: Some(1 << 30),
        open_files: Some(256),
        processes: Some(4096),
        address_space_bytes: Some(2 << 30),
    };
    policy.cpu_set = Some(vec![0]);
    let script = r#"
import os, resource
import numpy as np
for name in ["RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_CORE"]:
    print(name, resource.getrlimit(getattr(resource, name)))
print(sorted(os.sched_getaffinity(0)))
try:
    np.ones(4 * 2**30, dtype=np.uint8)
    print("allocated")
except MemoryError:
    print("MemoryError")
"#;
    let launch = sandbox.run(&policy, script);
    assert_eq!(
        launch.succeeded(),
        "RLIMIT_FSIZE (1073741824, 1073741824)\nRLIMIT_NOFILE (256, 256)\nRLIMIT_NPROC (4096, 4096)\n\
         RLIMIT_AS (2147483648, 2147483648)\nRLIMIT_CORE (0, 0)\n[0]\nMemoryError\n"
    );
    assert_eq!(
        launch.status.tiers.cpu_affinity,
        TierState::Enforced {
            detail: "cpus 0".into()
        }
    );
}

/// Polls `path` until it holds a process id.
fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(pid) = std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Waits a few seconds for `pid` to be gone (or a zombie); kills it before failing.
fn assert_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            return;
        }
        if Instant::now() > deadline {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            panic!("process {pid} outlived the launch: {stat}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn terminating_the_launchers_group_leaves_no_process_behind() {
    let sandbox = Sandbox::new();
    // A grandchild in a session of its own, and an orphan whose parent exited: neither is in the
    // launcher's process group any more.
    let script = r#"
import os, time
def write(name, pid):
    with open(name + ".tmp", "w") as file:
        file.write(str(pid))
    os.rename(name + ".tmp", name)
grandchild = os.fork()
if grandchild == 0:
    os.setsid()
    time.sleep(300)
    os._exit(0)
write("grandchild.pid", grandchild)
middle = os.fork()
if middle == 0:
    os.setsid()
    orphan = os.fork()
    if orphan == 0:
        time.sleep(300)
        os._exit(0)
    write("orphan.pid", orphan)
    os._exit(0)
time.sleep(300)
"#;
    let mut launcher = sandbox.spawn(&sandbox.policy(), script);
    let launcher_pid = launcher.id() as i32;
    let grandchild = read_pid(&sandbox.node.join("grandchild.pid"));
    let orphan = read_pid(&sandbox.node.join("orphan.pid"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        parent_of(orphan),
        launcher_pid,
        "the launcher is the subreaper"
    );

    killpg(Pid::from_raw(launcher_pid), Signal::SIGTERM).unwrap();
    // Not wait_with_output: a surviving descendant would hold the pipes open for ever.
    let deadline = Instant::now() + Duration::from_secs(10);
    while launcher.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the launcher ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_gone(grandchild);
    assert_gone(orphan);
    let status = LaunchStatus::read(&sandbox.state.join("status.json")).unwrap();
    assert!(
        matches!(status.outcome, ChildOutcome::Signaled(9 | 15)),
        "{:?}",
        status.outcome
    );
}

#[test]
fn the_probe_reports_what_this_kernel_enforces() {
    let sandbox = Sandbox::new();
    let launcher = Launcher {
        program: LAUNCHER.into(),
        leading_arguments: Vec::new(),
    };
    let mut policy = sandbox.policy();
    policy.cpu_set = Some(vec![0]);
    let tiers = probe_tiers(&launcher, &policy, &sandbox.state.join("probe.json")).unwrap();
    match kernel_landlock_abi() {
        Some(abi) => assert!(
            matches!(&tiers.filesystem, TierState::Enforced { detail } if detail.contains(&format!("Landlock ABI {abi}"))),
            "{:?}",
            tiers.filesystem
        ),
        None => assert!(
            matches!(&tiers.filesystem, TierState::Unavailable { reason } if reason.contains("Landlock")),
            "{:?}",
            tiers.filesystem
        ),
    }
    let seccomp = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .contains("Seccomp:");
    match seccomp {
        true => assert!(
            matches!(tiers.network, TierState::Enforced { .. }),
            "{:?}",
            tiers.network
        ),
        false => assert!(
            matches!(tiers.network, TierState::Unavailable { .. }),
            "{:?}",
            tiers.network
        ),
    }
    assert!(matches!(tiers.resource_limits, TierState::Enforced { .. }));
    assert!(matches!(tiers.cpu_affinity, TierState::Enforced { .. }));
}

#[test]
fn a_policy_path_that_does_not_exist_stops_the_launch_and_is_named() {
    let sandbox = Sandbox::new();
    let mut policy = sandbox.policy();
    policy
        .read_only_paths
        .push("/nonexistent/python-prefix".into());
    let launch = sandbox.run(&policy, "open('ran', 'w').close()");
    assert!(
        matches!(&launch.status.outcome, ChildOutcome::FailedToStart(message) if message.contains("/nonexistent/python-prefix")),
        "{:?}",
        launch.status.outcome
    );
    assert_eq!(launch.exit_code, Some(LAUNCH_FAILED_EXIT_CODE));
    assert!(!sandbox.node.join("ran").exists());
}

#[test]
fn a_status_file_the_script_could_forge_is_refused() {
    let sandbox = Sandbox::new();
    let mut policy = sandbox.policy();
    policy.status_path = sandbox.node.join("status.json");
    let output = sandbox
        .spawn(&policy, "open('ran', 'w').close()")
        .wait_with_output()
        .unwrap();
    assert_eq!(output.status.code(), Some(LAUNCH_FAILED_EXIT_CODE));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could forge it"), "{stderr}");
    assert!(!sandbox.node.join("ran").exists());
}
