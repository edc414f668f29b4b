//! Cutting a proposal's prompt down when the server says it does not fit the model's context window:
//! in order, the older memory entries, then the data preview, then the execution outputs, each cut
//! keeping the ones before it. The cuts are made on copies of the task and the request, so the prompt
//! templates render them as they render anything else.

use crate::operator::{NodeView, ProposalRequest, TaskBrief};

/// Memory entries kept once older ones are dropped: the newest.
const MEMORY_KEPT: usize = 2;
/// Buggy ancestors kept once older memory is dropped: the nearest.
const ANCESTORS_KEPT: usize = 1;
/// Characters kept from the end of the parent's output once outputs are cut.
const PARENT_OUTPUT_KEPT: usize = 2_000;
/// Characters kept from the end of an ancestor's output once outputs are cut.
const ANCESTOR_OUTPUT_KEPT: usize = 500;

/// How far a proposal's prompt is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PromptCut {
    Whole,
    /// All but the newest memory entries and the nearest buggy ancestor left out.
    OlderMemory,
    /// The data preview left out too.
    DataPreview,
    /// The execution outputs cut to their last lines too.
    Outputs,
}

impl PromptCut {
    /// The next cut to try, `None` when everything that can be cut is.
    pub(crate) fn next(self) -> Option<PromptCut> {
        match self {
            PromptCut::Whole => Some(PromptCut::OlderMemory),
            PromptCut::OlderMemory => Some(PromptCut::DataPreview),
            PromptCut::DataPreview => Some(PromptCut::Outputs),
            PromptCut::Outputs => None,
        }
    }

    /// The task and the request as this cut leaves them.
    pub(crate) fn apply(
        self,
        task: &TaskBrief,
        request: &ProposalRequest,
    ) -> (TaskBrief, ProposalRequest) {
        let mut task = task.clone();
        let mut request = request.clone();
        if self == PromptCut::Whole {
            return (task, request);
        }
        request.memory.sort_by_key(|entry| entry.node);
        let older = request.memory.len().saturating_sub(MEMORY_KEPT);
        request.memory.drain(..older);
        request.buggy_ancestors.truncate(ANCESTORS_KEPT);
        if self == PromptCut::OlderMemory {
            return (task, request);
        }
        task.data_preview = "(The data preview was left out to fit the model's context window: \
                             read the files in ./input/ to learn their layout.)"
            .to_string();
        if self == PromptCut::DataPreview {
            return (task, request);
        }
        if let Some(parent) = request.parent.as_mut() {
            cut_output(parent, PARENT_OUTPUT_KEPT);
        }
        for ancestor in &mut request.buggy_ancestors {
            cut_output(ancestor, ANCESTOR_OUTPUT_KEPT);
        }
        (task, request)
    }
}

/// Keeps the last `characters` of a node's output, marking the cut.
fn cut_output(node: &mut NodeView, characters: usize) {
    let count = node.output.chars().count();
    if count > characters {
        let tail: String = node.output.chars().skip(count - characters).collect();
        node.output = format!(
            "[... {} characters omitted ...]\n{tail}",
            count - characters
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mlm_search::Stage;

    use super::*;
    use crate::operator::{Budget, ExecutionStatus, MemoryEntry};

    fn node(id: u32, output: &str) -> NodeView {
        NodeView {
            node: id,
            stage: Stage::Debug,
            plan: String::new(),
            code: String::new(),
            output: output.to_string(),
            status: ExecutionStatus::Error,
            duration: Duration::from_secs(1),
            metric: None,
            buggy: true,
            summary: String::new(),
            validation_message: None,
        }
    }

    fn request() -> ProposalRequest {
        ProposalRequest {
            stage: Stage::Debug,
            parent: Some(node(9, &"p".repeat(5_000))),
            memory: [4, 1, 7, 2]
                .into_iter()
                .map(|id| MemoryEntry {
                    node: id,
                    plan: format!("plan {id}"),
                    summary: String::new(),
                    metric: None,
                    buggy: false,
                })
                .collect(),
            buggy_ancestors: vec![node(8, &"a".repeat(900)), node(6, "old")],
            budget: Budget {
                time_remaining: Duration::from_secs(60),
                steps_remaining: 3,
                node_timeout: Duration::from_secs(60),
            },
            siblings_being_written: 0,
            seed: 0,
        }
    }

    #[test]
    fn each_cut_keeps_the_ones_before_it_and_drops_the_oldest_memory_first() {
        let task = TaskBrief {
            competition_id: "toy".to_string(),
            description: String::new(),
            data_preview: "train.csv: 891 rows".to_string(),
            metric: mlm_grade::Metric::Accuracy,
            train_sample: None,
            test_sample: None,
            public_dir: std::env::temp_dir(),
            id_column: "id".to_string(),
            target_columns: vec!["y".to_string()],
            sample_submission_file: "sample_submission.csv".to_string(),
            hardware: String::new(),
            installed_packages: Vec::new(),
            text_model: None,
        };
        let (same_task, same_request) = PromptCut::Whole.apply(&task, &request());
        assert_eq!((same_task, same_request), (task.clone(), request()));

        let (cut_task, cut) = PromptCut::OlderMemory.apply(&task, &request());
        let kept: Vec<u32> = cut.memory.iter().map(|entry| entry.node).collect();
        assert_eq!(kept, vec![4, 7], "the newest entries stay");
        assert_eq!(cut.buggy_ancestors.len(), 1);
        assert_eq!(cut.buggy_ancestors[0].node, 8, "the nearest ancestor stays");
        assert_eq!(cut_task.data_preview, task.data_preview);

        let (cut_task, cut) = PromptCut::DataPreview.apply(&task, &request());
        assert!(cut_task.data_preview.contains("left out"));
        assert_eq!(cut.memory.len(), 2);
        assert_eq!(cut.parent.unwrap().output.len(), 5_000);

        let (_, cut) = PromptCut::Outputs.apply(&task, &request());
        let parent_output = cut.parent.unwrap().output;
        assert!(parent_output.starts_with("[... 3000 characters omitted ...]"));
        assert!(parent_output.ends_with(&"p".repeat(2_000)));
        assert!(cut.buggy_ancestors[0].output.ends_with(&"a".repeat(500)));
        assert_eq!(PromptCut::Outputs.next(), None);
    }
}
