//! Splits SQL text into statements and backslash meta-commands, keeping the
//! line where each starts.
//!
//! Statements end with `;` outside quotes, quoted identifiers, dollar-quoted
//! strings and comments. A line that starts with `\` between statements is a
//! meta-command and ends with the line. The same splitter serves scripts and
//! the shell (which asks it whether the input typed so far is complete).

/// One piece of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A SQL statement without its terminating `;`, with the 1-based
    /// column (in characters) where it starts on its line.
    Sql {
        /// The statement's text.
        text: String,
        /// The 1-based line it starts on.
        line: usize,
        /// The 1-based column, in characters, it starts at.
        column: usize,
    },
    /// A meta-command line such as `\d t`, without the newline.
    Meta {
        /// The command's text.
        text: String,
        /// The 1-based line it is on.
        line: usize,
    },
}

impl Item {
    /// The 1-based line the item starts on.
    pub fn line(&self) -> usize {
        match self {
            Item::Sql { line, .. } | Item::Meta { line, .. } => *line,
        }
    }
}

/// The result of splitting: complete items, and text after the last complete
/// statement that is not yet terminated (if any).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// The complete statements and meta-commands, in order.
    pub items: Vec<Item>,
    /// An unterminated statement at the end (an [`Item::Sql`]).
    pub rest: Option<Item>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// Inside a quoted string or identifier ended by this character.
    Quoted(char),
    /// Inside an `E'...'` string, where a backslash escapes the next character.
    Escaped,
    LineComment,
    /// Inside this many nested `/* ... */` comments (PostgreSQL nests them).
    BlockComment(u32),
    /// Inside `$tag$ ... $tag$`; the tag is kept in `dollar_tag`.
    Dollar,
}

/// Splits `text` into statements and meta-commands, in one pass: time is
/// linear in the length of `text`.
pub fn split(text: &str) -> Split {
    let mut out = Split::default();
    let mut state = State::Normal;
    let mut dollar_tag = "";
    // Byte offset, line and column of the first significant character of
    // the current statement.
    let mut start: Option<(usize, usize, usize)> = None;
    let mut line = 1;
    // Byte offset where the current line starts.
    let mut line_start = 0;
    let mut at_line_start = true;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let next = text[i + c.len_utf8()..].chars().next();
        if state == State::Normal && start.is_none() && at_line_start && c == '\\' {
            let end = text[i..].find('\n').map_or(text.len(), |p| i + p);
            out.items.push(Item::Meta {
                text: text[i..end].trim_end().to_string(),
                line,
            });
            i = end;
            continue;
        }
        if c == '\n' {
            line += 1;
            line_start = i + 1;
            at_line_start = true;
        } else if !c.is_whitespace() {
            at_line_start = false;
        }
        // How many bytes this step consumes.
        let mut step = c.len_utf8();
        match state {
            State::Normal => match c {
                ';' => {
                    if let Some((from, first_line, column)) = start.take() {
                        out.items.push(Item::Sql {
                            text: text[from..i].trim().to_string(),
                            line: first_line,
                            column,
                        });
                    }
                    i += 1;
                    continue;
                }
                '-' if next == Some('-') => state = State::LineComment,
                '/' if next == Some('*') => {
                    state = State::BlockComment(1);
                    i += 2;
                    continue;
                }
                '\'' if escape_string_prefix(&text[..i]) => state = State::Escaped,
                '\'' | '"' | '`' => state = State::Quoted(c),
                // `$` inside a name (`a$b$`) is part of it, not a quote.
                '$' if !ends_in_name(&text[..i]) => {
                    if let Some(tag) = dollar_tag_at(&text[i..]) {
                        state = State::Dollar;
                        dollar_tag = tag;
                        step = tag.len();
                    }
                }
                _ => {}
            },
            State::Quoted(quote) => {
                if c == quote {
                    if next == Some(quote) {
                        // A doubled quote is an escaped quote.
                        step = 2;
                    } else {
                        state = State::Normal;
                    }
                }
            }
            State::Escaped => match c {
                '\\' => step += next.map_or(0, char::len_utf8),
                '\'' if next == Some('\'') => step = 2,
                '\'' => state = State::Normal,
                _ => {}
            },
            State::LineComment => {
                if c == '\n' {
                    state = State::Normal;
                }
            }
            State::BlockComment(depth) => match (c, next) {
                ('*', Some('/')) => {
                    state = match depth {
                        1 => State::Normal,
                        _ => State::BlockComment(depth - 1),
                    };
                    i += 2;
                    continue;
                }
                ('/', Some('*')) => {
                    state = State::BlockComment(depth + 1);
                    i += 2;
                    continue;
                }
                _ => {}
            },
            State::Dollar => {
                if text[i..].starts_with(dollar_tag) {
                    state = State::Normal;
                    step = dollar_tag.len();
                }
            }
        }
        let significant = match state {
            State::LineComment | State::BlockComment(_) => false,
            _ => !c.is_whitespace(),
        };
        if significant && start.is_none() {
            start = Some((i, line, text[line_start..i].chars().count() + 1));
        }
        // Escaped and skipped characters may include newlines.
        let skipped = &text[i + c.len_utf8()..i + step];
        line += skipped.matches('\n').count();
        if let Some(newline) = skipped.rfind('\n') {
            line_start = i + c.len_utf8() + newline + 1;
        }
        i += step;
    }
    if let Some((from, first_line, column)) = start {
        out.rest = Some(Item::Sql {
            text: text[from..].trim().to_string(),
            line: first_line,
            column,
        });
    }
    out
}

