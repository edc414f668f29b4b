//! Decides, when the tests are built, whether the sandbox tests that need the namespaces tier can do
//! their job here: without bubblewrap (at the paths the sandbox looks in) they are counted as ignored,
//! with the reason (`missing_bubblewrap`), instead of failing on every machine that lacks it.
//! `ML_MASTER_REQUIRE_BUBBLEWRAP=1` (CI) ignores nothing: there a missing bubblewrap fails them. Cargo
//! runs this again when the variable changes or a bubblewrap is installed or removed.

use std::path::Path;

/// `sandbox::namespaces::BUBBLEWRAP_PATHS`: where the sandbox looks for bubblewrap.
const BUBBLEWRAP_PATHS: [&str; 3] = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"];

fn main() {
    println!("cargo::rerun-if-env-changed=ML_MASTER_REQUIRE_BUBBLEWRAP");
    println!("cargo::rustc-check-cfg=cfg(missing_bubblewrap)");
    let mut found = false;
    for path in BUBBLEWRAP_PATHS.map(Path::new) {
        // The directory changes when bubblewrap is installed into it; a missing path is never watched
        // (Cargo would rerun this script on every build).
        match (
            path.exists(),
            path.parent().filter(|directory| directory.exists()),
        ) {
            (true, _) => {
                found = true;
                println!("cargo::rerun-if-changed={}", path.display());
            }
            (false, Some(directory)) => println!("cargo::rerun-if-changed={}", directory.display()),
            (false, None) => {}
        }
    }
    if !found && std::env::var("ML_MASTER_REQUIRE_BUBBLEWRAP").as_deref() != Ok("1") {
        println!("cargo::rustc-cfg=missing_bubblewrap");
    }
}
