//! Server-sent events, incrementally: bytes arrive in any split from the provider, complete
//! events leave one by one, so the gateway forwards each as soon as it is whole and never
//! holds more than one unfinished event.

use bytes::{Bytes, BytesMut};

/// Splits a byte stream into events (each ends with a blank line: `\n\n` or `\r\n\r\n`).
#[derive(Debug, Default)]
pub struct Splitter {
    pending: BytesMut,
}

impl Splitter {
    /// Adds `chunk` and returns the events it completed, each with its closing blank line.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = event_end(&self.pending) {
            out.push(self.pending.split_to(end).freeze());
        }
        out
    }

    /// What is left when the stream ends (an event the provider did not close), if anything.
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.pending.is_empty()).then(|| self.pending.split().freeze())
    }
}

/// Where the first complete event of `buf` ends (after its blank line).
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' {
            if buf[i + 1] == b'\n' {
                return Some(i + 2);
            }
            if buf[i + 1] == b'\r' && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// The data of an event: its `data:` lines joined with `\n` (`None` when it has none: a
/// comment or keep-alive).
pub fn data(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let mut out: Option<String> = None;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut out {
                Some(s) => {
                    s.push('\n');
                    s.push_str(value);
                }
                None => out = Some(value.to_owned()),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = b"data: {\"a\":1}\n\n: keep-alive\n\ndata: x\r\n\r\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut s = Splitter::default();
            let mut events = s.push(&stream[..cut]);
            events.extend(s.push(&stream[cut..]));
            assert_eq!(events.len(), 4, "cut at {cut}");
            assert_eq!(events.concat(), stream.to_vec());
            assert_eq!(s.finish(), None);
        }
    }

    #[test]
    fn data_lines_are_joined_and_comments_have_none() {
        assert_eq!(
            data(b"event: x\ndata: a\ndata:b\n\n").as_deref(),
            Some("a\nb")
        );
        assert_eq!(data(b": ping\n\n"), None);
        assert_eq!(data(b"data: [DONE]\r\n\r\n").as_deref(), Some("[DONE]"));
    }

    #[test]
    fn an_unclosed_event_is_left_for_finish() {
        let mut s = Splitter::default();
        assert!(s.push(b"data: partial").is_empty());
        assert_eq!(s.finish().as_deref(), Some(&b"data: partial"[..]));
    }
}
