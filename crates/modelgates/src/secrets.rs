//! The built-in secret detector for recorded prompts: well-known credential formats (cloud
//! provider keys, GitHub/Slack/Stripe/OpenAI/Anthropic tokens, private key blocks) and
//! high-entropy values assigned to secret-looking names. Findings are redacted before anything
//! is stored.

use std::ops::Range;

use regex::Regex;
use std::sync::LazyLock;

/// One detected secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The kind of secret (`aws_access_key_id`, `github_token`, …).
    pub kind: &'static str,
    /// Where it is in the scanned text (byte offsets).
    pub span: Range<usize>,
}

struct Rule {
    kind: &'static str,
    re: Regex,
    /// The capture group holding the secret (0 = the whole match).
    group: usize,
}

/// The compiled rules, or the first pattern that failed to compile. A failure is kept, never a
/// panic: a panic here would poison the lock and fail every later call. [`self_check`] runs at
/// open, so a binary built without a regex feature the patterns need refuses to start.
static RULES: LazyLock<Result<Vec<Rule>, String>> = LazyLock::new(|| {
    let rule = |kind, pattern: &str, group| -> Result<Rule, String> {
        let re = Regex::new(pattern)
            .map_err(|e| format!("secret pattern {kind:?} does not compile in this build: {e}"))?;
        Ok(Rule { kind, re, group })
    };
    [
        rule(
            "private_key",
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----",
            0,
        ),
        rule(
            "aws_access_key_id",
            r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
            0,
        ),
        rule(
            "aws_secret_access_key",
            r#"(?i)aws.{0,20}?(?:secret|private).{0,20}?['"=:\s]+([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
            1,
        ),
        rule(
            "github_token",
            r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b",
            0,
        ),
        rule("github_token", r"\bgithub_pat_[A-Za-z0-9_]{82}\b", 0),
        rule("slack_token", r"\bxox[baprs]-[A-Za-z0-9-]{10,72}\b", 0),
        rule(
            "slack_webhook",
            r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
            0,
        ),
        rule("stripe_key", r"\b(?:sk|rk)_live_[A-Za-z0-9]{24,99}\b", 0),
        rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0),
        rule(
            "anthropic_api_key",
            r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,120}",
            0,
        ),
        rule(
            "openai_api_key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}",
            0,
        ),
        rule("modelgates_api_key", r"\bmg-v1-[0-9a-f]{64}\b", 0),
        rule(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
            0,
        ),
        // A value assigned to a secret-looking name: flagged only when it looks random.
        rule(
            "generic_secret",
            r#"(?i)\b[a-z0-9_.-]*(?:secret|passwd|password|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)s?\b["']?\s*[:=]\s*["']?([A-Za-z0-9/+=_.~-]{16,200})["']?"#,
            1,
        ),
    ]
    .into_iter()
    .collect()
});

/// Shannon entropy of `s` in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a generic assigned value looks like a random secret rather than a word, a path, a
/// placeholder or a variable reference.
fn looks_random(v: &str) -> bool {
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    let lower = v.to_ascii_lowercase();
    let placeholder = [
        "example",
        "changeme",
        "your",
        "xxxx",
        "redacted",
        "placeholder",
        "dummy",
    ]
    .iter()
    .any(|w| lower.contains(w));
    entropy(v) >= 3.5 && classes >= 2 && !placeholder && !v.contains("..")
}

/// Compiles every built-in pattern once and reports the first that does not compile (a build
/// missing a regex feature). Called when a store is opened, so such a build fails at start-up,
/// not on a user's first recorded conversation.
pub fn self_check() -> Result<(), crate::Error> {
    rules().map(|_| ())
}

fn rules() -> Result<&'static [Rule], crate::Error> {
    RULES
        .as_deref()
        .map_err(|e| crate::Error::internal(e.clone()))
}

/// Every secret in `text`, in order, non-overlapping (an earlier, longer finding wins). Fails
/// only when the built-in patterns do not compile in this build (see `self_check`).
pub fn detect(text: &str) -> Result<Vec<Finding>, crate::Error> {
    let mut found: Vec<Finding> = Vec::new();
    for rule in rules()? {
        for caps in rule.re.captures_iter(text) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            if rule.kind == "generic_secret" && !looks_random(m.as_str()) {
                continue;
            }
            found.push(Finding {
                kind: rule.kind,
                span: m.range(),
            });
        }
    }
    found.sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.span.end)));
    let mut out: Vec<Finding> = Vec::new();
    for f in found {
        if out.last().is_none_or(|last| f.span.start >= last.span.end) {
            out.push(f);
        }
    }
    Ok(out)
}

