//! Reading a model's reply: the plan and the Python script of a proposal, and the verdict of a review
//! given as tool arguments, as a JSON object in the text, or as plain `key: value` lines.
//!
//! A reply's code is read the way ML-Master reads it, and then some: the Python blocks joined in order
//! (a helper block, then the script), each dedented (small models indent them inside numbered lists);
//! the longest block alone; and, when the reply has no fenced block at all, the whole text. The caller
//! compiles the readings in that order and keeps the first that compiles. The reply itself is never
//! altered.

use serde_json::Value;

/// A reply's plan and code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Solution {
    pub plan: String,
    pub code: String,
}

/// The plan shown when a reply has none.
const NO_PLAN: &str = "(the reply gave no plan)";

/// One fenced Python block: where its fence starts in the reply, and its text dedented.
struct Block {
    start: usize,
    code: String,
}

/// The readings of `reply`'s code to try, best first: every Python block joined in order (when there
/// are several), the longest block, or (when there is no fenced block) the whole text after any
/// `<think>` block, if it has an `import` line. Empty when the reply has no code at all. A block fenced
/// as `python`, `py` or with no language counts; a block left open at the end (a reply cut short)
/// counts too.
pub(crate) fn solutions(reply: &str) -> Vec<Solution> {
    let reply = without_reasoning(reply);
    let blocks = python_blocks(reply);
    // Headings are left out of the plan: small models copy the prompt's headings into their reply,
    // and a plan that carries them into memory gets them copied again by the next prompt.
    let plan_before = |start: usize| {
        let plan: Vec<&str> = reply[..start]
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect();
        let plan = plan.join("\n");
        let plan = plan.trim();
        if plan.is_empty() {
            NO_PLAN.to_string()
        } else {
            plan.to_string()
        }
    };
    let Some(longest) = blocks.iter().max_by_key(|block| block.code.len()) else {
        let looks_like_python = reply.lines().any(|line| {
            let line = line.trim_start();
            line.starts_with("import ") || (line.starts_with("from ") && line.contains(" import "))
        });
        return if looks_like_python {
            vec![Solution {
                plan: NO_PLAN.to_string(),
                code: script(reply),
            }]
        } else {
            Vec::new()
        };
    };
    let mut readings = Vec::new();
    if blocks.len() > 1 {
        let joined: Vec<&str> = blocks.iter().map(|block| block.code.trim_end()).collect();
        readings.push(Solution {
            plan: plan_before(blocks[0].start),
            code: script(&joined.join("\n\n")),
        });
    }
    readings.push(Solution {
        plan: plan_before(longest.start),
        code: script(&longest.code),
    });
    readings
}

/// The text after a leading `<think>…</think>` block, for servers that leave it in the answer.
fn without_reasoning(reply: &str) -> &str {
    let trimmed = reply.trim_start();
    match trimmed
        .strip_prefix("<think>")
        .and_then(|rest| rest.split_once("</think>"))
    {
        Some((_, answer)) => answer,
        None => reply,
    }
}

/// The non-empty Python blocks of `reply`, in order.
fn python_blocks(reply: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut offset = 0;
    let mut lines = reply.split_inclusive('\n').map(|line| {
        let start = offset;
        offset += line.len();
        (start, line.trim_end_matches(['\n', '\r']))
    });
    while let Some((start, line)) = lines.next() {
        let Some(language) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let language = language.trim().to_ascii_lowercase();
        let is_python = matches!(language.as_str(), "" | "python" | "python3" | "py");
        let mut body = Vec::new();
        for (_, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push(inner);
        }
        let code = textwrap::dedent(&body.join("\n"));
        if is_python && !code.trim().is_empty() {
            blocks.push(Block { start, code });
        }
    }
    blocks
}

