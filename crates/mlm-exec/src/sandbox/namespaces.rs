//! The outer ring of the sandbox: bubblewrap (`bwrap`, the tool Flatpak is built on) starts the
//! launcher's inner stage in new user, PID, mount, IPC, UTS and cgroup namespaces, and a network
//! namespace when the network is denied. The mount namespace holds only the policy's paths (read-only
//! ones bound read-only, so the public files cannot even be `chmod`ed), a private `/proc` listing only
//! the sandbox's processes, a minimal `/dev` (null, zero, full, random, urandom, tty and the policy's
//! devices) and private size-bounded `/tmp` and `/dev/shm`; every capability is dropped. bubblewrap's
//! own process stays in the launcher's PID namespace, and the whole namespace dies with it.
//!
//! The launcher hands bubblewrap a pipe on which the inside stage reports its tiers, and a copy of
//! the script's stderr; bubblewrap's own stderr is caught, so that where it cannot create the
//! namespaces its message becomes the tier's reason instead of the script's output.
//!
//! Why bubblewrap and not our own namespace code: it is small, audited, packaged everywhere, and
//! handles the corners (locked mount flags, `/proc` over-mounts, `pivot_root`) that a hand-written
//! version gets wrong; it starts in about 10 ms.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;

use super::descriptors::close_on_exec;
use super::inside::{InsideReport, INSIDE_FLAG};
use super::launcher::{supervise, with_lock, Invocation};
use super::policy::{
    ChildOutcome, FilesystemIsolation, NetworkAccess, SandboxPolicy, SandboxTiers, TierState,
};
use super::reaper;

/// Where bubblewrap is looked for; the launcher's environment is scrubbed, so `PATH` is not trusted.
const BUBBLEWRAP_PATHS: &[&str] = &["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"];

/// Bound whole, with [`SandboxPolicy::hidden_paths`] hidden beneath it.
const ETC: &str = "/etc";

/// The host name the script sees.
const HOST_NAME: &str = "sandbox";

/// The installed bubblewrap, if any.
pub(super) fn find_bubblewrap() -> Option<PathBuf> {
    BUBBLEWRAP_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// What the namespaces tier reports when bubblewrap set them up.
pub(super) fn describe(policy: &SandboxPolicy) -> String {
    let network = match policy.network {
        NetworkAccess::Denied => ", network",
        NetworkAccess::Allowed => "",
    };
    format!(
        "bubblewrap: user, pid, mount, ipc, uts, cgroup{network} namespaces; private /proc, minimal /dev, /tmp and /dev/shm of {} MiB each; no capabilities",
        policy.scratch_bytes / (1024 * 1024)
    )
}

/// bubblewrap's arguments that run `inside` (a program and its arguments, which must lie beneath
/// `extra_read_only`) under `policy`, in `working_directory`. A pure function of its inputs.
pub(super) fn bubblewrap_arguments(
    policy: &SandboxPolicy,
    extra_read_only: &[PathBuf],
    working_directory: &Path,
    inside: &[OsString],
) -> Vec<OsString> {
    let mut arguments: Vec<OsString> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        HOST_NAME,
        "--cap-drop",
        "ALL",
    ]
    .map(OsString::from)
    .to_vec();
    match policy.network {
        NetworkAccess::Denied => arguments.push("--unshare-net".into()),
        NetworkAccess::Allowed => {}
    }
    let scratch = policy.scratch_bytes.to_string();
    let fresh = [
        "--proc", "/proc", "--dev", "/dev", "--size", &scratch, "--tmpfs", "/dev/shm",
    ]
    .map(OsString::from);
    let fresh_tmp = ["--size", &scratch, "--tmpfs", "/tmp"].map(OsString::from);
    match policy.filesystem {
        FilesystemIsolation::Landlock => {
            // Made before the binds: a node directory beneath /tmp is bound into the fresh /tmp.
            arguments.extend(fresh);
            arguments.extend(fresh_tmp);
            // One bind of /etc, its secrets hidden below, instead of one per entry: each bind costs
            // about 2 ms, and /etc has over a hundred entries.
            let read_only = policy.read_only_paths.iter().chain(extra_read_only);
            let (etc, others): (Vec<&PathBuf>, Vec<&PathBuf>) =
                read_only.partition(|path| path.starts_with(ETC));
            let etc = etc.first().map(|_| Path::new(ETC));
            let mut binds: Vec<(&str, &Path)> = others
                .into_iter()
                .map(PathBuf::as_path)
                .chain(etc)
                .map(|path| ("--ro-bind", path))
                .chain(
                    policy
                        .read_write_paths
                        .iter()
                        .map(|path| ("--bind", path.as_path())),
                )
                // Devices and /proc are the fresh ones above, never the host's.
                .filter(|(_, path)| !path.starts_with("/dev") && !path.starts_with("/proc"))
                .collect();
            // A bind hides whatever was bound beneath its target before it: parents go first.
            binds.sort_by_key(|(_, path)| path.components().count());
            for (kind, path) in binds {
                arguments.extend([kind.into(), path.into(), path.into()]);
            }
            for hidden in &policy.hidden_paths {
                match hidden.is_dir() {
                    true => arguments.extend(["--tmpfs".into(), hidden.into()]),
                    false => {
                        arguments.extend(["--ro-bind".into(), "/dev/null".into(), hidden.into()])
                    }
                }
            }
        }
        // The host's /tmp stays: an unrestricted script sees the host's files.
        FilesystemIsolation::Unrestricted => {
            arguments.extend(["--bind".into(), "/".into(), "/".into()]);
            arguments.extend(fresh);
        }
    }
    for device in &policy.devices {
        arguments.extend(["--dev-bind".into(), device.into(), device.into()]);
    }
    match policy.filesystem {
        // The root itself is a tmpfs of bubblewrap's: nothing may be written there.
        FilesystemIsolation::Landlock => arguments.extend(["--remount-ro".into(), "/".into()]),
        FilesystemIsolation::Unrestricted => {}
    }
    arguments.extend(["--chdir".into(), working_directory.into(), "--".into()]);
    arguments.extend_from_slice(inside);
    arguments
}

