//! The sandbox launcher against hostile scripts: each runs under a policy built the way the supervisor
//! builds one (system paths, the interpreter's prefixes, a public directory; the node directory
//! writable) and must be confined, while ordinary scientific Python keeps working.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step should fail the test loudly"
)]

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mlm_exec::sandbox::{
    probe_tiers, system_hidden_paths, system_read_only_paths, system_read_write_paths,
    ChildOutcome, FilesystemIsolation, LaunchStatus, Launcher, NetworkAccess, ResourceLimits,
    SandboxPolicy, SandboxTier, TierState, LAUNCH_FAILED_EXIT_CODE,
};
use mlm_exec::{
    run_node, NodeLayout, NodeLimits, NodeResult, NodeRun, NodeStatus, PythonInstallation, Slot,
};
use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

const LAUNCHER: &str = env!("CARGO_BIN_EXE_mlm-sandbox-launcher");

/// The size of the script's private `/tmp` and `/dev/shm`.
const SCRATCH_BYTES: u64 = 64 * 1024 * 1024;

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
            hidden_paths: system_hidden_paths(),
            devices: Vec::new(),
            scratch_bytes: SCRATCH_BYTES,
            disk_limit: None,
            required_tiers: Vec::new(),
        }
    }

    /// Starts `script` (Python) under `policy`, as the supervisor would: scrubbed environment, the
    /// node directory as working directory, no process group of the launcher's own, and the status
    /// pipe as stdin.
    fn spawn(&self, policy: &SandboxPolicy, script: &str) -> Started {
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
        let (status, status_writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let child = Command::new(&launcher.program)
            .args(launcher.arguments(&policy_file, &command))
            .current_dir(&self.node)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.node)
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::from(status_writer))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Started {
            child,
            status: File::from(status),
        }
    }

    fn run(&self, policy: &SandboxPolicy, script: &str) -> Launch {
        self.spawn(policy, script).finish()
    }
}

/// A launcher running, with the read end of its status pipe.
struct Started {
    child: Child,
    status: File,
}

impl Started {
    /// Waits for the launcher and reads its output and status.
    fn finish(mut self) -> Launch {
        let output = self.child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let status = read_status(&mut self.status)
            .unwrap_or_else(|| panic!("no launch status\n{stdout}\n{stderr}"));
        Launch {
            status,
            exit_code: output.status.code(),
            stdout,
            stderr,
        }
    }
}

fn read_status(pipe: &mut File) -> Option<LaunchStatus> {
    let mut report = Vec::new();
    pipe.read_to_end(&mut report).unwrap();
    LaunchStatus::parse(&report)
}

impl Launch {
    /// Checks that the launch ran in namespaces, which the attacks it is tested with need.
    fn in_namespaces(&self) -> &Self {
        if let TierState::Unavailable { reason } = &self.status.tiers.namespaces {
            panic!("this test needs the sandbox's namespaces tier: {reason}\nhint: install bubblewrap and allow user namespaces");
        }
        self
    }

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
    except (PermissionError, FileNotFoundError):
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
        "{TRY_READ}\ntry_read({})\nimport os\ntry:\n    os.listdir({})\nexcept (PermissionError, FileNotFoundError):\n    print('denied')",
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
    except OSError:
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
        "import os\ntry:\n    os.kill({}, 0)\n    print('reached')\nexcept (PermissionError, ProcessLookupError):\n    print('denied')",
        outsider.id()
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    outsider.kill().unwrap();
    outsider.wait().unwrap();
    // Outside its PID namespace the script sees no process; without one, Landlock (ABI 6) scopes signals.
    match (&launch.status.tiers.namespaces, kernel_landlock_abi()) {
        (TierState::Enforced { .. }, _) => assert_eq!(launch.succeeded(), "denied\n"),
        (_, Some(abi)) if abi >= 6 => assert_eq!(launch.succeeded(), "denied\n"),
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
            detail: "cpus 0; the script cannot widen them (seccomp)".into()
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

/// The parent of `pid`, unless it is gone.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(1)?.parse().ok()
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

/// Every process below `pid` on this machine, found through `/proc`.
fn descendants_of(pid: i32) -> Vec<i32> {
    let mut parents = std::collections::HashMap::<i32, Vec<i32>>::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Some(parent) = parent_of(child) {
            parents.entry(parent).or_default().push(child);
        }
    }
    let mut found = Vec::new();
    let mut pending = vec![pid];
    while let Some(parent) = pending.pop() {
        for child in parents.get(&parent).into_iter().flatten() {
            found.push(*child);
            pending.push(*child);
        }
    }
    found
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
    let Started {
        child: mut launcher,
        status: mut status_pipe,
    } = sandbox.spawn(&sandbox.policy(), script);
    let launcher_pid = launcher.id() as i32;
    // The ids the script wrote are its own PID namespace's; the tree is looked up from here.
    read_pid(&sandbox.node.join("grandchild.pid"));
    read_pid(&sandbox.node.join("orphan.pid"));
    std::thread::sleep(Duration::from_secs(1));
    let sleepers: Vec<i32> = descendants_of(launcher_pid)
        .into_iter()
        .filter(|pid| {
            // bubblewrap's own processes carry the script's name among their arguments.
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|command| {
                let program = command.split('\0').next().unwrap_or_default();
                command.contains("solution.py") && !program.ends_with("bwrap")
            })
        })
        .collect();
    assert_eq!(
        sleepers.len(),
        3,
        "the script, its grandchild and the orphan all stay below the launcher"
    );

