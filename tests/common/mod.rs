//! What the integration tests share: a sandboxed `wasql` (its own HOME,
//! XDG and temp directories, a working directory and a UDF directory), the
//! ways of running it and reading what it did, and (in the submodules) the
//! UDF modules, HTTP servers, input encoders and the pseudo-terminal.
//!
//! Each test file includes it with `mod common;` and uses a part of it.
#![allow(dead_code)]

pub mod cluster;
pub mod encode;
pub mod http;
pub mod modules;
pub mod pty;
pub mod s3;
pub mod udf;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use modules::{file_name, module_file, warm_cache};

/// A private world for one test: HOME, XDG config, data and cache
/// directories, TMPDIR, a working directory the binary runs in, and
/// `work/udfs` for its modules. The runs see no other environment than
/// these and what [`Sandbox::env`] adds.
pub struct Sandbox {
    root: TempDir,
    env: Vec<(String, String)>,
}

/// What one run of the binary returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Sandbox {
    /// A sandbox with an empty module cache.
    pub fn new() -> Sandbox {
        let root = tempfile::tempdir().expect("create temp dir");
        for dir in ["home", "config", "data", "cache", "tmp", "work"] {
            fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        Sandbox {
            root,
            env: Vec::new(),
        }
    }

    /// A sandbox whose module cache starts with the warm cache's entries.
    pub fn warm() -> Sandbox {
        let sandbox = Sandbox::new();
        let from = warm_cache().join("wasql").join("modules");
        let to = sandbox.modules_cache();
        fs::create_dir_all(&to).unwrap();
        for entry in fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "cwasm") {
                fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
        sandbox
    }

    /// A warm sandbox with `modules` (e.g. `"slugify"`, `"hostile/spin"`)
    /// copied into its UDF directory.
    pub fn with(modules: &[&str]) -> Sandbox {
        let sandbox = Sandbox::warm();
        for name in modules {
            sandbox.add_module(name);
        }
        sandbox
    }

    /// Adds `key=value` to the environment of the runs.
    pub fn env(mut self, key: &str, value: &str) -> Sandbox {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `$HOME` of the runs.
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The working directory the binary runs in.
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// `$XDG_CONFIG_HOME` of the runs.
    pub fn config_home(&self) -> PathBuf {
        self.root.path().join("config")
    }

    /// The directory to pass with `--udfs` (absolute), made on first use.
    pub fn udfs(&self) -> PathBuf {
        let udfs = self.work().join("udfs");
        fs::create_dir_all(&udfs).unwrap();
        udfs
    }

    /// `udfs()` as a string, for arguments.
    pub fn udfs_arg(&self) -> String {
        self.udfs().display().to_string()
    }

    /// `$XDG_CACHE_HOME/wasql/modules` of the runs.
    pub fn modules_cache(&self) -> PathBuf {
        self.root.path().join("cache").join("wasql").join("modules")
    }

    /// Copies module `name` into the UDF directory; returns its new path.
    pub fn add_module(&self, name: &str) -> PathBuf {
        self.add_module_as(name, &file_name(name))
    }

    /// Copies module `name` into the UDF directory as `file`.
    pub fn add_module_as(&self, name: &str, file: &str) -> PathBuf {
        let to = self.udfs().join(file);
        fs::copy(module_file(name), &to).unwrap();
        to
    }

    /// Assembles `udfs/hostile/wat/NAME.wat` into the UDF directory as
    /// `NAME.wasm`.
    pub fn add_wat(&self, name: &str) -> PathBuf {
        let to = self.udfs().join(format!("{name}.wasm"));
        fs::write(&to, modules::assemble_wat(name)).expect("write module");
        to
    }

    /// The path module `name` has in the UDF directory (as wasql names it).
    pub fn module_path(&self, name: &str) -> String {
        self.udfs().join(file_name(name)).display().to_string()
    }

    /// Copies `sql/data/cities.csv` into the working directory.
    pub fn add_cities(&self) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/data/cities.csv");
        fs::copy(from, self.work().join("cities.csv")).unwrap();
    }

    /// A path relative to the working directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.work().join(relative)
    }

    /// Writes a file (creating its directories) relative to the working
    /// directory.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        path
    }

    /// Reads a file relative to the working directory.
    pub fn read(&self, relative: &str) -> String {
        let path = self.path(relative);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// True if `relative` exists under the working directory.
    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }

    /// A config file with small sandbox limits, to keep hostile tests fast.
    pub fn tight_limits(&self) -> String {
        self.write(
            "limits.toml",
            "[udf]\ntimeout_seconds = 1\nmemory_limit = \"64M\"\n",
        )
        .display()
        .to_string()
    }

    /// Runs wasql with `args` and no standard input.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Runs wasql with `args` and `stdin` piped in.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.run_with(args, Some(stdin))
    }

    /// Runs `wasql -q --format FORMAT -c SQL...` (one `-c` each of `sqls`).
    pub fn quiet(&self, format: &str, sqls: &[&str]) -> Run {
        let mut args = vec!["-q", "--format", format];
        for sql in sqls {
            args.extend(["-c", sql]);
        }
        self.run(&args)
    }

    /// Runs `sqls` (one `-c` each) with this sandbox's UDF directory,
    /// quietly, in `format`.
    pub fn query(&self, format: &str, sqls: &[&str]) -> Run {
        let udfs = self.udfs_arg();
        let mut args = vec!["--udfs", &udfs, "-q", "--format", format];
        for sql in sqls {
            args.extend(["-c", sql]);
        }
        self.run(&args)
    }

    /// Runs `script` on standard input with the config file `config` and
    /// this sandbox's UDF directory, quietly, as CSV, going on after errors.
    pub fn run_script(&self, config: &str, script: &str) -> Run {
        let udfs = self.udfs_arg();
        let args = ["--config", config, "--udfs", &udfs, "-q", "--format", "csv"];
        self.run_stdin(&[&args[..], &["--continue-on-error"]].concat(), script)
    }

    /// Runs one query that must succeed; returns its rows as JSON objects.
    #[track_caller]
    pub fn rows(&self, sql: &str) -> Vec<Value> {
        let run = self.query("json", &[sql]).success();
        let mut results = json_results(&run.stdout);
        assert_eq!(results.len(), 1, "one result expected: {run:#?}");
        results.pop().unwrap()
    }

    /// A wasql command with `args`, isolated from the user's environment and
    /// run in the working directory; stdout and stderr are piped.
    pub fn command(&self, args: &[&str]) -> Command {
        let root = self.root.path();
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasql"));
        command
            .args(args)
            .current_dir(self.work())
            .env_clear()
            .env("HOME", root.join("home"))
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("TMPDIR", root.join("tmp"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs wasql with `args`, optionally piping `stdin`. Asserts that wasql
    /// itself did not panic and exited normally.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command(args);
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let started = Instant::now();
        let mut child = command.spawn().expect("start wasql");
        let writer = stdin.map(|text| {
            let mut pipe = child.stdin.take().unwrap();
            let text = text.to_string();
            std::thread::spawn(move || {
                // wasql may stop reading early (e.g. after \q); that is fine.
                let _ = pipe.write_all(text.as_bytes());
            })
        });
        let output = child.wait_with_output().expect("wait for wasql");
        if let Some(writer) = writer {
            writer.join().unwrap();
        }
        let run = Run {
            code: output.status.code().expect("wasql was killed by a signal"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
            elapsed: started.elapsed(),
        };
        run.assert_no_panic(args);
        run
    }

    /// Names of `.wasql-copy-*` staging directories left anywhere under the
    /// working directory.
    pub fn staging_leftovers(&self) -> Vec<PathBuf> {
        files_under(&self.work(), true)
            .into_iter()
            .filter(|path| {
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".wasql-copy-")
            })
            .collect()
    }
}

/// Every file below `dir` (and, with `dirs`, every directory too), depth
/// first; nothing when `dir` does not exist.
pub fn files_under(dir: &Path, dirs: bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if dirs {
                found.push(path.clone());
            }
            found.extend(files_under(&path, dirs));
        } else {
            found.push(path);
        }
    }
    found
}

