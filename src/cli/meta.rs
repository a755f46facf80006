//! Backslash meta-commands: one table drives parsing, `\?` help and the
//! shell's completion. The runner carries them out.

use super::output::Format;

/// A parsed meta-command.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Help,
    Quit,
    /// `\d`, `\dt [PATTERN]`: list tables and views.
    ListTables(Option<String>),
    /// `\d NAME`: describe one table.
    Describe(String),
    /// `\df [PATTERN]`: list functions.
    ListFunctions(Option<String>),
    /// `\i FILE`: run a script.
    Include(String),
    /// `\timing [on|off]`; `None` toggles.
    Timing(Option<bool>),
    /// `\format [NAME]`; `None` shows the current format.
    Format(Option<Format>),
    /// `\x [on|off]`: vertical output on or off; `None` toggles.
    Expanded(Option<bool>),
    /// `\maxrows [N]`; `None` shows the current limit, 0 means no limit.
    MaxRows(Option<usize>),
    /// `\o [FILE]`; `None` sends results back to standard output.
    Output(Option<String>),
    /// `\udf load DIR`: register the WASM modules in DIR.
    UdfLoad(String),
    /// `\udf list`: the loaded modules and their functions.
    UdfList,
    /// `\udf log [NAME]`: captured guest output, of one module or function.
    UdfLog(Option<String>),
    /// `\net`: the network policy, its limits, and what modules request.
    Net,
    /// `\set [NAME [VALUE]]`: set a parameter; `None` lists them.
    Set(Option<(String, String)>),
    /// `\unset NAME`: forget a parameter.
    Unset(String),
    /// `\timeout [SECONDS|off]`: `None` shows the limit, `Some(None)` lifts it.
    Timeout(Option<Option<f64>>),
}

/// One meta-command: its names, help lines and parser.
struct Command {
    /// The names it answers to; the first is the one help shows.
    names: &'static [&'static str],
    /// `(usage, description)` lines for `\?`.
    help: &'static [(&'static str, &'static str)],
    /// The word after which a path argument starts: `Some("")` when the
    /// whole argument is a path, `Some("load")` for `\udf load PATH`.
    path_after: Option<&'static str>,
    /// Parses the argument (already trimmed, `None` when absent).
    parse: fn(Option<&str>) -> Result<Meta, String>,
}