    killpg(Pid::from_raw(launcher_pid), Signal::SIGTERM).unwrap();
    // Not wait_with_output: a surviving descendant would hold the pipes open for ever.
    let deadline = Instant::now() + Duration::from_secs(10);
    while launcher.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the launcher ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in sleepers {
        assert_gone(pid);
    }
    let status = read_status(&mut status_pipe).unwrap();
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
    let bubblewrap = ["/usr/bin/bwrap", "/usr/local/bin/bwrap"]
        .iter()
        .any(|path| Path::new(path).exists());
    // Where the kernel refuses user namespaces the tier says so; it is never silently missing.
    match (bubblewrap, &tiers.namespaces) {
        (true, TierState::Enforced { detail }) => assert!(detail.contains("pid"), "{detail}"),
        (true, TierState::Unavailable { reason }) => {
            assert!(
                reason.contains("could not create the namespaces"),
                "{reason}"
            )
        }
        (false, TierState::Unavailable { reason }) => {
            assert!(reason.contains("not installed"), "{reason}")
        }
        (_, other) => panic!("namespaces: {other:?}"),
    }
    assert!(matches!(tiers.cgroups, TierState::Unavailable { .. }));
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
fn the_status_pipe_never_reaches_the_script() {
    let sandbox = Sandbox::new();
    // A forged status written wherever the script might find the pipe: its stdin, any descriptor.
    let script = r#"
import os
forged = b'{"outcome": {"exited": 0}, "peak_rss_kilobytes": 0, "tiers": {}}'
for descriptor in range(0, 64):
    if descriptor in (1, 2):
        continue
    try:
        os.write(descriptor, forged)
    except OSError:
        pass
raise SystemExit(7)
"#;
    let launch = sandbox.run(&sandbox.policy(), script);
    assert_eq!(
        launch.status.outcome,
        ChildOutcome::Exited(7),
        "{}",
        launch.stderr
    );
}

/// Runs `script` as the executor runs a node: through `run_node`, in a prepared node directory.
fn run_as_node(
    sandbox: &Sandbox,
    script: &str,
    limits: &NodeLimits,
) -> mlm_exec::Result<NodeResult> {
    let layout = NodeLayout::new(&sandbox.node);
    layout.prepare(&sandbox.public, script).unwrap();
    let python = PythonInstallation {
        python: mlm_test_support::python(),
        prefixes: python_prefixes().to_vec(),
    };
    let slot = Slot {
        index: 0,
        cpus: Vec::new(),
        gpus: Vec::new(),
    };
    let launcher = Launcher {
        program: LAUNCHER.into(),
        leading_arguments: Vec::new(),
    };
    let status_path = sandbox.state.join("node.status.json");
    let run = NodeRun {
        layout: &layout,
        public_dir: &sandbox.public,
        read_only_dirs: &[],
        python: &python,
        slot: &slot,
        limits,
        network: NetworkAccess::Denied,
        filesystem: FilesystemIsolation::Landlock,
        launcher: &launcher,
        status_path: &status_path,
        cancellation: None,
    };
    run_node(&run, &mut |_| {})
}

fn node_limits() -> NodeLimits {
    NodeLimits {
        timeout: Duration::from_secs(60),
        ..NodeLimits::default()
    }
}

#[test]
fn links_a_script_plants_in_its_node_directory_are_never_followed() {
    let sandbox = Sandbox::new();
    let victim = sandbox.state.join("victim.txt");
    std::fs::write(&victim, "the user's file\n").unwrap();
    let script = format!(
        r#"
import os
os.symlink({victim}, "output.txt")
os.symlink({answers}, "submission/submission.csv")
os.symlink({answers}, "metrics.json")
print("planted")
"#,
        victim = quoted(&victim),
        answers = quoted(&sandbox.answers),
    );
    let result = run_as_node(&sandbox, &script, &node_limits()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the user's file\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.node.join("output.txt")).unwrap(),
        "planted\n"
    );
    assert_eq!(result.submission_path, None);
    assert!(
        result
            .submission_problem
            .as_deref()
            .is_some_and(|problem| problem.contains("symbolic link")),
        "{:?}",
        result.submission_problem
    );
    assert_eq!(result.metrics, None);
    assert!(
        result
            .metrics_problem
            .as_deref()
            .is_some_and(|problem| problem.contains("symbolic link")),
        "{:?}",
        result.metrics_problem
    );
}

#[test]
#[cfg_attr(
    missing_bubblewrap,
    ignore = "no bubblewrap when the tests were built: the namespaces tier it tests needs one (apt-get install bubblewrap)"
)]
fn a_script_cannot_read_the_environment_of_a_process_outside_the_sandbox() {
    let sandbox = Sandbox::new();
    let mut outsider = Command::new("sleep")
        .arg("30")
        .env("ML_MASTER_TEST_API_KEY", "sk-secret-1234")
        .spawn()
        .unwrap();
    let script = format!(
        r#"
try:
    with open("/proc/{pid}/environ", "rb") as file:
        print("leaked" if b"sk-secret-1234" in file.read() else "read")
except (FileNotFoundError, PermissionError):
    print("hidden")
"#,
        pid = outsider.id()
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    outsider.kill().unwrap();
    outsider.wait().unwrap();
    assert_eq!(launch.in_namespaces().succeeded(), "hidden\n");
}

#[test]
#[cfg_attr(
    missing_bubblewrap,
    ignore = "no bubblewrap when the tests were built: the namespaces tier it tests needs one (apt-get install bubblewrap)"
)]
fn a_script_can_neither_kill_its_launcher_nor_lose_its_status() {
    let sandbox = Sandbox::new();
    let script = r#"
import os, signal, time
while not os.path.exists("launcher.pid"):
    time.sleep(0.02)
launcher = int(open("launcher.pid").read())
for target in [launcher, os.getppid()]:
    try:
        os.kill(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
time.sleep(0.5)
print("still supervised")
"#;
    let started = sandbox.spawn(&sandbox.policy(), script);
    let written = sandbox.node.join("launcher.pid.tmp");
    std::fs::write(&written, started.child.id().to_string()).unwrap();
    std::fs::rename(&written, sandbox.node.join("launcher.pid")).unwrap();
    let launch = started.finish();
    assert_eq!(launch.in_namespaces().succeeded(), "still supervised\n");
}

#[test]
#[cfg_attr(
    missing_bubblewrap,
    ignore = "no bubblewrap when the tests were built: the namespaces tier it tests needs one (apt-get install bubblewrap)"
)]
fn a_script_has_no_capabilities_even_when_started_by_root() {
    let sandbox = Sandbox::new();
    let mut policy = sandbox.policy();
    policy.cpu_set = Some(vec![0]);
    let script = r#"
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
try:
    os.mknod("kmsg", 0o20600, os.makedev(1, 11))
    print("mknod allowed")
except PermissionError:
    print("mknod denied")
# The name it already has: a success shows the right without renaming anything.
name = socket.gethostname().encode()
print("sethostname allowed" if libc.sethostname(name, len(name)) == 0 else "sethostname denied")
try:
    os.sched_setaffinity(0, range(os.cpu_count()))
    print("affinity widened" if len(os.sched_getaffinity(0)) > 1 else "affinity kept")
except PermissionError:
    print("affinity kept")
"#;
    let launch = sandbox.run(&policy, script);
    assert_eq!(
        launch.in_namespaces().succeeded(),
        "mknod denied\nsethostname denied\naffinity kept\n"
    );
    assert!(!sandbox.node.join("kmsg").exists());
}

