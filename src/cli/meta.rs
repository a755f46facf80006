//! Backslash meta-commands: parsing and help. The runner carries them out.

use super::output::Format;

/// A parsed meta-command.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Help,
    Quit,
    /// `\d`: list tables and views.
    ListTables,
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

/// The help text printed by `\?`.
pub const HELP: &str = "\
Meta-commands:
  \\?               this help
  \\q               quit (Ctrl-D does too)
  \\d               list tables and views
  \\d NAME          describe table NAME
  \\df [PATTERN]    list functions (PATTERN: a substring, or a glob with * and ?)
  \\i FILE          run the SQL script FILE
  \\timing [on|off] show how long each statement took
  \\format [NAME]   output format: table, csv, tsv, json, ndjson, markdown, vertical
  \\maxrows [N]     rows shown by the table format (0: all)
  \\o [FILE]        write results to FILE (no FILE: back to the terminal)
  \\set [NAME VALUE] set parameter NAME, used as $NAME in SQL (no NAME: list them)
  \\unset NAME      forget parameter NAME
  \\timeout [SECONDS|off] cancel statements running longer than SECONDS
  \\udf load DIR    register the WASM UDF modules in DIR
  \\udf list        list loaded WASM modules and their functions
  \\udf log [NAME]  show what WASM functions printed (stdout and stderr)
  \\net             the network policy: rules, limits, hosts modules request
                   (the audit trail: SELECT * FROM wasql.net_log)
SQL statements end with ';' and may span lines. Ctrl-C cancels a running query.";

/// Parses a meta-command line such as `\d my_table`.
pub fn parse(line: &str) -> Result<Meta, String> {
    let line = line.trim();
    let body = line.strip_prefix('\\').unwrap_or(line);
    let (name, arg) = match body.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, Some(arg.trim()).filter(|a| !a.is_empty())),
        None => (body, None),
    };
    let arg = arg.map(|a| a.trim_end_matches(';').trim().to_string());
    let needs = |what: &str| format!("\\{name} needs {what}");
    Ok(match name {
        "?" | "help" | "h" => Meta::Help,
        "q" | "quit" => Meta::Quit,
        "d" => match arg {
            Some(table) => Meta::Describe(table),
            None => Meta::ListTables,
        },
        "df" => Meta::ListFunctions(arg),
        "i" | "include" => Meta::Include(arg.ok_or_else(|| needs("a file name"))?),
        "timing" => Meta::Timing(match arg.as_deref() {
            None => None,
            Some("on") => Some(true),
            Some("off") => Some(false),
            Some(other) => return Err(format!("\\timing takes on or off, not '{other}'")),
        }),
        "format" | "pset" => Meta::Format(arg.map(|a| Format::parse(&a)).transpose()?),
        "maxrows" => Meta::MaxRows(
            arg.map(|a| {
                a.parse::<usize>()
                    .map_err(|_| format!("\\maxrows takes a number, not '{a}'"))
            })
            .transpose()?,
        ),
        "o" | "output" => Meta::Output(arg),
        "set" => Meta::Set(arg.map(|a| match a.split_once(char::is_whitespace) {
            Some((name, value)) => (name.to_string(), unquote(value.trim())),
            None => (a, String::new()),
        })),
        "unset" => Meta::Unset(arg.ok_or_else(|| needs("a parameter name"))?),
        "timeout" => Meta::Timeout(match arg.as_deref() {
            None => None,
            Some("off") => Some(None),
            Some(seconds) => Some(Some(seconds.parse().map_err(|_| {
                format!("\\timeout takes a number of seconds or off, not '{seconds}'")
            })?)),
        }),
        "net" => Meta::Net,
        "udf" => {
            let arg = arg.unwrap_or_default();
            let (sub, rest) = match arg.split_once(char::is_whitespace) {
                Some((sub, rest)) => (sub, Some(rest.trim().to_string()).filter(|r| !r.is_empty())),
                None => (arg.as_str(), None),
            };
            match sub {
                "load" => {
                    Meta::UdfLoad(rest.ok_or_else(|| "\\udf load needs a directory".to_string())?)
                }
                "list" | "" => Meta::UdfList,
                "log" => Meta::UdfLog(rest),
                other => {
                    return Err(format!(
                        "unknown \\udf command '{other}': use load, list or log"
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "unknown meta-command '\\{name}': type \\? for the list"
            ));
        }
    })
}

/// A `\set` value: text as written, or the inside of one pair of single
/// quotes with `''` standing for `'`.
fn unquote(value: &str) -> String {
    match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => value.to_string(),
    }
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
        assert_eq!(parse("\\d").unwrap(), Meta::ListTables);
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
    }

    #[test]
    fn like_patterns() {
        assert_eq!(like_pattern("sum"), "%sum%");
        assert_eq!(like_pattern("date*"), "date%");
        assert_eq!(like_pattern("a?c"), "a_c");
    }
}
