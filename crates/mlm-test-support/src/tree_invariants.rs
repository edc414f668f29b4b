//! The search tree's invariants, checked from its public state: visit counts add up, expansion limits
//! hold for the policy, draft locks belong to the workers working under them, and a request is refused
//! only when nothing is open to that worker. The search's property tests check them after every
//! operation; the engine's and the command line's tests check them on the tree a real run leaves, and
//! check its journal with [`check_journal_tree`].

#![expect(
    clippy::unwrap_used,
    reason = "a node the tree names is in the tree; a test should stop loudly if not"
)]

use std::collections::BTreeMap;
use std::path::Path;

use mlm_journal::NodeEntry;
use mlm_search::{Expansion, Next, NodeId, PolicyKind, Search, Stage, WorkerId};

/// The rules a run's journal follows under the default search settings (five drafts, three improves of
/// a valid node, one debug of a node that is not): dense ids, each node's stage following from its
/// parent's outcome, no more children than that, and `nodes/<id>/solution.py` for every node.
pub fn check_journal_tree(run_dir: &Path, nodes: &[NodeEntry]) {
    for (index, node) in nodes.iter().enumerate() {
        assert_eq!(
            node.id.0 as usize, index,
            "node ids are dense, with no duplicate"
        );
        let expected = match node.parent {
            None => Stage::Draft,
            Some(parent) if nodes[parent.0 as usize].outcome.is_valid() => Stage::Improve,
            Some(_) => Stage::Debug,
        };
        assert_eq!(
            node.stage, expected,
            "node {} under {:?}",
            node.id, node.parent
        );
        assert!(
            run_dir
                .join("nodes")
                .join(node.id.0.to_string())
                .join("solution.py")
                .is_file(),
            "node {} has no directory",
            node.id
        );
    }
    let drafts = nodes.iter().filter(|node| node.parent.is_none()).count();
    assert!(
        drafts <= 5,
        "{drafts} drafts: the root takes num_drafts = 5"
    );
    for parent in nodes {
        let children = nodes
            .iter()
            .filter(|node| node.parent == Some(parent.id))
            .count();
        let limit = if parent.outcome.is_valid() { 3 } else { 1 };
        assert!(
            children <= limit,
            "node {} has {children} children",
            parent.id
        );
    }
}

/// Every invariant that holds at any moment, for the search's policy.
pub fn check_tree_invariants(search: &Search) {
    check_visits(search);
    match search.config().policy {
        PolicyKind::Mcts => {
            check_mcts_limits(search);
            check_locks(search);
        }
        PolicyKind::Greedy => check_greedy_limits(search),
    }
}

/// `visits = own backpropagations + Σ children's visits`; the root has no own backpropagations.
fn check_visits(search: &Search) {
    for node in search.nodes() {
        let children: u32 = node
            .children()
            .iter()
            .map(|child| search.node(*child).unwrap().visits())
            .sum();
        assert_eq!(
            node.visits(),
            node.own_backpropagations() + children,
            "visits of node {}",
            node.id()
        );
    }
    let root = search.tree().root();
    let drafts = |value: fn(&mlm_search::Node) -> i64| -> i64 {
        root.children()
            .iter()
            .map(|id| value(search.node(*id).unwrap()))
            .sum()
    };
    assert_eq!(
        i64::from(root.visits()),
        drafts(|node| i64::from(node.visits()))
    );
    assert_eq!(root.total_reward(), drafts(|node| node.total_reward()));
}

/// A slot is only reserved on a node that was not fully expanded.
pub fn check_reservation(search: &Search, expansion: &Expansion) {
    if search.config().policy != PolicyKind::Mcts {
        return;
    }
    if let Some(parent) = expansion.parent {
        let node = search.node(parent).unwrap();
        if !node.is_valid() {
            let valid_children = node
                .children()
                .iter()
                .filter(|child| search.node(**child).unwrap().is_valid())
                .count();
            assert_eq!(valid_children, 0, "node {parent} already has a fix");
        }
        assert!(!node.is_terminal(), "node {parent} is terminal");
    }
}