const COMMANDS: &[Command] = &[
    Command {
        names: &["?", "help", "h"],
        help: &[("\\?", "this help")],
        path_after: None,
        parse: |_| Ok(Meta::Help),
    },
    Command {
        names: &["q", "quit"],
        help: &[("\\q", "quit (Ctrl-D does too)")],
        path_after: None,
        parse: |_| Ok(Meta::Quit),
    },
    Command {
        names: &["d"],
        help: &[
            ("\\d", "list tables and views"),
            ("\\d NAME", "describe table NAME"),
        ],
        path_after: None,
        parse: |arg| {
            Ok(match arg {
                Some(name) => Meta::Describe(name.to_string()),
                None => Meta::ListTables(None),
            })
        },
    },
    Command {
        names: &["dt"],
        help: &[(
            "\\dt [PATTERN]",
            "list tables and views (PATTERN as for \\df)",
        )],
        path_after: None,
        parse: |arg| Ok(Meta::ListTables(arg.map(str::to_string))),
    },
    Command {
        names: &["df"],
        help: &[(
            "\\df [PATTERN]",
            "list functions (PATTERN: a substring, or a glob with * and ?)",
        )],
        path_after: None,
        parse: |arg| Ok(Meta::ListFunctions(arg.map(str::to_string))),
    },
    Command {
        names: &["i", "include"],
        help: &[("\\i FILE", "run the SQL script FILE")],
        path_after: Some(""),
        parse: |arg| {
            let file = arg.ok_or("\\i needs a file name")?;
            Ok(Meta::Include(unquote(file)?))
        },
    },
    Command {
        names: &["timing"],
        help: &[("\\timing [on|off]", "show how long each statement took")],
        path_after: None,
        parse: |arg| Ok(Meta::Timing(on_off("\\timing", arg)?)),
    },
    Command {
        names: &["format"],
        help: &[(
            "\\format [NAME]",
            "output format: table, csv, tsv, json, ndjson, markdown, vertical",
        )],
        path_after: None,
        parse: |arg| Ok(Meta::Format(arg.map(Format::parse).transpose()?)),
    },
    Command {
        names: &["pset"],
        help: &[("\\pset format NAME", "the same, as psql spells it")],
        path_after: None,
        parse: |arg| {
            let arg = arg.unwrap_or_default();
            let (option, value) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
            match option {
                "format" => Ok(Meta::Format(
                    Some(value.trim())
                        .filter(|v| !v.is_empty())
                        .map(Format::parse)
                        .transpose()?,
                )),
                "expanded" | "x" => Ok(Meta::Expanded(on_off(
                    "\\pset expanded",
                    Some(value.trim()).filter(|v| !v.is_empty()),
                )?)),
                _ => Err(format!(
                    "\\pset supports format and expanded, not '{option}'"
                )),
            }
        },
    },
    Command {
        names: &["x"],
        help: &[(
            "\\x [on|off]",
            "vertical output (one line per field) on or off",
        )],
        path_after: None,
        parse: |arg| Ok(Meta::Expanded(on_off("\\x", arg)?)),
    },
    Command {
        names: &["maxrows"],
        help: &[("\\maxrows [N]", "rows shown by the table format (0: all)")],
        path_after: None,
        parse: |arg| {
            let limit = arg
                .map(|a| {
                    a.parse::<usize>()
                        .map_err(|_| format!("\\maxrows takes a number, not '{a}'"))
                })
                .transpose()?;
            Ok(Meta::MaxRows(limit))
        },
    },
    Command {
        names: &["o", "output"],
        help: &[(
            "\\o [FILE]",
            "write results to FILE (no FILE: back to the terminal)",
        )],
        path_after: Some(""),
        parse: |arg| Ok(Meta::Output(arg.map(unquote).transpose()?)),
    },
    Command {
        names: &["set"],
        help: &[(
            "\\set [NAME VALUE]",
            "set parameter NAME, used as $NAME in SQL (no NAME: list them)",
        )],
        path_after: None,
        parse: |arg| {
            let set = arg
                .map(|a| -> Result<_, String> {
                    Ok(match a.split_once(char::is_whitespace) {
                        Some((name, value)) => (name.to_string(), unquote(value.trim())?),
                        None => (a.to_string(), String::new()),
                    })
                })
                .transpose()?;
            Ok(Meta::Set(set))
        },
    },
    Command {
        names: &["unset"],
        help: &[("\\unset NAME", "forget parameter NAME")],
        path_after: None,
        parse: |arg| {
            let name = arg.ok_or("\\unset needs a parameter name")?;
            Ok(Meta::Unset(name.to_string()))
        },
    },
    Command {
        names: &["timeout"],
        help: &[(
            "\\timeout [SECONDS|off]",
            "cancel statements running longer than SECONDS",
        )],
        path_after: None,
        parse: |arg| {
            Ok(Meta::Timeout(match arg {
                None => None,
                Some("off") => Some(None),
                Some(seconds) => Some(Some(seconds.parse().map_err(|_| {
                    format!("\\timeout takes a number of seconds or off, not '{seconds}'")
                })?)),
            }))
        },
    },
    Command {
        names: &["udf"],
        help: &[
            ("\\udf load DIR", "register the WASM UDF modules in DIR"),
            ("\\udf list", "list loaded WASM modules and their functions"),
            (
                "\\udf log [NAME]",
                "show what WASM functions printed (stdout and stderr)",
            ),
        ],
        path_after: Some("load"),
        parse: |arg| {
            let arg = arg.unwrap_or_default();
            let (sub, rest) = match arg.split_once(char::is_whitespace) {
                Some((sub, rest)) => (sub, Some(rest.trim()).filter(|r| !r.is_empty())),
                None => (arg, None),
            };
            match sub {
                "load" => Ok(Meta::UdfLoad(unquote(
                    rest.ok_or("\\udf load needs a directory")?,
                )?)),
                "list" | "" => Ok(Meta::UdfList),
                "log" => Ok(Meta::UdfLog(rest.map(str::to_string))),
                other => Err(format!(
                    "unknown \\udf command '{other}': use load, list or log"
                )),
            }
        },
    },
    Command {
        names: &["net"],
        help: &[
            (
                "\\net",
                "the network policy: rules, limits, hosts modules request",
            ),
            ("", "(the audit trail: SELECT * FROM wasql.net_log)"),
        ],
        path_after: None,
        parse: |_| Ok(Meta::Net),
    },
];

