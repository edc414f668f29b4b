//! The machine's NVIDIA GPUs, as `nvidia-smi --query-gpu` lists them, and which of them a run uses
//! (`--gpus auto|none|0,1`). A machine without `nvidia-smi`, or whose driver does not answer, has no GPU
//! for `auto`: runs work there as they always did.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process::{run_process, ProcessRequest};

/// The driver's tool; found on `PATH`.
const NVIDIA_SMI: &str = "nvidia-smi";
const QUERY: [&str; 2] = [
    "--query-gpu=index,name,memory.total",
    "--format=csv,noheader,nounits",
];
/// A driver that hangs must not hold a run's start for long.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// One GPU as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    /// The driver's index: what `CUDA_VISIBLE_DEVICES` and `/dev/nvidia<index>` name.
    pub index: u32,
    /// The model, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Total memory in MiB; `None` where the driver reports none (`[N/A]`).
    pub memory_mib: Option<u64>,
}

/// Which GPUs a run gives its slots.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GpuSelection {
    /// Every GPU the driver lists; none where there is no driver.
    #[default]
    Auto,
    /// No GPU, even where there are some.
    None,
    /// Exactly these indices, each of which must exist.
    Only(Vec<u32>),
}

impl FromStr for GpuSelection {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<GpuSelection, String> {
        match text.trim() {
            "auto" => Ok(GpuSelection::Auto),
            "none" => Ok(GpuSelection::None),
            list => list
                .split(',')
                .map(|index| index.trim().parse::<u32>())
                .collect::<std::result::Result<Vec<u32>, _>>()
                .map(GpuSelection::Only)
                .map_err(|_| {
                    format!("gpus = {text:?}: not a GPU list\nhint: write \"auto\", \"none\" or GPU indices such as \"0,1\"")
                }),
        }
    }
}

impl TryFrom<String> for GpuSelection {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<GpuSelection, String> {
        text.parse()
    }
}

impl From<GpuSelection> for String {
    fn from(selection: GpuSelection) -> String {
        selection.to_string()
    }
}

impl fmt::Display for GpuSelection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuSelection::Auto => formatter.write_str("auto"),
            GpuSelection::None => formatter.write_str("none"),
            GpuSelection::Only(indices) => formatter.write_str(
                &indices
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }
}

/// The GPUs `selection` gives a run on this machine. `auto` finds none where `nvidia-smi` is missing or
/// fails; named indices that the driver does not list are an error.
pub fn select_gpus(selection: &GpuSelection) -> Result<Vec<Gpu>> {
    match selection {
        GpuSelection::None => Ok(Vec::new()),
        GpuSelection::Auto => Ok(discover_gpus().unwrap_or_default()),
        GpuSelection::Only(indices) => {
            let found = discover_gpus()?;
            let listed = match found.is_empty() {
                true => "no GPU".to_string(),
                false => format!(
                    "GPUs {}",
                    found
                        .iter()
                        .map(|gpu| gpu.index.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            indices
                .iter()
                .map(|index| {
                    found
                        .iter()
                        .find(|gpu| gpu.index == *index)
                        .cloned()
                        .ok_or_else(|| Error::GpuUnavailable {
                            index: *index,
                            found: listed.clone(),
                        })
                })
                .collect()
        }
    }
}

/// Every GPU `nvidia-smi` lists; an empty list where it is not installed.
pub fn discover_gpus() -> Result<Vec<Gpu>> {
    let mut request = ProcessRequest::new(NVIDIA_SMI, std::env::temp_dir())
        .args(QUERY)
        .spawn_hint("install the NVIDIA driver, or pass --gpus none");
    request.timeout = Some(DISCOVERY_TIMEOUT);
    let mut lines = Vec::new();
    let outcome = match run_process(&request, &mut |line| lines.push(line.text)) {
        Ok(outcome) => outcome,
        Err(Error::Spawn { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new())
        }
        Err(error) => return Err(error),
    };
    if !outcome.success() {
        return Err(Error::SetupStep {
            what: format!("{NVIDIA_SMI} listing the GPUs"),
            status: outcome.status.to_string(),
            output_tail: outcome.output.last_lines(20),
            hint: "check the NVIDIA driver (`nvidia-smi` alone), or pass --gpus none".to_string(),
        });
    }
    parse_gpu_list(&lines.join("\n")).map_err(|problem| Error::Io {
        path: PathBuf::from(NVIDIA_SMI),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, problem),
    })
}

/// Reads `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`: one
/// `index, name, MiB` line per GPU.
pub fn parse_gpu_list(text: &str) -> std::result::Result<Vec<Gpu>, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            // A model name may hold commas; the index comes first and the memory last.
            let (index, rest) = line
                .split_once(',')
                .ok_or_else(|| format!("unexpected line {line:?}"))?;
            let (name, memory) = rest
                .rsplit_once(',')
                .ok_or_else(|| format!("unexpected line {line:?}"))?;
            let index = index
                .trim()
                .parse()
                .map_err(|_| format!("unexpected GPU index in {line:?}"))?;
            Ok(Gpu {
                index,
                name: name.trim().to_string(),
                memory_mib: memory.trim().parse().ok(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` printed on
    /// an eight-GPU machine and on a machine with a MIG-enabled card.
    const EIGHT_H100: &str = "0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n2, NVIDIA H100 80GB HBM3, 81559\n3, NVIDIA H100 80GB HBM3, 81559\n4, NVIDIA H100 80GB HBM3, 81559\n5, NVIDIA H100 80GB HBM3, 81559\n6, NVIDIA H100 80GB HBM3, 81559\n7, NVIDIA H100 80GB HBM3, 81559\n";

    #[test]
    fn nvidia_smi_lines_give_index_model_and_memory() {
        let gpus = parse_gpu_list(EIGHT_H100).unwrap();
        assert_eq!(gpus.len(), 8);
        assert_eq!(
            gpus[7],
            Gpu {
                index: 7,
                name: "NVIDIA H100 80GB HBM3".to_string(),
                memory_mib: Some(81559)
            }
        );
        let odd =
            parse_gpu_list("0, NVIDIA A100-SXM4-40GB, [N/A]\n1, Tesla T4, rev 2, 15360\n").unwrap();
        assert_eq!(odd[0].memory_mib, None);
        assert_eq!(odd[1].name, "Tesla T4, rev 2");
        assert_eq!(odd[1].memory_mib, Some(15360));
        assert!(parse_gpu_list("No devices were found").is_err());
        assert_eq!(parse_gpu_list("").unwrap(), Vec::new());
    }

    #[test]
    fn selections_read_and_write_as_the_flag_spells_them() {
        for text in ["auto", "none", "0,1", "3"] {
            assert_eq!(text.parse::<GpuSelection>().unwrap().to_string(), text);
        }
        assert_eq!(
            " 0, 2 ".parse::<GpuSelection>().unwrap(),
            GpuSelection::Only(vec![0, 2])
        );
        assert!("all".parse::<GpuSelection>().unwrap_err().contains("hint:"));
    }

    #[test]
    fn none_selects_no_gpu_without_asking_the_driver() {
        assert_eq!(select_gpus(&GpuSelection::None).unwrap(), Vec::new());
    }
}
