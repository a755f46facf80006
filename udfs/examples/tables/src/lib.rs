//! Table functions: `tokenize(VARCHAR) -> TABLE(token VARCHAR, pos INT)`,
//! per row, and `sessionize(user_id, ts, gap_seconds)`, per partition.

use wasql_udf::{Emitter, Rows, TimestampMicros, udf};

/// The lowercase words of a text (runs of alphanumeric characters) with their ordinal from 1.
#[udf(table, columns = ["token", "pos"])]
pub fn tokenize(text: &str, out: &mut Emitter<(String, i32)>) {
    if text.is_ascii() {
        ascii_tokens(text, out);
    } else {
        unicode_tokens(text, out);
    }
}

/// [`tokenize`] of ASCII text: 64 bytes at a time, a bit per byte saying
/// whether it is a letter or digit; words start and end where the bit
/// changes. Words are slices of the text itself, or of one lowercased copy
/// when it has capitals.
fn ascii_tokens(text: &str, out: &mut Emitter<(String, i32)>) {
    let lower;
    let text = if text.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = text.to_ascii_lowercase();
        &lower
    } else {
        text
    };
    let bytes = text.as_bytes();
    let (mut pos, mut start, mut carry) = (0, 0, 0u64);
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let base = block * 64;
        let mask = word_bits(chunk);
        // A set bit where a word starts or ends (the byte before a block is
        // the previous block's last).
        let mut edges = mask ^ ((mask << 1) | carry);
        while edges != 0 {
            let at = edges.trailing_zeros() as usize;
            if mask >> at & 1 == 1 {
                start = base + at;
            } else {
                pos += 1;
                out.emit((&text[start..base + at], pos));
            }
            edges &= edges - 1;
        }
        carry = mask >> 63;
    }
    // A word running to the end of a text whose length is a multiple of 64.
    if carry == 1 {
        pos += 1;
        out.emit((&text[start..], pos));
    }
}

/// Bit `i` set when `chunk[i]` (at most 64 bytes) is an ASCII letter or
/// digit; bits past the chunk are 0.
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
fn word_bits(chunk: &[u8]) -> u64 {
    use core::arch::wasm32::*;
    let mut padded = [0u8; 64];
    let bytes: &[u8; 64] = match chunk.try_into() {
        Ok(full) => full,
        Err(_) => {
            padded[..chunk.len()].copy_from_slice(chunk);
            &padded
        }
    };
    let mut bits = 0u64;
    for (index, sixteen) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: `sixteen` is 16 readable bytes; v128_load has no alignment
        // requirement.
        let v = unsafe { v128_load(sixteen.as_ptr().cast()) };
        let letter = u8x16_lt(
            u8x16_sub(v128_or(v, u8x16_splat(0x20)), u8x16_splat(b'a')),
            u8x16_splat(26),
        );
        let digit = u8x16_lt(u8x16_sub(v, u8x16_splat(b'0')), u8x16_splat(10));
        bits |= u64::from(u8x16_bitmask(v128_or(letter, digit))) << (16 * index);
    }
    bits
}

/// Bit `i` set when `chunk[i]` (at most 64 bytes) is an ASCII letter or
/// digit; bits past the chunk are 0.
#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
fn word_bits(chunk: &[u8]) -> u64 {
    chunk.iter().enumerate().fold(0, |bits, (i, b)| {
        bits | (u64::from(b.is_ascii_alphanumeric()) << i)
    })
}

/// [`tokenize`] of any text: words split on `char::is_alphanumeric`, each
/// lowercased as SQL's `lower()` does (`str::to_lowercase`: a final Σ is ς).
fn unicode_tokens(text: &str, out: &mut Emitter<(String, i32)>) {
    let words = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty());
    for (pos, word) in (1..).zip(words) {
        out.emit((&word.to_lowercase(), pos));
    }
}

