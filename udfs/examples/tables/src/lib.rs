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

/// [`tokenize`] of ASCII text, byte by byte. Words are slices of the text
/// itself, or of one lowercased copy when it has capitals.
fn ascii_tokens(text: &str, out: &mut Emitter<(String, i32)>) {
    let lower;
    let text = if text.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = text.to_ascii_lowercase();
        &lower
    } else {
        text
    };
    let bytes = text.as_bytes();
    let (mut at, mut pos) = (0, 0);
    while at < bytes.len() {
        while at < bytes.len() && !bytes[at].is_ascii_alphanumeric() {
            at += 1;
        }
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
            at += 1;
        }
        if at > start {
            pos += 1;
            out.emit((&text[start..at], pos));
        }
    }
}

/// [`tokenize`] of any text: words split on `char::is_alphanumeric`, each
/// lowercased with `char::to_lowercase` into one buffer reused per word.
fn unicode_tokens(text: &str, out: &mut Emitter<(String, i32)>) {
    let mut lower = String::new();
    let words = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty());
    for (pos, word) in (1..).zip(words) {
        lower.clear();
        lower.extend(word.chars().flat_map(char::to_lowercase));
        out.emit((&lower, pos));
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
            (4, "σασ", 5),
            (5, "already", 1),
            (5, "lower", 2),
        ];
        assert_eq!(got, want.map(|(p, w, n)| (p, w.to_string(), n)).to_vec());
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
