//! `[builtin]`: settings of the built-in coder. `improve_choice` says how an improve picks its one
//! change (`planned`, or `in_order` for `bench --ablate moves`). `text_model` names a local Hugging Face model directory
//! (a `config.json`, weights, tokenizer files) whose mean-pooled embeddings the coder's first text draft
//! learns from; it is made absolute and checked when the configuration is resolved, so that a run never
//! starts with a model its scripts cannot load.

use std::path::{Path, PathBuf};

use merge::Merge;
use mlm_coder::ImproveChoice;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file that makes a directory a Hugging Face model.
const MODEL_CONFIG_FILE: &str = "config.json";

/// `[builtin]`, every key optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct BuiltinLayer {
    /// A local Hugging Face model directory for text embeddings; unset: text stays with TF-IDF.
    pub text_model: Option<PathBuf>,
    /// How an improve picks its change: `planned` (the default) or `in_order`.
    pub improve_choice: Option<ImproveChoice>,
}

impl BuiltinLayer {
    /// The model directory as an absolute path, when one is set; an error naming the path and what to
    /// do when it does not exist or holds no `config.json`.
    pub fn resolve_text_model(&self) -> Result<Option<PathBuf>> {
        let Some(path) = &self.text_model else {
            return Ok(None);
        };
        let absolute = std::path::absolute(path).map_err(Error::io(path, "not a usable path"))?;
        match (
            absolute.is_dir(),
            absolute.join(MODEL_CONFIG_FILE).is_file(),
        ) {
            (true, true) => Ok(Some(absolute)),
            (false, _) => Err(refusal(&absolute, "no such directory")),
            (true, false) => Err(refusal(
                &absolute,
                "not a Hugging Face model directory: it has no config.json",
            )),
        }
    }
}

fn refusal(path: &Path, problem: &str) -> Error {
    Error::Invalid(format!(
        "[builtin] text_model = {}: {problem}\nhint: give the directory a model was saved to with save_pretrained (config.json, weights and tokenizer files; e.g. a sentence-transformers model downloaded elsewhere), or remove the key to keep TF-IDF",
        path.display()
    ))
}