/// `text` with every finding replaced by `[REDACTED:<kind>]`, and the findings.
pub fn redact(text: &str) -> Result<(String, Vec<Finding>), crate::Error> {
    let findings = detect(text)?;
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in &findings {
        out.push_str(&text[at..f.span.start]);
        out.push_str("[REDACTED:");
        out.push_str(f.kind);
        out.push(']');
        at = f.span.end;
    }
    out.push_str(&text[at..]);
    Ok((out, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test fixtures are assembled at run time so the source holds no literal credential.
    fn fake(prefix: &str, body_len: usize) -> String {
        let alphabet = b"A7bC9dE2fG4hJ6kL8mN3pQ5rS1tU0vWxYz";
        let body: String = (0..body_len)
            .map(|i| alphabet[(i * 7 + 3) % alphabet.len()] as char)
            .collect();
        format!("{prefix}{body}")
    }

    #[test]
    fn true_positives_per_format() {
        let aws_id = format!("AKIA{}", "Q3ZL7NDX2MP4TR8V");
        let cases: Vec<(String, &str)> = vec![
            (format!("key id {aws_id} here"), "aws_access_key_id"),
            (
                format!(
                    "aws_secret_access_key = \"{}\"",
                    fake("", 40).replace('_', "/")
                ),
                "aws_secret_access_key",
            ),
            (format!("token {}", fake("ghp_", 36)), "github_token"),
            (fake("github_pat_", 82), "github_token"),
            (
                format!("slack {}", fake("xoxb-1234567890-", 24)),
                "slack_token",
            ),
            (
                format!(
                    "post to https://hooks.slack.com/services/T{}/B{}/{}",
                    fake("", 8),
                    fake("", 8),
                    fake("", 24)
                ),
                "slack_webhook",
            ),
            (fake("sk_live_", 24), "stripe_key"),
            (fake("AIza", 35), "google_api_key"),
            (fake("sk-ant-api03-", 95), "anthropic_api_key"),
            (
                format!("{}T3BlbkFJ{}", fake("sk-proj-", 24), fake("", 24)),
                "openai_api_key",
            ),
            (
                format!("mg-v1-{}", "0123456789abcdef".repeat(4)),
                "modelgates_api_key",
            ),
            (
                format!("{}.{}.{}", fake("eyJ", 20), fake("eyJ", 30), fake("", 30)),
                "jwt",
            ),
            (
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
                    fake("", 64)
                ),
                "private_key",
            ),
            (
                format!("DB_PASSWORD={}", "h7Gk2pQ9xZ4mW8vR"),
                "generic_secret",
            ),
            (
                format!("\"api_key\": \"{}\"", "Zq8Xw3Lm9Pt2Vn6Rk4Yb"),
                "generic_secret",
            ),
        ];
        for (text, kind) in cases {
            let found = detect(&text).unwrap();
            assert!(
                found.iter().any(|f| f.kind == kind),
                "{kind} not found in {text:?}: {found:?}"
            );
            let (redacted, _) = redact(&text).unwrap();
            assert!(redacted.contains("[REDACTED:"), "{redacted}");
        }
    }

    #[test]
    fn look_alikes_are_not_secrets() {
        let cases = [
            "the AKIA prefix marks AWS key ids",
            "AKIA1234",                                  // too short
            "password = changeme_changeme_123",          // placeholder
            "token: your-token-goes-here-please",        // placeholder
            "api_key = os.environ['OPENAI_API_KEY']",    // a reference, not a value
            "secret_path = /var/lib/app/secrets/config", // a path, low entropy classes
            "password: aaaaaaaaaaaaaaaaaaaa",            // no entropy
            "sk-this-is-not-an-openai-key-at-all",       // no marker
            "ghp_short",                                 // too short
            "xoxb-123",                                  // too short
            "mg-v1-notahexsecret",                       // wrong shape
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "eyJhbGciOi is the start of a JWT header", // not three parts
            "the word credential, and tokenization of text", // no assignment
        ];
        for text in cases {
            assert_eq!(detect(text).unwrap(), vec![], "{text:?}");
        }
    }

    #[test]
    fn redaction_removes_every_finding_and_keeps_the_rest() {
        let aws = format!("AKIA{}", "Q3ZL7NDX2MP4TR8V");
        let gh = fake("ghp_", 36);
        let text = format!("use {aws} and {gh} to deploy");
        let (redacted, found) = redact(&text).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            redacted,
            "use [REDACTED:aws_access_key_id] and [REDACTED:github_token] to deploy"
        );
        assert!(!redacted.contains(&aws) && !redacted.contains(&gh));
    }
}
