//! Text a guest controls, made safe for a log line: [`guest`].
//!
//! A frontend writes its `unique-id`, its `error` node and every other
//! XenStore value it owns; printed verbatim, a value with a newline forges
//! log lines, an escape sequence rewrites the operator's terminal, and a
//! 4 KiB value floods the log. Every guest-controlled string the backend
//! logs (or publishes in its own `error` node) goes through [`guest`]:
//! - control characters (C0, DEL, C1), Unicode's bidirectional overrides
//!   and isolates, the byte-order mark, and `\` are written as `\n`, `\t`,
//!   `\r`, `\\` or `\u{..}`, so one value is one line and reads back
//!   unambiguously;
//! - bytes that are not UTF-8 (from [`guest_bytes`]) are written `\x..`;
//! - at most [`MAX_LOGGED_CHARS`] characters are written, then
//!   `...(+N bytes)` says how much was cut.
#![forbid(unsafe_code)]

use core::fmt;

/// Most characters of one guest string written to a log line.
pub const MAX_LOGGED_CHARS: usize = 64;

/// A guest-controlled string, escaped and cut when displayed.
#[derive(Clone, Copy)]
pub struct GuestText<'a> {
    bytes: &'a [u8],
    limit: usize,
}

/// `text` as it may appear in a log line (see the module docs).
pub fn guest(text: &str) -> GuestText<'_> {
    guest_bytes(text.as_bytes())
}

/// Bytes from a guest (maybe not UTF-8) as they may appear in a log line.
pub fn guest_bytes(bytes: &[u8]) -> GuestText<'_> {
    GuestText {
        bytes,
        limit: MAX_LOGGED_CHARS,
    }
}

impl GuestText<'_> {
    /// The same text cut at `limit` characters instead.
    pub fn limit(self, limit: usize) -> Self {
        Self { limit, ..self }
    }
}

/// Whether `character` must be escaped: it could end or rewrite a line,
/// or reorder what a reader sees.
fn needs_escape(character: char) -> bool {
    character.is_control()
        || character == '\\'
        || matches!(
            character,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
        || ('\u{2028}'..='\u{2029}').contains(&character)
}

fn write_char(formatter: &mut fmt::Formatter<'_>, character: char) -> fmt::Result {
    match character {
        '\n' => formatter.write_str("\\n"),
        '\r' => formatter.write_str("\\r"),
        '\t' => formatter.write_str("\\t"),
        '\\' => formatter.write_str("\\\\"),
        escaped if needs_escape(escaped) => write!(formatter, "\\u{{{:x}}}", escaped as u32),
        plain => fmt::Write::write_char(formatter, plain),
    }
}

impl fmt::Display for GuestText<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.bytes;
        let mut written = 0usize;
        while !rest.is_empty() {
            if written >= self.limit {
                return write!(formatter, "...(+{} bytes)", rest.len());
            }
            // The valid UTF-8 prefix, then one invalid byte.
            let (valid, invalid) = match core::str::from_utf8(rest) {
                Ok(text) => (text, false),
                Err(error) => {
                    let (head, _) = rest.split_at(error.valid_up_to());
                    (core::str::from_utf8(head).unwrap_or(""), true)
                }
            };
            for (at, character) in valid.char_indices() {
                if written >= self.limit {
                    return write!(formatter, "...(+{} bytes)", rest.len() - at);
                }
                write_char(formatter, character)?;
                written += 1;
            }
            rest = &rest[valid.len()..];
            if invalid {
                if written >= self.limit {
                    continue;
                }
                write!(formatter, "\\x{:02x}", rest[0])?;
                written += 1;
                rest = &rest[1..];
            }
        }
        Ok(())
    }
}

impl fmt::Debug for GuestText<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(format!("{}", guest("spk-0.front")), "spk-0.front");
        assert_eq!(format!("{}", guest("")), "");
        assert_eq!(format!("{}", guest("héllo ünïcode")), "héllo ünïcode");
    }

    #[test]
    fn every_line_breaking_or_reordering_character_is_escaped() {
        for code in (0u32..0x110000).filter_map(char::from_u32) {
            let text = format!("a{code}b");
            let shown = format!("{}", guest(&text));
            assert!(!shown.contains(['\n', '\r', '\u{1b}', '\u{85}', '\u{2028}', '\u{202e}']));
            assert!(shown
                .chars()
                .all(|shown| shown == '\\' || !needs_escape(shown)));
            if needs_escape(code) {
                assert!(shown.starts_with("a\\") && shown.ends_with('b'), "{shown}");
            } else {
                assert_eq!(shown, text);
            }
        }
        assert_eq!(
            format!("{}", guest("x\nERROR forged\r\t\\")),
            "x\\nERROR forged\\r\\t\\\\"
        );
        assert_eq!(format!("{}", guest("\u{1b}[2J")), "\\u{1b}[2J");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_as_hex() {
        assert_eq!(format!("{}", guest_bytes(b"a\xffb\xc3")), "a\\xffb\\xc3");
        assert_eq!(format!("{}", guest_bytes("é".as_bytes())), "é");
    }

    #[test]
    fn long_text_is_cut_with_the_count_of_bytes_left_out() {
        for length in [0usize, 1, 63, 64, 65, 200, 4096] {
            let text: String = "x".repeat(length);
            let shown = format!("{}", guest(&text));
            if length <= MAX_LOGGED_CHARS {
                assert_eq!(shown, text);
            } else {
                assert_eq!(
                    shown,
                    format!(
                        "{}...(+{} bytes)",
                        "x".repeat(MAX_LOGGED_CHARS),
                        length - MAX_LOGGED_CHARS
                    )
                );
            }
        }
        // Multi-byte characters and invalid bytes count as one each; the
        // rest is counted in bytes.
        let text: Vec<u8> = "é".repeat(70).into_bytes();
        let shown = format!("{}", guest_bytes(&text).limit(3));
        assert_eq!(shown, "ééé...(+134 bytes)");
        let shown = format!("{}", guest_bytes(&[0xff; 10]).limit(2));
        assert_eq!(shown, "\\xff\\xff...(+8 bytes)");
        // The output is bounded whatever the input.
        let worst: String = "\u{1}".repeat(100_000);
        assert!(format!("{}", guest(&worst)).len() < 64 * 8 + 32);
    }
}
