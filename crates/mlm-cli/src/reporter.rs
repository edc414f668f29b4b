//! Preparation progress on stderr: one line per step, a tool's own output indented below it.

use std::path::Path;

use mlm_exec::{Profile, SetupProgress};
use mlm_task::Task;

/// Draws what the assembly reports while it sets up environments and prepares recipes.
pub struct TerminalReporter;

impl SetupProgress for TerminalReporter {
    fn step(&mut self, description: &str) {
        eprintln!("==> {description}");
    }

    fn output(&mut self, line: &str) {
        eprintln!("    {line}");
    }
}

impl mlm_agent::Reporter for TerminalReporter {
    fn environment_setup(&mut self, profile: Profile, root: &Path) {
        eprintln!(
            "Setting up the managed Python environment ({} profile) in {}",
            profile.name(),
            root.display()
        );
    }

    fn recipe_preparing(&mut self, recipe: &Path, out: &Path) {
        eprintln!("Preparing {} into {}", recipe.display(), out.display());
    }

    fn recipe_prepared(&mut self, task: &Task, out: &Path) {
        eprintln!(
            "Prepared `{}` ({}) in {}",
            task.id,
            task.name,
            out.display()
        );
    }
}
