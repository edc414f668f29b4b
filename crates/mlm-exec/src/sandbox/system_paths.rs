//! The system paths every Python script needs, computed without looking at the script. Landlock only
//! allows, never denies, so `/etc` is listed entry by entry, leaving out the credential stores.
//! `/tmp`, `/root` and `/home` are never listed: other tasks' files and the user's home stay out of reach.

use std::path::{Path, PathBuf};

/// Read-only system directories, where they exist.
const SYSTEM_DIRECTORIES: &[&str] = &["/usr", "/lib", "/lib64", "/bin", "/sbin", "/proc", "/sys"];

/// Read-write devices: the harmless character devices, and `/dev/shm` for Python's multiprocessing
/// semaphores.
const SYSTEM_READ_WRITE: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/shm",
];

/// Entries of `/etc` (relative to it) that hold secrets: passwords, keys, credentials.
const SECRET_ETC_ENTRIES: &[&str] = &[
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "ssh",
    "ssl/private",
    "pki/tls/private",
    "pki/CA/private",
    "security",
    "krb5.keytab",
    "ipsec.secrets",
    "ipsec.d",
    "wireguard",
    "openvpn",
    "ppp",
    "wpa_supplicant",
    "NetworkManager/system-connections",
    "netplan",
    "letsencrypt",
    "credstore",
    "credstore.encrypted",
    "libvirt/secrets",
    "docker",
    "apt/auth.conf",
    "apt/auth.conf.d",
    "pip.conf",
    "npmrc",
    "netrc",
];

/// The system paths a Python script needs to read (and execute): `/usr`, `/lib`, `/lib64`, `/bin`,
/// `/sbin`, `/proc`, `/sys` where they exist, and every entry of `/etc` but its secrets. Symbolic links
/// in `/etc` are left out: a rule follows them, and their targets (`/usr/share/zoneinfo`, `/proc`) are
/// covered already when they are harmless.
pub fn system_read_only_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = SYSTEM_DIRECTORIES
        .iter()
        .map(PathBuf::from)
        .filter(|path| path.exists())
        .collect();
    paths.extend(entries_without_secrets(
        Path::new("/etc"),
        SECRET_ETC_ENTRIES,
    ));
    paths
}

/// The secrets of `/etc` that exist here (not links): what the namespaces tier hides beneath a
/// read-only `/etc`, since one bind of `/etc` costs far less than one bind per entry.
pub fn system_hidden_paths() -> Vec<PathBuf> {
    SECRET_ETC_ENTRIES
        .iter()
        .map(|entry| Path::new("/etc").join(entry))
        .filter(|path| {
            path.symlink_metadata()
                .is_ok_and(|metadata| !metadata.file_type().is_symlink())
        })
        .collect()
}

/// The system paths a Python script needs to write: `/dev/null`, `/dev/zero`, `/dev/full`,
/// `/dev/random`, `/dev/urandom`, `/dev/shm`, where they exist.
pub fn system_read_write_paths() -> Vec<PathBuf> {
    SYSTEM_READ_WRITE
        .iter()
        .map(PathBuf::from)
        .filter(|path| path.exists())
        .collect()
}

/// The NVIDIA device nodes a slot with `gpus` needs, where they exist: the shared control nodes
/// (`nvidiactl`, `nvidia-uvm`, `nvidia-uvm-tools`, `nvidia-modeset`) and `/dev/nvidia<id>` for each
/// GPU. None for a slot without GPUs. The ids are taken as device minor numbers, which is how the
/// driver numbers them unless `CUDA_DEVICE_ORDER` reorders CUDA's view.
pub fn gpu_device_paths(gpus: &[u32]) -> Vec<PathBuf> {
    if gpus.is_empty() {
        return Vec::new();
    }
    let shared = [
        "nvidiactl",
        "nvidia-uvm",
        "nvidia-uvm-tools",
        "nvidia-modeset",
    ]
    .map(String::from);
    let own = gpus.iter().map(|gpu| format!("nvidia{gpu}"));
    shared
        .into_iter()
        .chain(own)
        .map(|name| Path::new("/dev").join(name))
        .filter(|path| path.exists())
        .collect()
}

/// The entries of `directory`, except symbolic links and the `secrets` (paths relative to it); a
/// directory holding a secret further down is listed entry by entry in turn.
fn entries_without_secrets(directory: &Path, secrets: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut names: Vec<_> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| !kind.is_symlink()))
        .map(|entry| entry.file_name())
        .collect();
    names.sort();
    let mut paths = Vec::new();
    for name in names {
        let name = name.to_string_lossy();
        if secrets.contains(&name.as_ref()) {
            continue;
        }
        let prefix = format!("{name}/");
        let nested: Vec<&str> = secrets
            .iter()
            .filter_map(|secret| secret.strip_prefix(&prefix))
            .collect();
        let path = directory.join(name.as_ref());
        if nested.is_empty() {
            paths.push(path);
        } else {
            paths.extend(entries_without_secrets(&path, &nested));
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_left_out_at_any_depth_and_their_siblings_kept() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path();
        for directory in ["ssl/certs", "ssl/private", "ssh", "fonts"] {
            std::fs::create_dir_all(etc.join(directory)).unwrap();
        }
        for file in ["passwd", "shadow", "ssl/openssl.cnf", "ssl/private/key.pem"] {
            std::fs::write(etc.join(file), "").unwrap();
        }
        std::os::unix::fs::symlink("/root", etc.join("link-to-root")).unwrap();
        let listed = entries_without_secrets(etc, &["shadow", "ssh", "ssl/private"]);
        let expected: Vec<PathBuf> = ["fonts", "passwd", "ssl/certs", "ssl/openssl.cnf"]
            .iter()
            .map(|name| etc.join(name))
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn the_system_lists_hold_neither_homes_nor_tmp_nor_secrets() {
        let read_only = system_read_only_paths();
        let read_write = system_read_write_paths();
        assert!(read_only.contains(&PathBuf::from("/usr")));
        assert!(read_only.contains(&PathBuf::from("/etc/passwd")));
        assert!(read_write.contains(&PathBuf::from("/dev/null")));
        for path in read_only.iter().chain(&read_write) {
            for forbidden in ["/tmp", "/root", "/home", "/etc/shadow", "/etc/ssh", "/etc"] {
                assert_ne!(path, Path::new(forbidden));
            }
            assert!(!path.starts_with("/etc/ssl/private"), "{}", path.display());
        }
    }
}