/// `code` as a script file: no blank lines around it, one final newline.
fn script(code: &str) -> String {
    let first_line = code
        .lines()
        .position(|line| !line.trim().is_empty())
        .unwrap_or(0);
    let body: Vec<&str> = code.lines().skip(first_line).collect();
    body.join("\n").trim_end().to_string() + "\n"
}

/// The review's verdict, as `submit_review` takes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub is_bug: bool,
    pub has_csv_submission: bool,
    pub summary: String,
    pub metric: Option<f64>,
    pub lower_is_better: Option<bool>,
}

/// Reads a verdict from tool arguments or a JSON object; models write numbers as strings and
/// booleans as words often enough that both are accepted.
pub(crate) fn verdict(arguments: &Value) -> Result<Verdict, String> {
    let object = arguments
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {arguments}"))?;
    let boolean = |key: &str| -> Result<Option<bool>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(Value::String(text)) if is_word(text, &["true", "yes"]) => Ok(Some(true)),
            Some(Value::String(text)) if is_word(text, &["false", "no"]) => Ok(Some(false)),
            Some(other) => Err(format!("`{key}` must be true or false, got {other}")),
        }
    };
    let metric = match object.get("metric") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(other) => return Err(format!("`metric` must be a number or null, got {other}")),
    };
    let summary = match object.get("summary") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_string(),
        _ => return Err("`summary` is missing or empty".to_string()),
    };
    Ok(Verdict {
        is_bug: boolean("is_bug")?.ok_or("`is_bug` is missing")?,
        has_csv_submission: boolean("has_csv_submission")?.unwrap_or(false),
        summary,
        metric: metric.filter(|value| value.is_finite()),
        lower_is_better: boolean("lower_is_better")?,
    })
}

/// The first JSON object in `text`, fenced or not.
pub(crate) fn json_object(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    if end < start {
        return None;
    }
    serde_json::from_str(&text[start..=end]).ok()
}

/// Whether `text` is one of `words`, ignoring case, surrounding spaces and markdown emphasis.
fn is_word(text: &str, words: &[&str]) -> bool {
    let text = text.trim().trim_matches(['*', '`', '.', '"']);
    words.iter().any(|word| text.eq_ignore_ascii_case(word))
}

