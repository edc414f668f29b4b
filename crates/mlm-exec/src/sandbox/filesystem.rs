//! File confinement with Landlock: the launcher restricts itself to the policy's paths (read and
//! execute beneath the read-only ones, everything beneath the read-write ones), and its child inherits
//! the restriction. Landlock also scopes signals and abstract UNIX sockets to the sandbox (ABI 6), and
//! forbids mounting. Rights the running kernel lacks are dropped (best effort) and named in the detail.

use std::path::Path;

use landlock::{
    Access, AccessFs, LandlockStatus, PathBeneath, PathFd, RestrictionStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use super::policy::{FilesystemIsolation, SandboxPolicy, TierState};

/// The newest ABI whose rights we ask for; older kernels enforce what they know.
const REQUESTED_ABI: ABI = ABI::V9;

/// The oldest ABI that confines reading, writing, executing and truncating: below it the tier is
/// only partial.
const FILE_CONFINEMENT_ABI: ABI = ABI::V3;

/// What older ABIs leave unconfined, with the ABI that brought each right.
const LATER_RIGHTS: &[(ABI, &str)] = &[
    (
        ABI::V3,
        "truncating files outside the read-write paths (ABI 3)",
    ),
    (ABI::V5, "ioctl on device files (ABI 5)"),
    (
        ABI::V6,
        "signals and abstract UNIX sockets reaching out of the sandbox (ABI 6)",
    ),
    (ABI::V9, "connecting to UNIX sockets by path (ABI 9)"),
];

/// Restricts the calling thread, which must be the launcher's only one. `/proc` is always readable:
/// the launcher walks it to find every descendant it must kill. `Err` says why the launch must not go
/// ahead (a path that cannot be opened, a ruleset the kernel rejects).
pub(super) fn restrict(policy: &SandboxPolicy) -> Result<TierState, String> {
    match policy.filesystem {
        FilesystemIsolation::Unrestricted => return Ok(TierState::Disabled),
        FilesystemIsolation::Landlock => {}
    }
    let read_only = policy
        .read_only_paths
        .iter()
        .map(AsRef::as_ref)
        .chain([Path::new("/proc")]);
    let mut rules = path_rules(read_only, AccessFs::from_read(REQUESTED_ABI))?;
    rules.extend(path_rules(
        policy.read_write_paths.iter().map(AsRef::as_ref),
        AccessFs::from_all(REQUESTED_ABI),
    )?);
    let landlock_error = |error: landlock::RulesetError| format!("cannot set up Landlock: {error}");
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(REQUESTED_ABI))
        .map_err(landlock_error)?
        .scope(Scope::from_all(REQUESTED_ABI))
        .map_err(landlock_error)?
        .create()
        .map_err(landlock_error)?;
    for rule in rules {
        ruleset = ruleset.add_rule(rule).map_err(landlock_error)?;
    }
    let status = ruleset.restrict_self().map_err(landlock_error)?;
    Ok(describe(
        &status,
        policy.read_only_paths.len(),
        policy.read_write_paths.len(),
    ))
}

/// One rule per path, with the rights that make sense for a file where the path is not a directory.
fn path_rules<'a>(
    paths: impl Iterator<Item = &'a Path>,
    access: landlock::BitFlags<AccessFs>,
) -> Result<Vec<PathBeneath<PathFd>>, String> {
    paths
        .map(|path| {
            let unusable = |error: &dyn std::fmt::Display| {
                format!(
                    "cannot give the sandbox access to {}: {error}\nhint: every path of the sandbox policy must exist",
                    path.display()
                )
            };
            let metadata = std::fs::metadata(path).map_err(|error| unusable(&error))?;
            let access = if metadata.is_dir() {
                access
            } else {
                access & AccessFs::from_file(REQUESTED_ABI)
            };
            let descriptor = PathFd::new(path).map_err(|error| unusable(&error))?;
            Ok(PathBeneath::new(descriptor, access))
        })
        .collect()
}

fn describe(status: &RestrictionStatus, read_only: usize, read_write: usize) -> TierState {
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi,
        LandlockStatus::NotEnabled => {
            return TierState::Unavailable {
                reason: "this kernel has Landlock but it is not enabled (add `landlock` to the `lsm=` boot parameter)".to_string(),
            }
        }
        LandlockStatus::NotImplemented => {
            return TierState::Unavailable {
                reason: "this kernel has no Landlock (Linux 5.13 or newer built with CONFIG_SECURITY_LANDLOCK)".to_string(),
            }
        }
    };
    match status.ruleset {
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => {}
        RulesetStatus::NotEnforced => {
            return TierState::Unavailable {
                reason: format!("the kernel did not enforce the Landlock ruleset (ABI {abi})"),
            }
        }
    }
    let mut detail =
        format!("Landlock ABI {abi}: {read_only} read-only and {read_write} read-write paths");
    let unconfined: Vec<&str> = LATER_RIGHTS
        .iter()
        .filter(|(since, _)| abi < *since)
        .map(|(_, right)| *right)
        .collect();
    if !unconfined.is_empty() {
        detail.push_str("; not confined by this kernel: ");
        detail.push_str(&unconfined.join(", "));
    }
    if abi >= FILE_CONFINEMENT_ABI {
        TierState::Enforced { detail }
    } else {
        TierState::Partial { detail }
    }
}