/// True if stderr shows a panic or backtrace of wasql itself. A guest's own
/// panic message, quoted after `[guest stderr:`, does not count.
pub fn host_panicked(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        let host_part = line.split("[guest stderr:").next().unwrap_or(line);
        let host_part = host_part.to_lowercase();
        host_part.contains("panicked") || host_part.contains("backtrace")
    })
}

impl Run {
    /// Asserts that wasql itself did not panic (what `args` ran).
    #[track_caller]
    pub fn assert_no_panic(&self, args: &[&str]) {
        assert!(
            !host_panicked(&self.stderr),
            "wasql {args:?} panicked:\n{}",
            self.stderr
        );
    }

    /// Asserts exit status 0 and returns the run.
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Asserts exit status `code` and returns the run.
    #[track_caller]
    pub fn exit(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit status {code}: {self:#?}");
        self
    }

    /// The lines of stdout.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Every line of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The error lines on stderr, without the source snippet (`  2 | ...`
    /// and the caret line) printed under an error that has a position.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.starts_with(' '))
            .collect()
    }

    /// Asserts that stderr has exactly one error line containing every one
    /// of `parts`; returns that line.
    #[track_caller]
    pub fn one_error_line(&self, parts: &[&str]) -> &str {
        let lines = self.error_lines();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        for part in parts {
            assert!(lines[0].contains(part), "stderr lacks {part:?}: {self:#?}");
        }
        lines[0]
    }

