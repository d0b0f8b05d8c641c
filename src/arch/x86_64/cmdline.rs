//! The guest command line (`hvm_start_info.cmdline_paddr`, what `extra=` in
//! an xl config or QEMU's `-append` becomes) as `key=value` options.
//!
//! Options are separated by whitespace. Each is `key=value`, `key="a quoted
//! value"` or a bare `key` (value ""). A later option overrides an earlier
//! one with the same key. Pure logic with no `unsafe`, so the host tests
//! include this file directly (`tests/boot_parsers.rs`).
#![forbid(unsafe_code)]

/// A parsed view of a command line (borrows the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLine<'a> {
    text: &'a str,
}

impl<'a> CommandLine<'a> {
    /// Wrap a command line.
    pub fn new(text: &'a str) -> Self {
        CommandLine { text }
    }

    /// The raw text.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Every option in order, as `(key, value)`.
    pub fn options(&self) -> Options<'a> {
        Options { rest: self.text }
    }

    /// The value of the last option named `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.options()
            .filter(|&(name, _)| name == key)
            .last()
            .map(|(_, value)| value)
    }

    /// Whether an option named `key` is present (with or without a value).
    pub fn contains(&self, key: &str) -> bool {
        self.options().any(|(name, _)| name == key)
    }
}

/// Iterator over the `(key, value)` options of a [`CommandLine`].
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Options<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.rest.trim_start();
        if text.is_empty() {
            self.rest = text;
            return None;
        }
        let key_end = text
            .find(|character: char| character == '=' || character.is_whitespace())
            .unwrap_or(text.len());
        let key = &text[..key_end];
        let after_key = &text[key_end..];
        let Some(after_equals) = after_key.strip_prefix('=') else {
            self.rest = after_key;
            return Some((key, ""));
        };
        let (value, rest) = if let Some(quoted) = after_equals.strip_prefix('"') {
            match quoted.find('"') {
                Some(close) => (&quoted[..close], &quoted[close + 1..]),
                None => (quoted, ""),
            }
        } else {
            let end = after_equals
                .find(char::is_whitespace)
                .unwrap_or(after_equals.len());
            (&after_equals[..end], &after_equals[end..])
        };
        self.rest = rest;
        Some((key, value))
    }
}