#[test]
#[cfg_attr(
    missing_bubblewrap,
    ignore = "no bubblewrap when the tests were built: the namespaces tier it tests needs one (apt-get install bubblewrap)"
)]
fn dev_shm_is_private_to_the_node_and_bounded() {
    let sandbox = Sandbox::new();
    let name = format!(
        "ml-master-test-{}-{}",
        std::process::id(),
        sandbox.node.display().to_string().len() + sandbox.public.as_os_str().len()
    );
    let script = format!(
        r#"
import errno
with open("/dev/shm/{name}", "wb") as file:
    file.write(b"a channel to the next node")
try:
    with open("/dev/shm/{name}-big", "wb") as file:
        for _ in range({chunks}):
            file.write(bytes(1 << 20))
    print("unbounded")
except OSError as error:
    print("bounded" if error.errno == errno.ENOSPC else error)
"#,
        chunks = 2 * SCRATCH_BYTES / (1 << 20)
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    let on_host = Path::new("/dev/shm").join(&name);
    let leaked = on_host.exists();
    let _ = std::fs::remove_file(&on_host);
    let _ = std::fs::remove_file(on_host.with_file_name(format!("{name}-big")));
    assert_eq!(launch.in_namespaces().succeeded(), "bounded\n");
    assert!(!leaked, "{} outlived the node", on_host.display());
}

#[test]
fn a_descriptor_left_open_by_the_caller_does_not_reach_the_script() {
    use nix::sys::stat::Mode;
    let sandbox = Sandbox::new();
    // Without O_CLOEXEC, as a shell's redirection leaves it open for every program it starts.
    let descriptor = nix::fcntl::open(&sandbox.answers, OFlag::O_RDONLY, Mode::empty()).unwrap();
    let script = format!(
        r#"
import os
try:
    print("read", os.read({descriptor}, 100))
except OSError:
    print("closed")
"#
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    nix::unistd::close(descriptor).unwrap();
    assert_eq!(launch.succeeded(), "closed\n");
}

#[test]
#[cfg_attr(
    missing_bubblewrap,
    ignore = "no bubblewrap when the tests were built: the namespaces tier it tests needs one (apt-get install bubblewrap)"
)]
fn public_files_cannot_be_chmoded_or_touched() {
    use std::os::unix::fs::MetadataExt;
    let sandbox = Sandbox::new();
    let train = sandbox.public.join("train.csv");
    let before = std::fs::metadata(&train).unwrap();
    let script = format!(
        r#"
import os
path = {train}
for name, change in [("chmod", lambda: os.chmod(path, 0o777)), ("utime", lambda: os.utime(path, (0, 0)))]:
    try:
        change()
        print(name, "changed")
    except OSError:
        print(name, "refused")
"#,
        train = quoted(&train)
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    let after = std::fs::metadata(&train).unwrap();
    assert_eq!(
        launch.in_namespaces().succeeded(),
        "chmod refused\nutime refused\n"
    );
    assert_eq!(
        (after.mode(), after.mtime()),
        (before.mode(), before.mtime())
    );
}

#[test]
#[cfg_attr(
    missing_bubblewrap,
    ignore = "no bubblewrap when the tests were built: the namespaces tier it tests needs one (apt-get install bubblewrap)"
)]
fn a_script_cannot_connect_to_a_unix_socket_outside_the_sandbox() {
    let sandbox = Sandbox::new();
    let path = sandbox.state.join("service.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let script = format!(
        r#"
import socket
client = socket.socket(socket.AF_UNIX)
try:
    client.connect({path})
    print("connected")
except OSError:
    print("unreachable")
"#,
        path = quoted(&path)
    );
    let launch = sandbox.run(&sandbox.policy(), &script);
    assert_eq!(launch.in_namespaces().succeeded(), "unreachable\n");
}

