//! Field validation shared by every operation: names, slugs, descriptions, labels, emails,
//! model references and pagination. Each check names the field and the offending value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest excerpt of a user value quoted in an error message.
const EXCERPT_CHARS: usize = 64;

/// `s`, cut to a readable length for error messages (oversized input is never echoed whole).
pub fn excerpt(s: &str) -> String {
    if s.chars().count() <= EXCERPT_CHARS {
        s.to_owned()
    } else {
        let head: String = s.chars().take(EXCERPT_CHARS).collect();
        format!("{head}… ({} chars)", s.chars().count())
    }
}

/// Items joined with `, `, at most 20 of them, then `… and N more`.
pub fn list_excerpt(items: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" … and {} more", items.len() - SHOWN));
    }
    out
}

/// A display name: 1..=`max` characters, not blank, no control characters.
pub fn name(field: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty or blank"));
    }
    if len > max {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} is {len} characters; at most {max} are allowed",
                excerpt(value)
            ),
        ));
    }
    if let Some(c) = value.chars().find(|&c| c.is_control() || is_invisible(c)) {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} contains U+{:04X}, a control, invisible or text-direction character; \
                 names allow visible characters and spaces only",
                excerpt(value),
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Characters that render as nothing or reorder the text around them: zero-width spaces and
/// joiners, word joiners, the byte-order mark, soft hyphens, Hangul fillers, tag characters and
/// the bidirectional embedding, override, isolate and mark characters. A name holding one can
/// look identical to another name, or display differently from what is stored.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// The bidirectional embedding, override and isolate controls ("Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Maximum length of a slug.
pub const SLUG_MAX: usize = 50;

/// A slug: `^[a-z0-9]+(-[a-z0-9]+)*$`, 1..=50 characters.
pub fn slug(field: &str, value: &str) -> Result<()> {
    let len = value.chars().count();
    if len == 0 || len > SLUG_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} is {len} characters; a slug has 1 to {SLUG_MAX}",
                excerpt(value)
            ),
        ));
    }
    let well_formed = value.split('-').all(|seg| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !well_formed {
        return Err(Error::invalid(
            field,
            format!(
                "{:?} is not a slug: use lowercase letters and digits in segments separated by \
                 single hyphens, with no leading or trailing hyphen (e.g. \"prod-eu\")",
                excerpt(value)
            ),
        ));
    }
    if crate::ids::WorkspaceId::parse(value).is_some() {
        return Err(Error::invalid(
            field,
            format!(
                "{value:?} is shaped like a workspace id (a UUID): lookups by id come first, so \
                 it could never be found by slug; choose another slug"
            ),
        ));
    }
    Ok(())
}

/// Free text of at most `max` characters: any character, newlines and tabs included, but NUL
/// and the bidirectional override/isolate controls (which make displayed text differ from the
/// stored text).
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(Error::invalid(
            field,
            format!("is {len} characters; at most {max} are allowed"),
        ));
    }
    if let Some(c) = value.chars().find(|&c| c == '\0' || is_bidi_control(c)) {
        return Err(Error::invalid(
            field,
            format!(
                "contains U+{:04X}; free text allows any character but NUL and the \
                 bidirectional override and isolate controls",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// A model reference `provider/model` (e.g. `openai/gpt-4o`).
pub fn model_ref(field: &str, value: &str) -> Result<()> {
    let ok = value.len() <= 200
        && value
            .split_once('/')
            .is_some_and(|(p, m)| !p.is_empty() && !m.is_empty())
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{:?} is not a model reference of the form \"provider/model\" (e.g. \"openai/gpt-4o\")",
                excerpt(value)
            ),
        ))
    }
}

/// An email address: `local@domain.tld`, at most 254 characters, no spaces.
pub fn email(field: &str, value: &str) -> Result<()> {
    let ok = value.len() <= 254
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|p| !p.is_empty())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{:?} is not an email address", excerpt(value)),
        ))
    }
}

/// Maximum number of labels on a resource.
pub const LABELS_MAX: usize = 64;

/// Labels: at most 64; keys 1..=63 chars of `[a-z0-9]` with inner `-_./`; values ≤ 256 chars.
pub fn labels(field: &str, labels: &BTreeMap<String, String>) -> Result<()> {
    if labels.len() > LABELS_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "{} labels given; at most {LABELS_MAX} are allowed",
                labels.len()
            ),
        ));
    }
    for (k, v) in labels {
        let bytes = k.as_bytes();
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let key_ok = (1..=63).contains(&bytes.len())
            && edge_ok(bytes[0])
            && edge_ok(bytes[bytes.len() - 1])
            && bytes
                .iter()
                .all(|&b| edge_ok(b) || matches!(b, b'-' | b'_' | b'.' | b'/'));
        if !key_ok {
            return Err(Error::invalid(
                format!("{field}.{}", excerpt(k)),
                format!(
                    "label key {:?} must be 1-63 lowercase letters, digits, '-', '_', '.' or '/', \
                     starting and ending with a letter or digit",
                    excerpt(k)
                ),
            ));
        }
        if v.chars().count() > 256 || v.chars().any(char::is_control) {
            return Err(Error::invalid(
                format!("{field}.{k}"),
                format!(
                    "label value {:?} must be at most 256 characters without control characters",
                    excerpt(v)
                ),
            ));
        }
    }
    Ok(())
}