/// `on`, `off`, or nothing (toggle).
fn on_off(command: &str, arg: Option<&str>) -> Result<Option<bool>, String> {
    match arg {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(other) => Err(format!("{command} takes on or off, not '{other}'")),
    }
}

/// A path argument: as typed, or between single or double quotes (a quote
/// inside is doubled, as in SQL), e.g. `'my file.sql'`.
fn unquote(arg: &str) -> Result<String, String> {
    let Some(quote) = arg.chars().next().filter(|c| matches!(c, '\'' | '"')) else {
        return Ok(arg.to_string());
    };
    let doubled = format!("{quote}{quote}");
    let inner = arg[1..]
        .strip_suffix(quote)
        .filter(|inner| !inner.replace(&doubled, "").contains(quote))
        .ok_or_else(|| format!("unterminated or misplaced quote in {arg}"))?;
    Ok(inner.replace(&doubled, &quote.to_string()))
}

/// The help text printed by `\?`.
pub fn help() -> String {
    let mut text = String::from("Meta-commands:\n");
    for (usage, description) in COMMANDS.iter().flat_map(|c| c.help) {
        text.push_str(&format!("  {usage:<19}{description}\n"));
    }
    text.push_str(
        "SQL statements end with ';' and may span lines (the prompt turns to ...>).\n\
         Tab completes names, \\ commands and paths. Ctrl-C cancels a running query.",
    );
    text
}

/// Every command name with its backslash, for completion.
pub fn command_names() -> impl Iterator<Item = String> {
    COMMANDS
        .iter()
        .flat_map(|c| c.names)
        .map(|name| format!("\\{name}"))
}

/// Where a path argument starts in `line`, a meta-command typed so far
/// (`\i dir/fi` gives the offset of `dir`), or `None` when the cursor is
/// not in one.
pub fn path_argument_start(line: &str) -> Option<usize> {
    let body_start = line.len() - line.trim_start().len();
    let body = line[body_start..].strip_prefix('\\')?;
    let name_end = body.find(char::is_whitespace)?;
    let command = find(&body[..name_end])?;
    let after = command.path_after?;
    let rest = &body[name_end..];
    let rest = rest.trim_start();
    let rest = if after.is_empty() {
        rest
    } else {
        let rest = rest.strip_prefix(after)?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        rest.trim_start()
    };
    Some(line.len() - rest.len())
}

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// Parses a meta-command line such as `\d my_table`.
pub fn parse(line: &str) -> Result<Meta, String> {
    let line = line.trim();
    let body = line.strip_prefix('\\').unwrap_or(line);
    let (name, arg) = match body.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim().trim_end_matches(';').trim()),
        None => (body, ""),
    };
    let command = find(name)
        .ok_or_else(|| format!("unknown meta-command '\\{name}': type \\? for the list"))?;
    (command.parse)(Some(arg).filter(|a| !a.is_empty()))
}

/// `\udf list`: the WASM functions SQL knows, with their modules.
pub const UDF_LIST: &str = "SELECT name AS \"function\", kind, signature, path AS module, \
     left(sha256, 16) AS sha256, array_to_string(capabilities, ', ') AS capabilities \
     FROM wasql.functions";