/// True when a quote after `before` opens an `E'...'` string: `before` ends
/// with a lone `E` or `e`, not the end of a longer name.
fn escape_string_prefix(before: &str) -> bool {
    before
        .strip_suffix(['E', 'e'])
        .is_some_and(|rest| !ends_in_name(rest))
}

/// True when `before` ends with a character of a name (letters, digits,
/// `_` and `$`), so what follows continues that name.
fn ends_in_name(before: &str) -> bool {
    before
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// The `$tag$` opening a dollar-quoted string at the start of `text`, if
/// there is one.
fn dollar_tag_at(text: &str) -> Option<&str> {
    let body = &text[1..];
    let end = body
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let starts_with_digit = body.starts_with(|c: char| c.is_ascii_digit());
    (body[end..].starts_with('$') && !starts_with_digit).then(|| &text[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    fn sql(text: &str, line: usize, column: usize) -> Item {
        Item::Sql {
            text: text.into(),
            line,
            column,
        }
    }

    #[test]
    fn statements_with_lines() {
        let split = split("select 1;\n\nselect\n  2;\nselect 3");
        assert_eq!(
            split.items,
            vec![sql("select 1", 1, 1), sql("select\n  2", 3, 1)]
        );
        assert_eq!(split.rest, Some(sql("select 3", 5, 1)));
    }

    #[test]
    fn semicolons_inside_quotes_and_comments() {
        let text = "select ';', \"a;b\" -- c;\n from t /* ; */;\nselect $$x;y$$, $q$;$q$;";
        let split = split(text);
        assert_eq!(split.items.len(), 2, "{:?}", split.items);
        assert_eq!(split.items[1], sql("select $$x;y$$, $q$;$q$", 3, 1));
        assert_eq!(split.rest, None);
    }

    #[test]
    fn doubled_quotes_are_escapes() {
        let split = split("select 'it''s; fine';");
        assert_eq!(split.items, vec![sql("select 'it''s; fine'", 1, 1)]);
    }

    #[test]
    fn comments_before_a_statement_do_not_move_its_line() {
        let split = split("-- header\n/* block\n comment */\nselect 1;");
        assert_eq!(split.items.len(), 1);
        assert_eq!(split.items[0].line(), 4);
    }

    #[test]
    fn meta_commands_between_statements() {
        let split = split("\\timing on\nselect 1;\n  \\d t\nselect\n\\x;");
        assert_eq!(
            split.items,
            vec![
                Item::Meta {
                    text: "\\timing on".into(),
                    line: 1
                },
                sql("select 1", 2, 1),
                Item::Meta {
                    text: "\\d t".into(),
                    line: 3
                },
                // A backslash inside a statement is not a meta-command.
                sql("select\n\\x", 4, 1),
            ]
        );
    }

    #[test]
    fn unterminated_string_is_incomplete() {
        let split = split("select 'abc;\n");
        assert!(split.items.is_empty());
        assert!(split.rest.is_some());
    }

    #[test]
    fn block_comments_nest() {
        let split = split("/* a /* b; */ c; */ select 1; /* /* */ select 2;");
        assert_eq!(split.items, vec![sql("select 1", 1, 21)]);
        // The second comment is still open: nothing after it is a statement.
        assert!(split.rest.is_none());
    }

    #[test]
    fn dollar_inside_a_name_opens_no_quote() {
        let split = split("select a$b$ from t; select $q$;$q$; select x$1;");
        assert_eq!(
            split.items,
            vec![
                sql("select a$b$ from t", 1, 1),
                sql("select $q$;$q$", 1, 21),
                sql("select x$1", 1, 37),
            ]
        );
    }

    #[test]
    fn backslash_escapes_in_e_strings() {
        let split = split("select E'it\\'s; fine', e'\\\\';\nselect 'a\\';\nselect 1;");
        assert_eq!(
            split.items,
            vec![
                sql("select E'it\\'s; fine', e'\\\\'", 1, 1),
                // Outside E'...' a backslash is an ordinary character.
                sql("select 'a\\'", 2, 1),
                sql("select 1", 3, 1),
            ]
        );
        assert_eq!(split.rest, None);
        // A name ending in e is no E prefix.
        let named = super::split("select name'x\\';");
        assert_eq!(named.items, vec![sql("select name'x\\'", 1, 1)]);
    }

    #[test]
    fn unterminated_e_string_is_incomplete() {
        let split = split("select E'it\\'s;\n");
        assert!(split.items.is_empty());
        assert_eq!(split.rest, Some(sql("select E'it\\'s;", 1, 1)));
    }

    #[test]
    fn lines_count_inside_skipped_text() {
        let split = split("select E'a\\\nb', 'c''\n';\nselect /* x\n */ 1;");
        assert_eq!(split.items[1], sql("select /* x\n */ 1", 4, 1));
    }

    #[test]
    fn columns_count_characters_after_skipped_lines() {
        let split = split("select 'a\nb'; select 2;\n  /* x\n */ select 3");
        assert_eq!(split.items[1], sql("select 2", 2, 5));
        assert_eq!(split.rest, Some(sql("select 3", 4, 5)));
    }

    #[test]
    fn multi_byte_text() {
        let split = split("select '×' AS \"é\", $ü$ ; $ü$;\u{3000}select 2×3;");
        assert_eq!(
            split.items,
            vec![
                sql("select '×' AS \"é\", $ü$ ; $ü$", 1, 1),
                sql("select 2×3", 1, 31)
            ]
        );
    }

    #[test]
    fn many_dollars_inside_dollar_quotes_are_linear() {
        let text = format!("select $${}$$;", "$ x".repeat(100_000));
        let started = std::time::Instant::now();
        let split = split(&text);
        assert_eq!(split.items.len(), 1);
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
    }

    #[test]
    fn comments_only_is_nothing() {
        assert_eq!(split("-- nothing here\n  "), Split::default());
    }

    // The split keeps each statement's text from its first significant
    // character to before its `;`, trimmed, and each meta-command's line
    // without trailing whitespace; it drops what lies between: whitespace,
    // `;`, and comments outside statements. So the input cannot be
    // re-joined from the items alone, but it can be read back: every item
    // is the input's text at the line it says, in order, with only such
    // droppable text between.

    /// Where the text the splitter drops between items ends, from `at`:
    /// whitespace, `;`, `--` comments with their newline, `/* */` comments,
    /// nested ones too (to the end when unterminated).
    fn skip_dropped(text: &str, mut at: usize) -> usize {
        loop {
            let rest = &text[at..];
            at += if rest.starts_with("--") {
                rest.find('\n').map_or(rest.len(), |n| n + 1)
            } else if rest.starts_with("/*") {
                block_comment_length(rest)
            } else {
                match rest.chars().next() {
                    Some(c) if c.is_whitespace() || c == ';' => c.len_utf8(),
                    _ => return at,
                }
            };
        }
    }

    /// The length of the (nested) block comment `text` starts with, written
    /// apart from the splitter's state machine: all of `text` when it is
    /// not closed.
    fn block_comment_length(text: &str) -> usize {
        let (mut depth, mut at) = (0usize, 0);
        while at < text.len() {
            if text[at..].starts_with("/*") {
                depth += 1;
                at += 2;
            } else if text[at..].starts_with("*/") {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return at;
                }
            } else {
                at += text[at..].chars().next().map_or(1, char::len_utf8);
            }
        }
        text.len()
    }

    /// The 1-based column (in characters) of the end of `text`.
    fn column_at_end(text: &str) -> usize {
        1 + text[text.rfind('\n').map_or(0, |n| n + 1)..]
            .chars()
            .count()
    }

    /// `text` is its split's items (and unterminated rest), each at the
    /// line (and, for SQL, column) it says, with only droppable text around
    /// them.
    fn check_reads_back(text: &str, split: &Split) -> Result<(), TestCaseError> {
        let mut at = 0;
        for item in split.items.iter().chain(&split.rest) {
            let (piece, line, column) = match item {
                Item::Sql { text, line, column } => (text.as_str(), *line, Some(*column)),
                Item::Meta { text, line } => (text.as_str(), *line, None),
            };
            at = skip_dropped(text, at);
            prop_assert!(
                !piece.is_empty() && text[at..].starts_with(piece),
                "{:?} is not next at byte {}: {:?}",
                piece,
                at,
                &text[at..]
            );
            prop_assert_eq!(
                line,
                1 + text[..at].matches('\n').count(),
                "line of {:?}",
                piece
            );
            if let Some(column) = column {
                prop_assert_eq!(column, column_at_end(&text[..at]), "column of {:?}", piece);
            }
            at += piece.len();
        }
        at = skip_dropped(text, at);
        prop_assert!(at == text.len(), "{:?} left over", &text[at..]);
        Ok(())
    }

    /// Fragments the splitter treats specially, balanced or not.
    const FRAGMENTS: [&str; 34] = [
        "'", "\"", "`", "''", "E'", "\\", "\\'", "--", "/*", "*/", "$", "$$", "$a$", "$é$", "$1",
        ";", ";", "\n", "\n", " ", "\t", "\r\n", "\u{3000}", "\\d t", "select", "x", "1", "-", "/",
        "*", "é", "😀", "a$b", "\n\\x ",
    ];

    /// SQL tokens whose quotes, comments and dollar quotes are closed (a
    /// line comment with its newline), none of them a comment first:
    /// among them a backslash-escaped quote in an `E'..'` string, and `$`
    /// inside names (`a$b$` is a name, as in PostgreSQL).
    const TOKENS: [&str; 29] = [
        "select",
        "x",
        "1",
        "é",
        "名前",
        "😀",
        "+",
        "-",
        "*",
        "/",
        "$",
        "$1",
        "a$b",
        "'a;b'",
        "'it''s'",
        "''",
        "'two\nlines;'",
        "\"q;\"\"id\"",
        "`b;t`",
        "$$a;'b$$",
        "$tag$ x; $$ y $tag$",
        "$é$;\n$é$",
        "E'a\\nb'",
        "E'\\\\'",
        "e'x\\\\'''",
        "\"\\\"",
        r"E'it\'s; ok'",
        "a$b$",
        "x$tag$y",
    ];

    /// Comments, nested ones too (PostgreSQL nests block comments).
    const COMMENTS: [&str; 4] = [
        "/* c; 'x */",
        "-- c; 'x\n",
        "/* \n$$ */",
        "/* a /* b; */ c; */",
    ];

    /// Text between items: whitespace, `;`, comments.
    const GAPS: [&str; 10] = [
        " ",
        "\n",
        "\t",
        "\r\n",
        "\u{3000}",
        ";",
        "-- note; 'x' $$\n",
        "/* a; 'b'\n$$ */",
        "/**/",
        "/* é */",
    ];

    const SEPARATORS: [&str; 6] = [" ", "\n", "\t", "  \n  ", "\u{3000}", "\r\n"];

    /// A statement: a first token, then tokens or comments, each after a
    /// separator.
    fn statements() -> impl Strategy<Value = String> {
        let next = (
            select(&SEPARATORS[..]),
            prop_oneof![4 => select(&TOKENS[..]), 1 => select(&COMMENTS[..])],
        );
        (select(&TOKENS[..]), vec(next, 0..6)).prop_map(|(first, rest)| {
            rest.iter()
                .fold(first.to_string(), |text, (sep, token)| text + sep + token)
        })
    }

    /// A piece of a script and what the split must make of it.
    #[derive(Debug, Clone)]
    enum Piece {
        /// Droppable text.
        Gap(String),
        /// A statement, terminated by `;`.
        Statement(String),
        /// A meta-command (`\` and the command), on its own line.
        Meta(String),
    }

    /// A script of gaps, statements and meta-commands, and at its end,
    /// maybe an unterminated statement (ending, maybe, inside an open
    /// quote or comment).
    fn scripts() -> impl Strategy<Value = (Vec<Piece>, Option<String>)> {
        let piece = prop_oneof![
            2 => vec(select(&GAPS[..]), 1..4).prop_map(|gaps| Piece::Gap(gaps.concat())),
            3 => statements().prop_map(Piece::Statement),
            1 => select(vec!["d t", "timing on", "x", "i 'f;.sql'", "é ;"])
                .prop_map(|command| Piece::Meta(format!("\\{command}"))),
        ];
        let open = select(vec![
            "",
            "",
            " 'open; x",
            " /* open; ",
            " $$ open;",
            " \"open",
        ]);
        let end = proptest::option::of((statements(), open).prop_map(|(s, open)| s + open));
        (vec(piece, 0..8), end)
    }

    proptest! {
        #![proptest_config(wasql_engine::fuzz::config(1000))]

        /// Any text, and any soup of quotes, comments, dollar quotes,
        /// semicolons and meta-commands, balanced or not: the split never
        /// panics and reads back as the input.
        #[test]
        fn fuzz_split_reads_back_any_text(
            text in prop_oneof![
                1 => any::<String>(),
                3 => vec(select(&FRAGMENTS[..]), 0..40).prop_map(|f| f.concat()),
            ],
        ) {
            check_reads_back(&text, &split(&text))?;
        }

        /// Scripts built from known statements, gaps and meta-commands split
        /// into exactly those statements and meta-commands, at their lines.
        #[test]
        fn fuzz_split_finds_the_statements_of_scripts((pieces, end) in scripts()) {
            let mut text = String::new();
            let mut expected = Split::default();
            let line = |text: &str| 1 + text.matches('\n').count();
            for piece in pieces {
                match piece {
                    Piece::Gap(gap) => text.push_str(&gap),
                    Piece::Statement(statement) => {
                        expected.items.push(Item::Sql {
                            text: statement.trim_end().to_string(),
                            line: line(&text),
                            column: column_at_end(&text),
                        });
                        text.push_str(&statement);
                        text.push(';');
                    }
                    Piece::Meta(command) => {
                        text.push('\n');
                        expected.items.push(Item::Meta {
                            text: command.clone(),
                            line: line(&text),
                        });
                        text.push_str(&command);
                        text.push('\n');
                    }
                }
            }
            if let Some(statement) = end {
                expected.rest = Some(Item::Sql {
                    text: statement.trim_end().to_string(),
                    line: line(&text),
                    column: column_at_end(&text),
                });
                text.push_str(&statement);
            }
            let found = split(&text);
            prop_assert_eq!(&found, &expected, "text {:?}", text);
            check_reads_back(&text, &found)?;
        }
    }
}
