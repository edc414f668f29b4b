//! The sandbox launcher as a program of its own, for tests: see `mlm_exec::sandbox`.

fn main() {
    std::process::exit(mlm_exec::sandbox::launcher_main(
        std::env::args_os().skip(1).collect(),
    ));
}