#[test]
fn a_node_that_fills_its_directory_past_the_disk_bound_is_ended_with_its_own_status() {
    let sandbox = Sandbox::new();
    let limit_bytes = 32 * 1024 * 1024;
    let script = r#"
import time
with open("working/big.bin", "wb") as file:
    for _ in range(128):
        file.write(bytes(1 << 20))
        file.flush()
time.sleep(20)
print("finished")
"#;
    let limits = NodeLimits {
        disk_bytes: Some(limit_bytes),
        ..node_limits()
    };
    let result = run_as_node(&sandbox, script, &limits).unwrap();
    assert_eq!(
        result.status,
        NodeStatus::DiskLimit,
        "{}",
        result.output.text
    );
    assert!(!result.output.text.contains("finished"));
}

#[test]
fn a_required_tier_that_is_not_in_force_refuses_to_run_anything() {
    let sandbox = Sandbox::new();
    let mut policy = sandbox.policy();
    policy.required_tiers = vec![SandboxTier::Cgroups];
    let launch = sandbox.run(&policy, "open('ran', 'w').close()");
    assert!(
        matches!(&launch.status.outcome, ChildOutcome::Refused { tier: SandboxTier::Cgroups, reason } if reason.contains("cgroup")),
        "{:?}",
        launch.status.outcome
    );
    assert_eq!(launch.exit_code, Some(LAUNCH_FAILED_EXIT_CODE));
    assert!(!sandbox.node.join("ran").exists());

    let limits = NodeLimits {
        required_tiers: vec![SandboxTier::Cgroups],
        ..node_limits()
    };
    let error = run_as_node(&sandbox, "open('ran', 'w').close()", &limits)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`cgroups`") && error.contains("hint:"),
        "{error}"
    );
    assert!(!sandbox.node.join("ran").exists());
}