/// A partition's rows (one user's events, ordered by ts) cut into sessions: a new one after a gap of more than gap_seconds.
#[udf(table, partitioned, columns = ["user_id", "session_id", "start", "end", "events"])]
pub fn sessionize(
    user_id: Rows<i64>,
    ts: Rows<TimestampMicros>,
    gap_seconds: Rows<i64>,
    out: &mut Emitter<(Option<i64>, i32, TimestampMicros, TimestampMicros, i32)>,
) {
    let user = user_id.get(0);
    // The session being built: its id, first and last timestamp, rows.
    let mut session: Option<(i32, i64, i64, i32)> = None;
    for (ts, gap) in ts.iter().zip(gap_seconds.iter()) {
        let Some(TimestampMicros(ts)) = ts else {
            continue;
        };
        session = Some(match session {
            None => (1, ts, ts, 1),
            Some((id, start, last, events)) => {
                // A NULL gap compares as SQL's NULL: never greater.
                let new = gap.is_some_and(|gap| {
                    i128::from(ts) - i128::from(last) > i128::from(gap) * 1_000_000
                });
                if new {
                    out.emit((
                        user,
                        id,
                        TimestampMicros(start),
                        TimestampMicros(last),
                        events,
                    ));
                    (id + 1, ts, ts, 1)
                } else {
                    (id, start, ts, events + 1)
                }
            }
        });
    }
    if let Some((id, start, last, events)) = session {
        out.emit((
            user,
            id,
            TimestampMicros(start),
            TimestampMicros(last),
            events,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasql_udf::{ArrayData, ArrayView, Bitmap, StringBuilder};

    fn tokens(texts: &[Option<&str>]) -> Vec<(u32, String, i32)> {
        let mut b = StringBuilder::with_capacity(texts.len(), 0);
        for t in texts {
            b.push_option(*t);
        }
        let input = b.finish();
        let bounds: Vec<u32> = (0..=texts.len() as u32).collect();
        let out = __wasql_udf_body_tokenize(&[input.view()], texts.len(), &bounds).unwrap();
        let (parts, words, pos) = (out[0].view(), out[1].view(), out[2].view());
        (0..parts.len())
            .map(|i| {
                (
                    parts.values::<u32>()[i],
                    words.str_value(i).to_owned(),
                    pos.values::<i32>()[i],
                )
            })
            .collect()
    }

    #[test]
    fn tokenize_splits_lowercases_and_numbers() {
        let got = tokens(&[
            Some("Hello, World! 42x"),
            None,
            Some(""),
            Some("  --  "),
            Some("ÉCOLE d'été; straße ΣΑΣ"),
            Some("already lower"),
        ]);
        let want = [
            (0, "hello", 1),
            (0, "world", 2),
            (0, "42x", 3),
            (4, "école", 1),
            (4, "d", 2),
            (4, "été", 3),
            (4, "straße", 4),
            (4, "σας", 5),
            (5, "already", 1),
            (5, "lower", 2),
        ];
        assert_eq!(got, want.map(|(p, w, n)| (p, w.to_string(), n)).to_vec());
    }

    /// Words across and at the ends of 64-byte blocks, against a plain split.
    #[test]
    fn tokenize_ascii_blocks() {
        for text in [
            "a".repeat(64),
            "b".repeat(128),
            format!("{}xy{}", "-".repeat(63), "z".repeat(70)),
            format!("{} end", "word ".repeat(30)),
            format!("{}Q", " ".repeat(127)),
        ] {
            let want: Vec<String> = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            let got: Vec<String> = tokens(&[Some(&text)]).into_iter().map(|t| t.1).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn tokenize_splits_before_lowercasing() {
        // 'İ' lowercases to "i̇" (i + U+0307, not alphanumeric): one word.
        assert_eq!(tokens(&[Some("İx")]), [(0, "i\u{307}x".to_string(), 1)]);
    }

    #[test]
    fn sessionize_cuts_on_gaps_per_partition() {
        let s = 1_000_000;
        let users = [7i64, 7, 7, 7, 7, 9, 9];
        // 10 s then exactly 30 s: one session; 35 s: a new one.
        let ts = [0, 10 * s, 40 * s, 75 * s, 0, 5 * s, 100 * s];
        let valid = Bitmap::from_iter([true, true, true, true, false, true, true]);
        let ts: Vec<TimestampMicros> = ts.into_iter().map(TimestampMicros).collect();
        let gap = [30i64];
        let views = [
            ArrayView::from_values(&users, None),
            ArrayView::from_values(&ts, Some(valid.as_ref())),
            ArrayView::from_values(&gap, None),
        ];
        let out = __wasql_udf_body_sessionize(&views, 7, &[0, 5, 7]).unwrap();
        let column = |i: usize| -> Vec<i64> {
            let data: &ArrayData = &out[i];
            match data.data_type() {
                wasql_udf::DataType::UInt32 => data
                    .view()
                    .values::<u32>()
                    .iter()
                    .map(|&v| v.into())
                    .collect(),
                wasql_udf::DataType::Int32 => data
                    .view()
                    .values::<i32>()
                    .iter()
                    .map(|&v| v.into())
                    .collect(),
                _ => data.view().values::<i64>().to_vec(),
            }
        };
        assert_eq!(column(0), [0, 0, 1, 1]);
        assert_eq!(column(1), [7, 7, 9, 9]);
        assert_eq!(column(2), [1, 2, 1, 2]);
        assert_eq!(column(3), [0, 75 * s, 5 * s, 100 * s]);
        assert_eq!(column(4), [40 * s, 75 * s, 5 * s, 100 * s]);
        assert_eq!(column(5), [3, 1, 1, 1]);
    }
}