/// `\net`: the `[[net.allow]]` rules, a secret by the header it goes into.
pub const NET_RULES: &str = "SELECT rule, array_to_string(methods, ', ') AS methods, \
     'modules: ' || coalesce(nullif(array_to_string(modules, ', '), ''), 'any') || \
     '; functions: ' || coalesce(nullif(array_to_string(functions, ', '), ''), 'any') AS \"for\", \
     coalesce(nullif(array_to_string(addresses, ', '), ''), 'public only') AS addresses, \
     coalesce(secret_header || ' (secret)', '') AS injects \
     FROM wasql.net_rules";

/// `\net`: the hosts the WASM functions ask for (`net:HOST`
/// capabilities): requests only; the rules decide.
pub const NET_REQUESTS: &str = "SELECT module, name AS \"function\", \
     substr(capability, 5) AS \"requests host\" \
     FROM (SELECT module, name, unnest(capabilities) AS capability FROM wasql.functions) \
     WHERE capability LIKE 'net:%'";

/// `\df [PATTERN]`: the functions SQL knows, with their argument types and
/// the first line of their description (without Markdown links); a WASM
/// function's says which module it comes from.
pub fn list_functions(pattern: Option<&str>) -> String {
    let filter = pattern
        .map(|p| format!("WHERE name LIKE '{}'", like_pattern(p)))
        .unwrap_or_default();
    let first_line = |text: &str| {
        format!(
            "split_part(regexp_replace({text}, '\\[([^\\]]*)\\]\\([^)]*\\)', '\\1', 'g'), chr(10), 1)"
        )
    };
    // information_schema describes no table function: the WASM ones'
    // descriptions come from wasql.functions.
    let wasm = format!(
        "CASE WHEN w.kind LIKE 'table%' THEN w.signature || ' (' || w.kind || ') ' ELSE '' END || \
         {} || ' [WASM module ' || w.path || ', sha256 ' || left(w.sha256, 16) || ']'",
        first_line("coalesce(w.description, 'WASM ' || w.kind || ' function')")
    );
    format!(
        "SELECT DISTINCT f.name, f.kind, coalesce(a.arguments, '') AS arguments, f.description \
         FROM (SELECT * FROM (SELECT r.routine_name AS name, r.function_type AS kind, \
         CASE WHEN w.name IS NULL THEN {} ELSE {wasm} END AS description \
         FROM information_schema.routines r LEFT JOIN wasql.functions w \
         ON w.name = r.routine_name AND upper(split_part(w.kind, ' ', 1)) = r.function_type) \
         {filter}) f LEFT JOIN (\
         SELECT name, array_to_string(array_sort(array_distinct(array_agg(signature))), ' | ') AS arguments \
         FROM (SELECT specific_name AS name, \
         '(' || string_agg(data_type, ', ' ORDER BY ordinal_position) || ')' AS signature \
         FROM information_schema.parameters WHERE parameter_mode = 'IN' \
         GROUP BY specific_name, rid) GROUP BY name) a ON a.name = f.name \
         ORDER BY f.name, f.kind",
        first_line("r.description")
    )
}

