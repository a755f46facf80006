//! `slugify(VARCHAR) -> VARCHAR`: URL slugs.

use wasql_udf::udf;

/// Lowercase; each run of characters other than ASCII letters and digits
/// becomes one '-'; no leading or trailing '-'.
#[udf]
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    // Bytes suffice: every byte of a non-ASCII character is >= 0x80, so it is
    // a separator like the character itself.
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(b.to_ascii_lowercase() as char);
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for (input, slug) in [
            ("Hello, World!", "hello-world"),
            ("  --Rust & WASM 2024--  ", "rust-wasm-2024"),
            ("already-a-slug", "already-a-slug"),
            ("Crème Brûlée", "cr-me-br-l-e"),
            ("日本語", ""),
            ("a日b", "a-b"),
            ("", ""),
            ("!!!", ""),
            ("X", "x"),
            ("snake_case_Name", "snake-case-name"),
            ("tabs\tand\nnewlines", "tabs-and-newlines"),
        ] {
            assert_eq!(slugify(input), slug, "{input:?}");
        }
    }
}
