//! Worker slots: how the machine's cores and GPUs are shared between scripts running at once. Each slot
//! gets its own CPU set (applied with sched_setaffinity) and its own GPU ids (CUDA_VISIBLE_DEVICES), and
//! thread counts follow the slot's cores.

/// One execution slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub index: usize,
    /// The cores a script in this slot may run on.
    pub cpus: Vec<usize>,
    /// The GPU ids it sees; empty means none.
    pub gpus: Vec<u32>,
}

impl Slot {
    /// The value of CUDA_VISIBLE_DEVICES: the slot's GPUs, or empty to hide every GPU.
    pub fn cuda_visible_devices(&self) -> String {
        self.gpus
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Splits `cpus` into `count` contiguous, disjoint sets as evenly as possible (when there are fewer cores
/// than slots, slots share cores round-robin), and deals `gpus` out round-robin: with one GPU, every slot
/// shares it, as ML-Master does; with several, each slot gets its own.
pub fn plan_slots(count: usize, cpus: &[usize], gpus: &[u32]) -> Vec<Slot> {
    let count = count.max(1);
    (0..count)
        .map(|index| {
            let slot_cpus = if cpus.len() >= count {
                let start = index * cpus.len() / count;
                let end = (index + 1) * cpus.len() / count;
                cpus[start..end].to_vec()
            } else if cpus.is_empty() {
                Vec::new()
            } else {
                vec![cpus[index % cpus.len()]]
            };
            let slot_gpus = match gpus.len() {
                0 => Vec::new(),
                available if available >= count => {
                    let start = index * available / count;
                    let end = (index + 1) * available / count;
                    gpus[start..end].to_vec()
                }
                available => vec![gpus[index % available]],
            };
            Slot {
                index,
                cpus: slot_cpus,
                gpus: slot_gpus,
            }
        })
        .collect()
}

/// The cores this process may run on (its own affinity mask, so a taskset or a container's cpuset is
/// respected).
pub fn available_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|cpu| set.is_set(*cpu).unwrap_or(false))
            .collect(),
        Err(_) => (0..std::thread::available_parallelism().map_or(1, usize::from)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_are_split_into_disjoint_even_sets() {
        let slots = plan_slots(3, &[0, 1, 2, 3, 4, 5, 6, 7], &[]);
        let sets: Vec<Vec<usize>> = slots.iter().map(|slot| slot.cpus.clone()).collect();
        assert_eq!(sets, vec![vec![0, 1], vec![2, 3, 4], vec![5, 6, 7]]);
        assert!(slots
            .iter()
            .all(|slot| slot.cuda_visible_devices().is_empty()));
    }

    #[test]
    fn fewer_cores_than_slots_share_round_robin() {
        let slots = plan_slots(4, &[0, 1], &[]);
        let sets: Vec<Vec<usize>> = slots.iter().map(|slot| slot.cpus.clone()).collect();
        assert_eq!(sets, vec![vec![0], vec![1], vec![0], vec![1]]);
    }

    #[test]
    fn gpus_are_dealt_out_or_shared() {
        let shared = plan_slots(3, &[0, 1, 2], &[0]);
        assert!(shared.iter().all(|slot| slot.cuda_visible_devices() == "0"));
        let own = plan_slots(2, &[0, 1], &[0, 1, 2, 3]);
        assert_eq!(own[0].cuda_visible_devices(), "0,1");
        assert_eq!(own[1].cuda_visible_devices(), "2,3");
    }

    #[test]
    fn this_process_has_at_least_one_core() {
        assert!(!available_cpus().is_empty());
    }
}
