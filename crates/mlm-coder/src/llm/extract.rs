//! Reading a model's reply: the plan and the Python script of a proposal, and the verdict of a review
//! given as tool arguments or, from servers without tool calling, as a JSON object in the text.

use serde_json::Value;

/// A reply's plan and code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Solution {
    pub plan: String,
    pub code: String,
}

/// The plan (the text before the code) and the longest Python block of `reply`; `None` when it has no
/// code block. A block fenced as `python`, `py` or with no language counts.
pub(crate) fn solution(reply: &str) -> Option<Solution> {
    let mut blocks: Vec<(usize, String)> = Vec::new();
    let mut lines = reply.lines().enumerate().peekable();
    let mut offsets = Vec::new();
    let mut offset = 0;
    for line in reply.lines() {
        offsets.push(offset);
        offset += line.len() + 1;
    }
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(language) = trimmed.strip_prefix("```") else {
            continue;
        };
        let language = language.trim().to_ascii_lowercase();
        let code_fence = matches!(language.as_str(), "" | "python" | "python3" | "py");
        let mut body = Vec::new();
        let mut closed = false;
        for (_, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            body.push(inner);
        }
        // An unclosed block at the end of a reply cut short by max_tokens is still the script.
        if code_fence && (closed || !body.is_empty()) {
            blocks.push((offsets[index], body.join("\n")));
        }
    }
    let (start, code) = blocks
        .into_iter()
        .filter(|(_, code)| !code.trim().is_empty())
        .max_by_key(|(_, code)| code.len())?;
    let plan = reply[..start].trim();
    let plan = if plan.is_empty() {
        "(the reply gave no plan)".to_string()
    } else {
        plan.to_string()
    };
    Some(Solution {
        plan,
        code: code.trim_end().to_string() + "\n",
    })
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
            Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_the_text_before_the_longest_python_block() {
        let reply = "I will fit a random forest.\n\n```python\nimport pandas as pd\nprint(1)\n```\n\nAnd a note.\n```bash\nls -la something long enough to be longer\n```\n";
        let solution = solution(reply).unwrap();
        assert_eq!(solution.plan, "I will fit a random forest.");
        assert_eq!(solution.code, "import pandas as pd\nprint(1)\n");
    }

    #[test]
    fn a_reply_without_a_code_block_has_no_solution() {
        assert_eq!(solution("I would use LightGBM with 5 folds."), None);
        assert_eq!(solution("```python\n\n```"), None);
    }

    #[test]
    fn a_block_cut_short_by_the_token_limit_is_kept() {
        let solution = solution("Plan.\n```python\nimport numpy\nx = 1").unwrap();
        assert_eq!(solution.code, "import numpy\nx = 1\n");
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
    fn json_is_found_inside_fences_and_prose() {
        let value = json_object("Here:\n```json\n{\"is_bug\": false}\n```").unwrap();
        assert_eq!(value["is_bug"], false);
        assert_eq!(json_object("no json"), None);
    }
}
