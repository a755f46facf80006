//! Text wasql did not write — a guest's error messages and output, the
//! URLs, methods and headers a caller asks the network for — made safe to
//! print. Control characters (C0, DEL and C1) become visible escapes, so
//! such text cannot clear the screen, set the window title, recolour the
//! terminal, move the cursor or hide what follows it.
//!
//! The escaped text has no control characters left, so escaping it again
//! changes nothing. The escapes are for reading, not for parsing back: a
//! backslash the text had is not doubled.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` on one line with every control character escaped: `\n`, `\r`
/// and `\t` as those two characters, other C0 controls and DEL as `\x1b`,
/// C1 controls as `\u{9b}`. Everything else — non-ASCII letters, emoji —
/// is unchanged (and borrowed when nothing needs escaping).
pub fn escape_control(text: &str) -> Cow<'_, str> {
    escape(text, Layout::OneLine, usize::MAX).0
}

/// Like [`escape_control`], but newlines and tabs are kept: for output
/// shown as it was written, line by line (`\udf log`).
pub fn escape_control_lines(text: &str) -> Cow<'_, str> {
    escape(text, Layout::Lines, usize::MAX).0
}

/// [`escape_control`] of `text`, cut to at most `max` bytes of escaped text
/// (never inside a character or an escape), and whether all of `text` fit.
pub fn escape_control_within(text: &str, max: usize) -> (Cow<'_, str>, bool) {
    escape(text, Layout::OneLine, max)
}

/// Which controls stay as they are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// None: the text ends up on one line.
    OneLine,
    /// Newlines and tabs.
    Lines,
}

impl Layout {
    fn keeps(self, c: char) -> bool {
        !c.is_control() || (self == Layout::Lines && matches!(c, '\n' | '\t'))
    }
}

fn escape(text: &str, layout: Layout, max: usize) -> (Cow<'_, str>, bool) {
    if text.chars().all(|c| layout.keeps(c)) {
        return if text.len() <= max {
            (Cow::Borrowed(text), true)
        } else {
            (Cow::Borrowed(&text[..text.floor_char_boundary(max)]), false)
        };
    }
    let mut out = String::with_capacity(text.len().min(max).saturating_add(16));
    for c in text.chars() {
        let before = out.len();
        if layout.keeps(c) {
            out.push(c);
        } else {
            push_escape(&mut out, c);
        }
        if out.len() > max {
            out.truncate(before);
            return (Cow::Owned(out), false);
        }
    }
    (Cow::Owned(out), true)
}

/// Appends the visible form of the control character `c`.
fn push_escape(out: &mut String, c: char) {
    // Writing to a String cannot fail.
    let _ = match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every C0 control, DEL and every C1 control, with its escape.
    fn controls() -> Vec<(char, String)> {
        (0u32..0x20)
            .chain([0x7f])
            .chain(0x80..0xa0)
            .map(|n| {
                let c = char::from_u32(n).expect("a char");
                let escaped = match c {
                    '\n' => "\\n".to_string(),
                    '\r' => "\\r".to_string(),
                    '\t' => "\\t".to_string(),
                    _ if n < 0x80 => format!("\\x{n:02x}"),
                    _ => format!("\\u{{{n:x}}}"),
                };
                (c, escaped)
            })
            .collect()
    }

    #[test]
    fn every_control_character_is_escaped() {
        let controls = controls();
        assert_eq!(controls.len(), 32 + 1 + 32);
        for (c, escaped) in &controls {
            let text = format!("a{c}b");
            assert_eq!(
                escape_control(&text),
                format!("a{escaped}b"),
                "{:#x}",
                *c as u32
            );
            let kept = matches!(c, '\n' | '\t');
            let lines = escape_control_lines(&text);
            if kept {
                assert_eq!(lines, text);
            } else {
                assert_eq!(lines, format!("a{escaped}b"));
            }
        }
        assert_eq!(
            escape_control("\u{1b}[2J\0\u{9b}\u{7f}"),
            "\\x1b[2J\\x00\\u{9b}\\x7f"
        );
        assert_eq!(escape_control_lines("a\r\nb\tc"), "a\\r\nb\tc");
    }

    #[test]
    fn only_control_characters_change() {
        // Every Unicode scalar value: unchanged unless it is a control.
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let text = c.to_string();
            let escaped = escape_control(&text);
            assert_eq!(
                matches!(escaped, Cow::Borrowed(_)),
                !c.is_control(),
                "{:#x}",
                c as u32
            );
            assert!(!escaped.chars().any(char::is_control));
        }
        let ordinary = "Grüße, Zoë — 日本語, emoji 🦀👩‍💻, back\\slash";
        assert!(matches!(escape_control(ordinary), Cow::Borrowed(s) if s == ordinary));
        assert!(matches!(escape_control_lines("a\nb\tc"), Cow::Borrowed(_)));
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        let once = escape_control("x\u{1b}]0;title\u{7}\n\u{85}");
        assert_eq!(escape_control(&once), once);
    }

    #[test]
    fn cut_at_a_character_or_escape_boundary() {
        assert_eq!(escape_control_within("short", 10), ("short".into(), true));
        // "é" is two bytes: a cut at 3 keeps one.
        assert_eq!(escape_control_within("éé", 3), ("é".into(), false));
        // The escape of ESC is four bytes and is never split.
        assert_eq!(escape_control_within("ab\u{1b}c", 5), ("ab".into(), false));
        assert_eq!(
            escape_control_within("ab\u{1b}c", 6),
            ("ab\\x1b".into(), false)
        );
        assert_eq!(
            escape_control_within("ab\u{1b}c", 7),
            ("ab\\x1bc".into(), true)
        );
        assert_eq!(escape_control_within("", 0), ("".into(), true));
        let long = "\u{1b}é".repeat(10_000);
        let (cut, whole) = escape_control_within(&long, 4096);
        assert!(
            !whole && cut.len() <= 4096 && cut.len() > 4090,
            "{}",
            cut.len()
        );
        assert!(!cut.chars().any(char::is_control));
    }
}