/// The fields of `submit_review` written as `key: value` lines (bulleted, bold or in backticks), as
/// models answer when they copy the tool's description instead of calling it; `None` when the text
/// has no `is_bug` line.
pub(crate) fn verdict_lines(text: &str) -> Option<Value> {
    const KEYS: [&str; 5] = [
        "is_bug",
        "has_csv_submission",
        "summary",
        "metric",
        "lower_is_better",
    ];
    let mut object = serde_json::Map::new();
    for line in text.lines() {
        let line = line.trim_start_matches(|character: char| {
            character.is_whitespace() || matches!(character, '-' | '*' | '`' | '#' | '"')
        });
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['*', '`', '"']).trim();
        if let Some(key) = KEYS.iter().find(|known| key.eq_ignore_ascii_case(known)) {
            let value = value.trim().trim_matches(['*', '`', ',']).trim();
            let value = value.trim_matches('"');
            object
                .entry(key.to_string())
                .or_insert_with(|| Value::String(value.to_string()));
        }
    }
    object
        .contains_key("is_bug")
        .then_some(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(reply: &str) -> Vec<String> {
        solutions(reply)
            .into_iter()
            .map(|solution| solution.code)
            .collect()
    }

    #[test]
    fn the_plan_is_the_text_before_the_python_block() {
        let reply = "I will fit a random forest.\n\n```python\nimport pandas as pd\nprint(1)\n```\n\nAnd a note.\n```bash\nls -la something long enough to be longer\n```\n";
        let readings = solutions(reply);
        assert_eq!(readings.len(), 1, "a bash block is not Python");
        assert_eq!(readings[0].plan, "I will fit a random forest.");
        assert_eq!(readings[0].code, "import pandas as pd\nprint(1)\n");
    }

    #[test]
    fn the_plan_leaves_out_the_prompt_headings_a_small_model_copied() {
        let reply = "### Solution sketch guideline\n\n- **Model**: a logistic regression.\n\n### Implementation guideline\n\n```python\nimport pandas as pd\n```\n";
        let readings = solutions(reply);
        assert_eq!(readings[0].plan, "- **Model**: a logistic regression.");
        let reply = "## Implementation guideline\n```python\nimport pandas as pd\n```\n";
        assert_eq!(solutions(reply)[0].plan, NO_PLAN);
    }

    #[test]
    fn blocks_are_joined_in_order_before_the_longest_is_tried_alone() {
        let reply = "Plan.\n```python\ndef load():\n    return 1\n```\nThen the script:\n```python\nimport numpy\nx = load()\nprint(x)\n```\n";
        assert_eq!(
            codes(reply),
            [
                "def load():\n    return 1\n\nimport numpy\nx = load()\nprint(x)\n",
                "import numpy\nx = load()\nprint(x)\n"
            ]
        );
    }

    #[test]
    fn blocks_indented_inside_a_numbered_list_are_dedented() {
        let reply = "1. Load the data:\n   ```python\n   import pandas as pd\n   if True:\n       x = 1\n   ```\n";
        assert_eq!(codes(reply), ["import pandas as pd\nif True:\n    x = 1\n"]);
    }

    #[test]
    fn an_unfenced_reply_with_imports_is_read_whole() {
        assert_eq!(
            codes("import pandas as pd\nprint(pd.__version__)\n\n"),
            ["import pandas as pd\nprint(pd.__version__)\n"]
        );
        assert_eq!(
            codes("<think>\nSimple.\n</think>\nfrom sklearn import svm\n"),
            ["from sklearn import svm\n"]
        );
    }

    #[test]
    fn a_reply_without_code_has_no_reading() {
        assert!(solutions("I would use LightGBM with 5 folds.").is_empty());
        assert!(solutions("Results: This solution has bugs.\n-----").is_empty());
        assert!(solutions("```python\n\n```").is_empty());
    }

    #[test]
    fn a_block_cut_short_by_the_token_limit_is_kept() {
        assert_eq!(
            codes("Plan.\n```python\nimport numpy\nx = 1"),
            ["import numpy\nx = 1\n"]
        );
    }

    #[test]
    fn verdicts_accept_numbers_written_as_strings() {
        let verdict = verdict(&serde_json::json!({
            "is_bug": "false", "has_csv_submission": true, "summary": " Fine. ",
            "metric": "0.8125", "lower_is_better": false
        }))
        .unwrap();
        assert_eq!(verdict.metric, Some(0.8125));
        assert_eq!(verdict.summary, "Fine.");
        assert!(!verdict.is_bug);
    }

    #[test]
    fn a_verdict_without_is_bug_or_summary_is_refused() {
        assert!(verdict(&serde_json::json!({"summary": "x"})).is_err());
        assert!(verdict(&serde_json::json!({"is_bug": true})).is_err());
    }

    #[test]
    fn a_verdict_in_key_value_lines_is_read() {
        let text = "Here is my review:\n- **is_bug**: No\n- `has_csv_submission`: true\n- summary: Logistic regression reached 0.81.\n- metric: 0.81\n- lower_is_better: false\n";
        let verdict = verdict(&verdict_lines(text).unwrap()).unwrap();
        assert!(!verdict.is_bug);
        assert_eq!(verdict.metric, Some(0.81));
        assert_eq!(verdict.summary, "Logistic regression reached 0.81.");
        assert_eq!(verdict_lines("It went fine."), None);
    }

    #[test]
    fn json_is_found_inside_fences_and_prose() {
        let value = json_object("Here:\n```json\n{\"is_bug\": false}\n```").unwrap();
        assert_eq!(value["is_bug"], false);
        assert_eq!(json_object("no json"), None);
    }
}