/// Default page size of list operations.
pub const PAGE_DEFAULT_LIMIT: u32 = 50;
/// Largest page size of list operations.
pub const PAGE_MAX_LIMIT: u32 = 100;

/// A validated page request: `offset` ≥ 0, `limit` in 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Records to skip.
    pub offset: u64,
    /// Records to return at most.
    pub limit: u32,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: PAGE_DEFAULT_LIMIT,
        }
    }
}

impl Page {
    /// Validates a page request; absent values take the defaults (offset 0, limit 50). A limit
    /// outside 1..=100 is an error, never silently clamped.
    pub fn new(offset: Option<i64>, limit: Option<i64>) -> Result<Self> {
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(Error::invalid(
                "offset",
                format!("{offset} is negative; offset must be ≥ 0"),
            ));
        }
        let limit = limit.unwrap_or(i64::from(PAGE_DEFAULT_LIMIT));
        if !(1..=i64::from(PAGE_MAX_LIMIT)).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("{limit} is outside 1..={PAGE_MAX_LIMIT}"),
            ));
        }
        Ok(Self {
            offset: offset as u64,
            limit: limit as u32,
        })
    }

    /// The page's slice of `items`, plus the total count.
    pub fn apply<T>(&self, items: Vec<T>) -> Paged<T> {
        let total_count = items.len() as u64;
        let data = items
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(self.limit as usize)
            .collect();
        Paged { data, total_count }
    }
}

/// One page of a list: `{data, total_count}`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(rename = "{T}Page"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paged<T> {
    /// The records of this page.
    pub data: Vec<T>,
    /// How many records the whole list has.
    pub total_count: u64,
}

/// How many ids a bulk operation takes.
pub const BULK_MAX: usize = 100;

/// Checks a bulk id list's length (1..=100).
pub fn bulk_len(field: &str, len: usize) -> Result<()> {
    if len == 0 || len > BULK_MAX {
        return Err(Error::invalid(
            field,
            format!("{len} ids given; between 1 and {BULK_MAX} are required"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_emails_refuse_invisible_and_control_characters() {
        for bad in [
            "a\u{202E}gpj.exe",
            "ad\u{200B}min",
            "nul\0",
            "esc\u{1b}[31m",
            "cr\r\nlf",
            "\u{FEFF}bom",
        ] {
            let e = name("name", bad, 100).unwrap_err();
            assert_eq!(e.field(), Some("name"), "{bad:?}");
            assert!(e.to_string().contains("U+"), "{e}");
            assert!(email("email", &format!("{bad}@x.io")).is_err(), "{bad:?}");
        }
        name("name", "Zoë O'Brien – 数据 🚀", 100).unwrap();
        text("d", "line one\n\tline two – ok", 100).unwrap();
        assert!(text("d", "x\u{202E}y", 100).is_err());
        assert!(text("d", "x\0y", 100).is_err());
    }

    #[test]
    fn slug_contract() {
        assert!(
            slug("slug", "0192f0a3-7b1c-7d2e-8f90-123456789abc")
                .unwrap_err()
                .to_string()
                .contains("UUID")
        );
        for ok in ["a", "prod", "prod-eu-1", "0", &"a".repeat(50)] {
            slug("slug", ok).unwrap();
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "Prod",
            "a_b",
            "a b",
            "é",
            &"a".repeat(51),
        ] {
            let err = slug("slug", bad).unwrap_err();
            assert_eq!(err.field(), Some("slug"), "{bad}");
        }
    }

    #[test]
    fn name_contract() {
        name("name", "x", 100).unwrap();
        name("name", &"é".repeat(100), 100).unwrap();
        assert!(name("name", &"a".repeat(101), 100).is_err());
        assert!(name("name", "", 100).is_err());
        assert!(name("name", "   ", 100).is_err());
        assert!(name("name", "a\nb", 100).is_err());
    }

    #[test]
    fn page_contract() {
        assert_eq!(
            Page::new(None, None).unwrap(),
            Page {
                offset: 0,
                limit: 50
            }
        );
        assert_eq!(
            Page::new(Some(5), Some(100)).unwrap(),
            Page {
                offset: 5,
                limit: 100
            }
        );
        assert_eq!(Page::new(None, Some(0)).unwrap_err().field(), Some("limit"));
        assert_eq!(
            Page::new(None, Some(101)).unwrap_err().field(),
            Some("limit")
        );
        assert_eq!(
            Page::new(Some(-1), None).unwrap_err().field(),
            Some("offset")
        );
        let p = Page::new(Some(1), Some(2)).unwrap().apply(vec![1, 2, 3, 4]);
        assert_eq!(
            p,
            Paged {
                data: vec![2, 3],
                total_count: 4
            }
        );
    }

    #[test]
    fn emails_and_model_refs() {
        email("email", "a@b.co").unwrap();
        for bad in ["a", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@b..c"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        model_ref("m", "openai/gpt-4o").unwrap();
        model_ref("m", "meta-llama/llama-3.1-8b-instruct").unwrap();
        for bad in ["gpt-4o", "/x", "x/", "a/b c"] {
            assert!(model_ref("m", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn oversized_values_are_excerpted() {
        let big = "x".repeat(100_000);
        let err = name("name", &big, 100).unwrap_err().to_string();
        assert!(err.len() < 300, "{}", err.len());
    }
}