/// Runs the inside stage under bubblewrap and supervises it. `Err` says why the namespaces could not
/// be made; nothing of the program ran then, and the caller goes on without them.
pub(super) fn in_namespaces(
    bubblewrap: &Path,
    invocation: &Invocation,
    leading: &[OsString],
    policy: &SandboxPolicy,
    tiers: &mut SandboxTiers,
    terminate: &AtomicBool,
) -> Result<ChildOutcome, String> {
    let cannot = |what: &str, error: &dyn std::fmt::Display| format!("cannot {what}: {error}");
    let launcher = std::env::current_exe()
        .map_err(|error| cannot("find the launcher's own program", &error))?;
    let policy_file = std::path::absolute(&invocation.policy_file)
        .map_err(|error| cannot("resolve the policy file", &error))?;
    let working_directory =
        std::env::current_dir().map_err(|error| cannot("read the working directory", &error))?;
    let (report_reader, report_writer) =
        nix::unistd::pipe().map_err(|error| cannot("make the report pipe", &error))?;
    let (error_reader, error_writer) =
        nix::unistd::pipe().map_err(|error| cannot("make bubblewrap's error pipe", &error))?;
    for reader in [&report_reader, &error_reader] {
        close_on_exec(reader.as_raw_fd()).map_err(|error| cannot("keep a pipe", &error))?;
    }
    // The script's stderr travels to the inside stage beside bubblewrap's own, which is caught here.
    let stderr_copy =
        nix::unistd::dup(2).map_err(|error| cannot("copy the standard error", &error))?;
    let mut inside: Vec<OsString> = vec![launcher.clone().into()];
    inside.extend_from_slice(leading);
    inside.extend([
        INSIDE_FLAG.into(),
        report_writer.as_raw_fd().to_string().into(),
        stderr_copy.to_string().into(),
        "--policy-file".into(),
        policy_file.clone().into(),
        "--".into(),
        invocation.program.clone(),
    ]);
    inside.extend_from_slice(&invocation.arguments);
    let arguments = bubblewrap_arguments(
        policy,
        &[launcher, policy_file],
        &working_directory,
        &inside,
    );
    let spawned = Command::new(bubblewrap)
        .args(arguments)
        .stderr(Stdio::from(error_writer))
        .spawn();
    drop(report_writer);
    let _ = nix::unistd::close(stderr_copy);
    let mut child =
        spawned.map_err(|error| cannot(&format!("start {}", bubblewrap.display()), &error))?;
    let mut report = BufReader::new(File::from(report_reader));
    let mut line = String::new();
    let _ = report.read_line(&mut line);
    let first: InsideReport = match serde_json::from_str(&line) {
        Ok(first) => first,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let mut message = String::new();
            let _ = File::from(error_reader)
                .take(64 * 1024)
                .read_to_string(&mut message);
            return Err(format!(
                "bubblewrap could not create the namespaces: {}",
                message.trim()
            ));
        }
    };
    drop(error_reader);
    tiers.namespaces = TierState::Enforced {
        detail: describe(policy),
    };
    tiers.filesystem = first.filesystem;
    tiers.network = first.network;
    tiers.cpu_affinity = with_lock(tiers.cpu_affinity.clone(), first.cpu_set_lock);
    let outcome = match first.ended {
        Some(ended) => {
            let _ = child.wait();
            ended
        }
        None => match supervise(&mut child, terminate, policy) {
            // bubblewrap exits with 128 + the signal that killed the program, as a shell does.
            ChildOutcome::Exited(code) if (129..=128 + 64).contains(&code) => {
                ChildOutcome::Signaled(code - 128)
            }
            outcome => outcome,
        },
    };
    reaper::kill_all_descendants();
    // After the namespace is gone nothing holds the pipe: a second line says why the program failed to start.
    line.clear();
    let _ = report.read_line(&mut line);
    match serde_json::from_str::<InsideReport>(&line) {
        Ok(InsideReport {
            ended: Some(ended), ..
        }) => Ok(ended),
        Ok(InsideReport { ended: None, .. }) | Err(_) => Ok(outcome),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::ResourceLimits;

    fn policy() -> SandboxPolicy {
        SandboxPolicy {
            read_only_paths: vec![
                "/usr".into(),
                "/proc".into(),
                "/etc/passwd".into(),
                "/etc/ssl/certs".into(),
                "/data/public".into(),
            ],
            read_write_paths: vec!["/dev/null".into(), "/dev/shm".into(), "/runs/node".into()],
            network: NetworkAccess::Denied,
            filesystem: FilesystemIsolation::Landlock,
            limits: ResourceLimits::default(),
            cpu_set: None,
            hidden_paths: vec!["/etc/shadow".into()],
            devices: vec!["/dev/nvidia0".into()],
            scratch_bytes: 64 * 1024 * 1024,
            disk_limit: None,
            required_tiers: Vec::new(),
        }
    }

    fn text(arguments: &[OsString]) -> String {
        arguments
            .iter()
            .map(|argument| argument.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn public_files_are_bound_read_only_and_devices_made_afresh() {
        let arguments = bubblewrap_arguments(
            &policy(),
            &["/opt/launcher".into()],
            Path::new("/runs/node"),
            &["/opt/launcher".into(), "--inside".into()],
        );
        let text = text(&arguments);
        for expected in [
            "--ro-bind /usr /usr",
            "--ro-bind /etc /etc",
            "--ro-bind /dev/null /etc/shadow",
            "--ro-bind /data/public /data/public",
            "--ro-bind /opt/launcher /opt/launcher",
            "--bind /runs/node /runs/node",
            "--proc /proc --dev /dev",
            "--size 67108864 --tmpfs /dev/shm --size 67108864 --tmpfs /tmp",
            "--dev-bind /dev/nvidia0 /dev/nvidia0",
            "--unshare-net",
            "--cap-drop ALL",
            "--remount-ro / --chdir /runs/node -- /opt/launcher --inside",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        for unexpected in [
            "/dev/null /dev/null",
            "--ro-bind /proc",
            "/dev/shm /dev/shm",
            "/etc/passwd /etc/passwd",
        ] {
            assert!(!text.contains(unexpected), "{unexpected} in {text}");
        }
    }

    #[test]
    fn an_allowed_network_and_an_unrestricted_filesystem_share_the_hosts() {
        let mut open = policy();
        open.network = NetworkAccess::Allowed;
        open.filesystem = FilesystemIsolation::Unrestricted;
        let text = text(&bubblewrap_arguments(
            &open,
            &[],
            Path::new("/runs/node"),
            &["/opt/launcher".into()],
        ));
        assert!(text.contains("--bind / /"), "{text}");
        assert!(!text.contains("--unshare-net"), "{text}");
        assert!(!text.contains("--remount-ro"), "{text}");
        assert!(!text.contains("--bind /runs/node"), "{text}");
    }
}
