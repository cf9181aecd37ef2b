//! Which files a request mentions, for the mux rules' file-name matchers: an explicit
//! `x-modelgates-files` header, the file paths of Markdown code fences (```` ```python src/app.py ````,
//! the way Continue and similar clients quote files), and `Path:` comment lines at the head of
//! a FIM prompt (`# Path: src/app.py`, `// Path: lib.rs`, as Copilot-style clients send).

use modelgates::ROUTE_FILES_MAX;
use serde_json::{Map, Value};

/// The files of a chat request's `messages` and of `extra` (the header's list), in order of
/// first mention, without repeats, at most [`ROUTE_FILES_MAX`].
pub fn of_chat(messages: &[Value], extra: &[String]) -> Vec<String> {
    let mut out = Files::new(extra);
    for message in messages {
        for text in texts(message.get("content")) {
            out.scan(text);
        }
    }
    out.0
}

/// The files of a FIM request's `prompt` (and `suffix`) and of `extra`.
pub fn of_fim(body: &Map<String, Value>, extra: &[String]) -> Vec<String> {
    let mut out = Files::new(extra);
    for field in ["prompt", "suffix"] {
        for text in texts(body.get(field)) {
            out.scan(text);
        }
    }
    out.0
}

/// The file list of an `x-modelgates-files` header value (comma-separated).
pub fn of_header(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The texts of a content value: a string, or an array of strings or `{"type": "text",
/// "text": …}` parts (a chat message's `content`, a FIM `prompt`).
pub fn texts(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.as_str().or_else(|| p.get("text").and_then(Value::as_str)))
            .collect(),
        _ => Vec::new(),
    }
}

struct Files(Vec<String>);

impl Files {
    fn new(extra: &[String]) -> Self {
        let mut out = Self(Vec::new());
        for f in extra {
            out.push(f);
        }
        out
    }

    fn push(&mut self, file: &str) {
        if self.0.len() < ROUTE_FILES_MAX && !self.0.iter().any(|f| f == file) {
            self.0.push(file.to_owned());
        }
    }

    fn scan(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim_start();
            if let Some(info) = line.strip_prefix("```") {
                // The info string: a language, a path, or both (`python src/app.py (1-20)`).
                for word in info.split_whitespace() {
                    // `py:src/app.py` and `src/app.py:12` forms.
                    for part in word.split(':') {
                        if let Some(path) = as_path(part) {
                            self.push(path);
                        }
                    }
                }
            } else if let Some(path) = path_comment(line).and_then(|rest| as_path(rest.trim())) {
                self.push(path);
            }
        }
    }
}

/// The text after `Path:` in a comment line (`# Path: x`, `// Path: x`, `-- Path: x`,
/// `<!-- Path: x -->`).
fn path_comment(line: &str) -> Option<&str> {
    let body = ["#", "//", "--", "<!--", ";", "%", "/*", "*"]
        .iter()
        .find_map(|c| line.strip_prefix(c))?;
    let rest = body.trim_start().strip_prefix("Path:")?;
    Some(
        rest.trim()
            .trim_end_matches("-->")
            .trim_end_matches("*/")
            .trim(),
    )
}

/// `word` as a file path: it has a file name with an extension or a directory part, only
/// path characters, and is not a URL.
fn as_path(word: &str) -> Option<&str> {
    let word = word.trim_matches(|c| matches!(c, '"' | '\'' | '`' | '(' | ')' | ',' | ';'));
    if word.is_empty() || word.contains("://") || word.len() > 1024 {
        return None;
    }
    let path_chars = word
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '/' | '\\' | '_' | '-' | '+' | '@'));
    let name = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let has_ext = name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !ext.is_empty()
            && ext.chars().all(char::is_alphanumeric)
            && (!stem.is_empty() || name.len() > 1)
    });
    let has_dir = word.contains('/') || word.contains('\\');
    (path_chars && !name.is_empty() && (has_ext || has_dir) && !word.chars().all(|c| c == '.'))
        .then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn code_fences_name_the_files_of_a_chat() {
        let messages = vec![
            json!({"role": "system", "content": "be brief"}),
            json!({"role": "user", "content": "Fix this:\n```python src/app.py\nprint(1)\n```\nand\n```rust:lib/x.rs (1-20)\nfn f() {}\n```\n```python\nno path\n```"}),
            json!({"role": "user", "content": [{"type": "text", "text": "```Makefile.am\n```"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}),
        ];
        assert_eq!(
            of_chat(&messages, &["docs/a.md".into()]),
            ["docs/a.md", "src/app.py", "lib/x.rs", "Makefile.am"]
        );
    }

    #[test]
    fn path_comments_name_the_file_of_a_fim_prompt() {
        let body = json!({"prompt": "# Path: src/app.py\nimport os\n", "suffix": "// Path: web/main.ts\n"});
        assert_eq!(
            of_fim(body.as_object().unwrap(), &[]),
            ["src/app.py", "web/main.ts"]
        );
        let body = json!({"prompt": ["<!-- Path: index.html -->\n", "x"]});
        assert_eq!(of_fim(body.as_object().unwrap(), &[]), ["index.html"]);
    }

    #[test]
    fn words_that_are_not_paths_are_ignored() {
        for word in [
            "python",
            "https://a.b/c.py",
            "...",
            "a b",
            "v1.",
            "",
            "(1-20)",
        ] {
            assert_eq!(as_path(word), None, "{word:?}");
        }
        for word in ["app.py", "src/app", ".env", "a\\b.rs", "`x.ts`"] {
            assert!(as_path(word).is_some(), "{word:?}");
        }
    }

    #[test]
    fn the_header_lists_files_and_repeats_count_once() {
        let extra = of_header(" a.py, ,b/c.rs,a.py ");
        assert_eq!(of_chat(&[], &extra), ["a.py", "b/c.rs"]);
    }
}