fn check_mcts_limits(search: &Search) {
    let config = search.config();
    assert!(search.tree().root().expected_child_count() <= config.num_drafts);
    for node in search.nodes() {
        if node.is_valid() {
            assert!(node.expected_child_count() <= config.num_improves);
        } else {
            assert!(node.expected_child_count() <= config.num_bugs);
            // Once a child is valid, the node is fully expanded: that child is the last one.
            let children = node.children();
            if let Some(first_valid) = children
                .iter()
                .position(|child| search.node(*child).unwrap().is_valid())
            {
                assert_eq!(first_valid, children.len() - 1, "children after a fix");
                assert_eq!(node.in_flight(), 0, "a child reserved after a fix");
            }
        }
    }
}

fn check_greedy_limits(search: &Search) {
    for node in search.nodes().filter(|node| !node.is_valid()) {
        assert!(
            node.expected_child_count() <= 1,
            "node {} debugged twice",
            node.id()
        );
    }
}

/// Could a selection expand this node? (The policy's rule, restated from public fields.)
fn is_open(search: &Search, id: NodeId) -> bool {
    let config = search.config();
    let node = search.node(id).unwrap();
    let has_valid_child = node
        .children()
        .iter()
        .any(|child| search.node(*child).unwrap().is_valid());
    let full = if node.is_valid() {
        node.expected_child_count() >= config.num_improves
    } else {
        has_valid_child || node.expected_child_count() >= config.num_bugs
    };
    let fix_found_below = !node.is_valid() && node.debug_succeeded();
    !(node.is_terminal() || full || fix_found_below)
}

fn subtree_is_open(search: &Search, id: NodeId) -> bool {
    is_open(search, id)
        || search
            .node(id)
            .unwrap()
            .children()
            .iter()
            .any(|child| subtree_is_open(search, *child))
}

/// A request is refused only when every open subtree belongs to another worker (`Wait`), or when no
/// node is open and nothing is in flight (`Exhausted`).
pub fn check_refusal(search: &Search, refusal: &Next) {
    let root = search.tree().root();
    assert!(root.expected_child_count() >= search.config().num_drafts);
    let open_drafts: Vec<NodeId> = root
        .children()
        .iter()
        .copied()
        .filter(|draft| subtree_is_open(search, *draft))
        .collect();
    match refusal {
        Next::Wait => {
            for draft in open_drafts {
                assert!(
                    search.node(draft).unwrap().lock_holder().is_some(),
                    "draft {draft} is open and free, yet the request waits"
                );
            }
        }
        Next::Exhausted => {
            assert_eq!(open_drafts, [], "exhausted with open nodes");
            assert_eq!(search.in_flight().len(), 0, "exhausted with work in flight");
        }
        Next::Expand(_) => {}
    }
}

/// Every expansion in flight and every continuing trajectory lies in a draft locked by its worker, and
/// every lock belongs to a worker with work in that draft.
fn check_locks(search: &Search) {
    let tree = search.tree();
    let mut owners: BTreeMap<NodeId, WorkerId> = BTreeMap::new();
    for expansion in search.in_flight() {
        if let Some(parent) = expansion.parent {
            let draft = tree.draft_of(parent).unwrap();
            assert_eq!(
                search.node(draft).unwrap().lock_holder(),
                Some(expansion.worker),
                "expansion {} of worker {} under draft {draft}",
                expansion.ticket,
                expansion.worker
            );
            owners.insert(draft, expansion.worker);
        }
    }
    for worker in (0..8).map(WorkerId) {
        if let Some(position) = search.position(worker) {
            let draft = tree.draft_of(position).unwrap();
            assert_eq!(search.node(draft).unwrap().lock_holder(), Some(worker));
            assert!(owners
                .insert(draft, worker)
                .is_none_or(|other| other == worker));
        }
    }
    for draft in tree.root().children() {
        let holder = search.node(*draft).unwrap().lock_holder();
        assert_eq!(holder, owners.get(draft).copied(), "lock of draft {draft}");
    }
}