    /// Asserts exit status 1; returns the first line of stderr.
    #[track_caller]
    pub fn first_error(&self) -> &str {
        assert_eq!(self.code, 1, "wasql should have failed: {self:?}");
        self.stderr.lines().next().unwrap_or("")
    }

    /// Asserts exit status 1 and exactly one line on stderr; returns it
    /// (and prints it, shown with `--nocapture`, to read what users get).
    #[track_caller]
    pub fn failed(&self) -> &str {
        assert_eq!(self.code, 1, "wasql should have failed: {self:?}");
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected one line on stderr: {self:?}");
        println!("stderr: {}", lines[0]);
        lines[0]
    }

    /// The JSON arrays printed by the run (one per query), as rows.
    #[track_caller]
    pub fn results(&self) -> Vec<Vec<Value>> {
        json_results(&self.stdout)
    }

    /// The rows of the last JSON array printed (none if there is none).
    #[track_caller]
    pub fn last_json(&self) -> Vec<Value> {
        self.results().pop().unwrap_or_default()
    }

    /// Stdout as exactly one JSON array of rows.
    #[track_caller]
    pub fn json(&self) -> Vec<Value> {
        match serde_json::from_str(&self.stdout) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("not a JSON array: {other:?}: {self:?}"),
        }
    }

    /// The CSV output as rows of cells, header first.
    pub fn csv(&self) -> Vec<Vec<String>> {
        self.stdout
            .lines()
            .map(|line| line.split(',').map(str::to_string).collect())
            .collect()
    }
}

/// The JSON arrays printed by one run (one per query), as rows.
#[track_caller]
pub fn json_results(stdout: &str) -> Vec<Vec<Value>> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .map(|v| match v {
            Ok(Value::Array(rows)) => rows,
            other => panic!("expected a JSON array, got {other:?} in:\n{stdout}"),
        })
        .collect()
}

/// Column `name` of every row, as JSON values.
pub fn column(rows: &[Value], name: &str) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            row.get(name)
                .unwrap_or_else(|| panic!("no column {name} in {row}"))
                .clone()
        })
        .collect()
}
