//! Chat templates: chat messages rendered into one raw prompt for `/completions`, and the "steerable
//! reasoning" prompt that ends with `"<think>\n" + prefill`.
//!
//! The built-in templates follow the models' own `tokenizer_config.json`: DeepSeek-R1 (beginning of
//! sentence, system prompts joined by a blank line, `<｜User｜>` / `<｜Assistant｜>` turns, assistant turns
//! closed by `<｜end▁of▁sentence｜>` and stripped of their reasoning, generation prompt
//! `<｜Assistant｜><think>\n`) and Qwen's ChatML. Custom templates are minijinja with Hugging Face's
//! settings (`trim_blocks`, `lstrip_blocks`) and a `raise_exception` function; Python string methods
//! (`.strip()`) are not available, use filters (`| trim`).

use minijinja::{context, Environment};

use crate::config::ChatTemplate;
use crate::error::{Error, Result};
use crate::types::{Message, Role};

const DEEPSEEK_BOS: &str = "<｜begin▁of▁sentence｜>";
const DEEPSEEK_EOS: &str = "<｜end▁of▁sentence｜>";
const DEEPSEEK_USER: &str = "<｜User｜>";
const DEEPSEEK_ASSISTANT: &str = "<｜Assistant｜>";
const THINK_OPEN: &str = "<think>";

impl ChatTemplate {
    /// Renders the messages; with `add_generation_prompt`, the prompt ends where the assistant's turn
    /// begins.
    ///
    /// # Errors
    /// [`Error::Template`] when a custom template does not compile or fails to render.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        match self {
            ChatTemplate::DeepSeekR1 => Ok(deepseek_r1(messages, add_generation_prompt)),
            ChatTemplate::Qwen => Ok(chatml(messages, add_generation_prompt)),
            ChatTemplate::Custom { source } => custom(source, messages, add_generation_prompt),
        }
    }

    /// Checks that a custom template compiles (built-in ones always do).
    ///
    /// # Errors
    /// [`Error::Template`] with minijinja's message.
    pub fn check(&self) -> Result<()> {
        match self {
            ChatTemplate::DeepSeekR1 | ChatTemplate::Qwen => Ok(()),
            ChatTemplate::Custom { source } => {
                let env = environment();
                env.template_from_str(source)
                    .map(|_| ())
                    .map_err(template_error)
            }
        }
    }

    /// The steerable-reasoning prompt: the rendered chat with the generation prompt, then
    /// `"<think>\n" + prefill`. A generation prompt that already opens the think block (DeepSeek-R1's)
    /// is not doubled.
    ///
    /// # Errors
    /// As [`ChatTemplate::render`].
    pub fn steered_prompt(&self, messages: &[Message], prefill: &str) -> Result<String> {
        let mut prompt = self.render(messages, true)?;
        if prompt.ends_with("<think>\n") {
            // Already opened.
        } else if prompt.ends_with(THINK_OPEN) {
            prompt.push('\n');
        } else {
            prompt.push_str("<think>\n");
        }
        prompt.push_str(prefill);
        Ok(prompt)
    }
}

/// The text of an assistant turn without its reasoning (what follows the last `</think>`).
fn without_reasoning(content: &str) -> &str {
    content
        .rsplit_once("</think>")
        .map_or(content, |(_, answer)| answer)
}

fn deepseek_r1(messages: &[Message], add_generation_prompt: bool) -> String {
    let system: Vec<&str> = messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.content.as_str())
        .collect();
    let mut out = String::from(DEEPSEEK_BOS);
    out.push_str(&system.join("\n\n"));
    for message in messages {
        match message.role {
            Role::System => {}
            Role::User => {
                out.push_str(DEEPSEEK_USER);
                out.push_str(&message.content);
            }
            Role::Assistant => {
                out.push_str(DEEPSEEK_ASSISTANT);
                out.push_str(without_reasoning(&message.content));
                out.push_str(DEEPSEEK_EOS);
            }
        }
    }
    if add_generation_prompt {
        out.push_str(DEEPSEEK_ASSISTANT);
        out.push_str("<think>\n");
    }
    out
}

fn chatml(messages: &[Message], add_generation_prompt: bool) -> String {
    let mut out = String::new();
    for message in messages {
        let content = match message.role {
            Role::System | Role::User => message.content.as_str(),
            Role::Assistant => without_reasoning(&message.content).trim_start(),
        };
        out.push_str("<|im_start|>");
        out.push_str(message.role.as_str());
        out.push('\n');
        out.push_str(content);
        out.push_str("<|im_end|>\n");
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function(
        "raise_exception",
        |message: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                message,
            ))
        },
    );
    env
}

fn template_error(error: minijinja::Error) -> Error {
    let mut problem = error.to_string();
    if let Some(detail) = error.detail() {
        if !problem.contains(detail) {
            problem.push_str(": ");
            problem.push_str(detail);
        }
    }
    Error::Template { problem }
}

fn custom(source: &str, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
    let env = environment();
    let template = env.template_from_str(source).map_err(template_error)?;
    template
        .render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => "",
            eos_token => "",
        })
        .map_err(template_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Vec<Message> {
        vec![
            Message::system("Be brief."),
            Message::user("Hi"),
            Message::assistant("<think>hmm</think>Hello"),
            Message::user("Sum 1+1"),
        ]
    }

    #[test]
    fn deepseek_r1_matches_the_reference_layout() {
        let prompt = ChatTemplate::DeepSeekR1
            .steered_prompt(&chat(), "Let me")
            .unwrap();
        assert_eq!(
            prompt,
            "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜>Hello<｜end▁of▁sentence｜>\
             <｜User｜>Sum 1+1<｜Assistant｜><think>\nLet me"
        );
    }

    #[test]
    fn qwen_is_chatml() {
        let prompt = ChatTemplate::Qwen.steered_prompt(&chat(), "Ok").unwrap();
        assert_eq!(
            prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nSum 1+1<|im_end|>\n\
             <|im_start|>assistant\n<think>\nOk"
        );
    }

    #[test]
    fn custom_templates_render_hf_style_and_report_errors() {
        let template = ChatTemplate::Custom {
            source: "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}\
                     {% if add_generation_prompt %}[assistant] <think>{% endif %}"
                .to_owned(),
        };
        let prompt = template.steered_prompt(&chat()[..2], "x").unwrap();
        assert_eq!(
            prompt,
            "[system] Be brief.\n[user] Hi\n[assistant] <think>\nx"
        );
        let broken = ChatTemplate::Custom {
            source: "{% for %}".to_owned(),
        };
        assert!(matches!(broken.check(), Err(Error::Template { .. })));
        let raising = ChatTemplate::Custom {
            source: "{{ raise_exception('no system role') }}".to_owned(),
        };
        let error = raising.render(&chat(), true).unwrap_err().to_string();
        assert!(error.contains("no system role"), "{error}");
    }
}
