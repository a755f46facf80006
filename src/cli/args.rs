//! Command-line arguments.

use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use super::output::Format;

const EXAMPLES: &str = "\
Examples:
  wasql                                   start the interactive shell
  wasql -c \"SELECT * FROM 'data/*.parquet' LIMIT 5\"
  wasql -f setup.sql -f report.sql --format csv -o report.csv
  echo \"SELECT 1\" | wasql --format json
  wasql -c \"COPY (SELECT * FROM 'in.csv') TO 's3://bucket/out.parquet'\"
  wasql --udfs udfs/dist -c \"SELECT slugify(name) FROM 'cities.csv'\"
  wasql -f report.sql --param day=2024-06-01   # SQL says $day, paths '${day}'
  wasql -f setup.sql -i                   run a script, then stay in the shell
  wasql scheduler --bind 127.0.0.1:50050  a cluster: one scheduler,
  wasql executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051   executors,
  wasql --cluster df://127.0.0.1:50050 -f report.sql                  and clients

Exit status: 0 on success, 1 if a statement failed, 2 on bad usage.
Config: --config FILE, or ~/.config/wasql/config.toml when it exists.
Init script: --init FILE, or ~/.config/wasql/init.sql when it exists.";

/// wasql — SQL over files and object stores, with sandboxed WebAssembly UDFs.
#[derive(Debug, Parser)]
#[command(name = "wasql", version, after_help = EXAMPLES)]
pub struct Args {
    /// Run SQL (repeatable; runs in order with -f)
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        allow_hyphen_values = true
    )]
    pub commands: Vec<String>,

    /// Run a SQL script file (repeatable; runs in order with -c)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Rows shown by the table format (0: all; default: 40 on a terminal, all otherwise)
    #[arg(long, value_name = "N")]
    pub maxrows: Option<usize>,

    /// Print no row counts or timings
    #[arg(short, long)]
    pub quiet: bool,

    /// Write results to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Config file (TOML)
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Run on the cluster whose scheduler is at URL (df://HOST:PORT)
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,

    /// Run as a cluster's scheduler or executor instead
    #[command(subcommand)]
    pub role: Option<Role>,

    /// Go on with a script after a statement fails (the exit status is still 1)
    #[arg(long)]
    pub continue_on_error: bool,

    /// Memory limit for queries, e.g. 4G or 512M
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// Load every WASM UDF module in DIR (repeatable)
    #[arg(long = "udfs", value_name = "DIR")]
    pub udf_dirs: Vec<PathBuf>,

    /// Partitions a query is split into (default: the number of cores)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(usize))]
    pub target_partitions: Option<usize>,

    /// Set parameter NAME, written $NAME in SQL and ${NAME} in paths; bound as a value, never spliced into the SQL (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param, allow_hyphen_values = true)]
    pub params: Vec<(String, String)>,

    /// Cancel any statement that runs longer than SECONDS
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub timeout: Option<f64>,

    /// Stop the run of -c/-f/standard input scripts after SECONDS in all
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub max_run_time: Option<f64>,

    /// Run FILE before the shell or the scripts (default: ~/.config/wasql/init.sql if it exists)
    #[arg(long, value_name = "FILE", conflicts_with = "no_init")]
    pub init: Option<PathBuf>,

    /// Do not run an init file
    #[arg(long)]
    pub no_init: bool,

    /// Stay in the shell after running the -c/-f scripts
    #[arg(short, long)]
    pub interactive: bool,
}

/// A cluster role: the same binary serves as scheduler and executor.
#[derive(Debug, Subcommand)]
pub enum Role {
    /// Run a cluster's scheduler: clients send it queries, it plans them
    /// and hands their tasks to executors
    Scheduler {
        /// Address to listen on
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Address of the module depot, where executors fetch modules over
        /// 1 MiB by digest [default: --bind's host, any free port]
        #[arg(long, value_name = "HOST:PORT")]
        depot: Option<std::net::SocketAddr>,
    },
    /// Run an executor: it runs tasks under its own config's [udf] limits
    /// and [net] policy
    Executor {
        /// The scheduler to serve
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address to listen on (results and shuffle data; tasks arrive on PORT+1)
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
        bind: String,
        /// Where shuffle files go (default: a directory under the system's temp directory)
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Tasks run at once (default: the number of cores)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(usize))]
        concurrent_tasks: Option<usize>,
    },
}

/// Parses `NAME=VALUE` for `--param`.
fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=VALUE"))?;
    wasql_engine::check_param_name(name)?;
    Ok((name.to_string(), value.to_string()))
}

/// One `-c` or `-f` input, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Command(String),
    File(PathBuf),
}

impl Args {
    /// Parses the process arguments; exits with status 2 on bad usage.
    pub fn parse_with_inputs() -> (Args, Vec<Input>) {
        let matches = Args::command().get_matches();
        let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let inputs = ordered_inputs(&args, &matches);
        (args, inputs)
    }
}

/// Interleaves `-c` and `-f` in the order they were given.
fn ordered_inputs(args: &Args, matches: &ArgMatches) -> Vec<Input> {
    let indices = |id: &str| -> Vec<usize> {
        matches
            .indices_of(id)
            .map(|i| i.collect())
            .unwrap_or_default()
    };
    let mut inputs: Vec<(usize, Input)> = indices("commands")
        .into_iter()
        .zip(args.commands.iter().cloned().map(Input::Command))
        .chain(
            indices("files")
                .into_iter()
                .zip(args.files.iter().cloned().map(Input::File)),
        )
        .collect();
    inputs.sort_by_key(|(index, _)| *index);
    inputs.into_iter().map(|(_, input)| input).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_files_keep_their_order() {
        let matches = Args::command()
            .get_matches_from(["wasql", "-f", "a.sql", "-c", "select 1", "-f", "b.sql"]);
        let args = Args::from_arg_matches(&matches).unwrap();
        assert_eq!(
            ordered_inputs(&args, &matches),
            vec![
                Input::File("a.sql".into()),
                Input::Command("select 1".into()),
                Input::File("b.sql".into()),
            ]
        );
    }

    #[test]
    fn params_are_name_value_pairs() {
        assert_eq!(
            parse_param("day=2024-06-01=x").unwrap(),
            ("day".to_string(), "2024-06-01=x".to_string())
        );
        assert!(parse_param("day").is_err());
        assert!(parse_param("1=x").is_err());
    }

    #[test]
    fn args_are_consistent() {
        Args::command().debug_assert();
    }
}