/// Turns a `\df` pattern into a SQL `LIKE` pattern: `*` and `?` are globs,
/// and a plain word matches anywhere in the name.
pub fn like_pattern(pattern: &str) -> String {
    let escaped = pattern.replace('\'', "''");
    if escaped.contains(['*', '?']) {
        escaped.replace('*', "%").replace('?', "_")
    } else {
        format!("%{escaped}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_arguments() {
        assert_eq!(parse("\\d").unwrap(), Meta::ListTables(None));
        assert_eq!(parse("\\dt").unwrap(), Meta::ListTables(None));
        assert_eq!(parse("\\d  t1 ").unwrap(), Meta::Describe("t1".into()));
        assert_eq!(
            parse("\\df sum*").unwrap(),
            Meta::ListFunctions(Some("sum*".into()))
        );
        assert_eq!(parse("\\timing off").unwrap(), Meta::Timing(Some(false)));
        assert_eq!(
            parse("\\format CSV").unwrap(),
            Meta::Format(Some(Format::Csv))
        );
        assert_eq!(parse("\\o").unwrap(), Meta::Output(None));
        assert_eq!(parse("\\q").unwrap(), Meta::Quit);
        assert_eq!(
            parse("\\udf load udfs/dist").unwrap(),
            Meta::UdfLoad("udfs/dist".into())
        );
        assert_eq!(parse("\\udf list").unwrap(), Meta::UdfList);
        assert_eq!(
            parse("\\udf log slugify").unwrap(),
            Meta::UdfLog(Some("slugify".into()))
        );
        assert_eq!(
            parse("\\udf load 'dir with space'").unwrap(),
            Meta::UdfLoad("dir with space".into())
        );
        assert_eq!(
            parse("\\i 'my file.sql'").unwrap(),
            Meta::Include("my file.sql".into())
        );
        assert_eq!(
            parse("\\o \"out \"\"1\"\".csv\"").unwrap(),
            Meta::Output(Some("out \"1\".csv".into()))
        );
        assert_eq!(
            parse("\\pset format csv").unwrap(),
            Meta::Format(Some(Format::Csv))
        );
        assert_eq!(parse("\\x").unwrap(), Meta::Expanded(None));
        assert_eq!(parse("\\x off").unwrap(), Meta::Expanded(Some(false)));
        assert_eq!(parse("\\maxrows 5").unwrap(), Meta::MaxRows(Some(5)));
        assert!(parse("\\udf load").is_err());
        assert_eq!(parse("\\set").unwrap(), Meta::Set(None));
        assert_eq!(
            parse("\\set day 2024-06-01").unwrap(),
            Meta::Set(Some(("day".into(), "2024-06-01".into())))
        );
        assert_eq!(
            parse("\\set who 'o''hara x'").unwrap(),
            Meta::Set(Some(("who".into(), "o'hara x".into())))
        );
        assert_eq!(parse("\\unset day").unwrap(), Meta::Unset("day".into()));
        assert_eq!(
            parse("\\timeout 2.5").unwrap(),
            Meta::Timeout(Some(Some(2.5)))
        );
        assert_eq!(parse("\\timeout off").unwrap(), Meta::Timeout(Some(None)));
        assert!(parse("\\timeout soon").is_err());
        assert!(parse("\\udf nope").is_err());
    }

    #[test]
    fn bad_commands_are_explained() {
        assert!(
            parse("\\nope")
                .unwrap_err()
                .contains("unknown meta-command '\\nope'")
        );
        assert!(parse("\\i").unwrap_err().contains("needs a file name"));
        assert!(
            parse("\\format xml")
                .unwrap_err()
                .contains("unknown format 'xml'")
        );
        assert!(parse("\\timing maybe").is_err());
        assert!(parse("\\i 'open").unwrap_err().contains("quote"));
        assert!(parse("\\i '").unwrap_err().contains("quote"));
        assert!(parse("\\pset border 2").unwrap_err().contains("\\pset"));
    }

    #[test]
    fn path_arguments_are_found() {
        assert_eq!(path_argument_start("\\i da"), Some(3));
        assert_eq!(path_argument_start("  \\o  'x"), Some(6));
        assert_eq!(path_argument_start("\\udf load d"), Some(10));
        assert_eq!(path_argument_start("\\udf log d"), None);
        assert_eq!(path_argument_start("\\i"), None);
        assert_eq!(path_argument_start("\\d x"), None);
        assert_eq!(path_argument_start("SELECT 1"), None);
        assert!(command_names().any(|n| n == "\\udf"));
        assert!(help().contains("\\pset format NAME"));
    }

    #[test]
    fn like_patterns() {
        assert_eq!(like_pattern("sum"), "%sum%");
        assert_eq!(like_pattern("date*"), "date%");
        assert_eq!(like_pattern("a?c"), "a_c");
    }
}
