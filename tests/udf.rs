//! End-to-end tests of WebAssembly UDFs (scalar, aggregate and table
//! functions), driven through the `wasql` binary the way a user drives it:
//! `--udfs DIR`, `\udf` meta-commands, `CREATE FUNCTION`, config files, and
//! the exit status, standard output and standard error.
//!
//! The modules come from `udfs/dist` (built by `bash udfs/build.sh`). Each
//! test copies the modules it needs into its own temporary directory, so it
//! controls exactly which functions exist, and runs wasql with its own HOME
//! and XDG directories (the compiled-module cache lives in
//! `$XDG_CACHE_HOME/wasql/modules`).
//!
//! Compiling a module with a debug build of wasmtime takes seconds, so the
//! first test to need one compiles every module once into a warm cache under
//! `CARGO_TARGET_TMPDIR` (keyed by sha256, like wasql's own cache); each
//! sandbox starts with a copy of it. The cache tests start cold.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Helpers: modules
// ---------------------------------------------------------------------------

/// The example modules in `udfs/dist`.
const EXAMPLES: &[&str] = &[
    "haversine",
    "slugify",
    "png_edge_color",
    "luhn_c",
    "numeric",
    "types",
    "stats",
    "weighted_c",
    "tables",
];

/// The hostile modules in `udfs/dist/hostile` that register (and misbehave
/// when called).
const HOSTILE: &[&str] = &[
    "spin",
    "balloon",
    "boom",
    "deep",
    "bad_offsets",
    "bad_pointer",
    "bad_utf8",
    "bad_length",
    "sneaky",
    "chatty",
    "net_abuse",
    "agg_abuse",
    "table_abuse",
    "garbler",
];

/// `udfs/dist` of this checkout.
fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("udfs")
        .join("dist")
}

/// The built module `name`: `"slugify"` or `"hostile/spin"`. Panics with a
/// hint when it has not been built.
fn module_file(name: &str) -> PathBuf {
    let path = dist_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "the UDF module {} is missing: run `bash udfs/build.sh` first",
        path.display()
    );
    path
}

/// The file name a module gets when copied: `"hostile/spin"` -> `spin.wasm`.
fn file_name(name: &str) -> String {
    format!("{}.wasm", name.rsplit('/').next().unwrap())
}

/// Hex sha256 of a file.
fn sha256_of(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An `XDG_CACHE_HOME` holding compiled code for every example and loadable
/// hostile module. Built once per test process by letting wasql compile them
/// (reused across runs: entries are keyed by the module's sha256 and the
/// wasmtime version, and wasql recompiles anything it refuses).
fn warm_cache() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("udf-warm-cache");
        // The sources are private to this process; only the cache is shared.
        let scratch = tempfile::tempdir().expect("create temp dir");
        let modules = scratch.path().join("modules");
        fs::create_dir_all(&modules).unwrap();
        for home in ["home", "config"] {
            fs::create_dir_all(scratch.path().join(home)).unwrap();
        }
        let names = EXAMPLES
            .iter()
            .map(|n| n.to_string())
            .chain(HOSTILE.iter().map(|n| format!("hostile/{n}")));
        for name in names {
            fs::copy(module_file(&name), modules.join(file_name(&name))).unwrap();
        }
        let output = Command::new(env!("CARGO_BIN_EXE_wasql"))
            .args(["--udfs"])
            .arg(&modules)
            .args(["-q", "-c", "SELECT 1"])
            .env_clear()
            .env("HOME", scratch.path().join("home"))
            .env("XDG_CONFIG_HOME", scratch.path().join("config"))
            .env("XDG_CACHE_HOME", &cache)
            .env("TMPDIR", scratch.path())
            .output()
            .expect("start wasql");
        assert!(
            output.status.success(),
            "warming the module cache failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        cache
    })
}

// ---------------------------------------------------------------------------
// Helpers: a sandboxed wasql
// ---------------------------------------------------------------------------

/// A private world for one test: HOME, XDG config, data and cache
/// directories, a working directory, and `work/udfs` for its modules.
struct Sandbox {
    root: TempDir,
}

/// What one run of the binary returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Sandbox {
    /// A sandbox whose module cache starts with the warm cache's entries.
    fn new() -> Sandbox {
        let sandbox = Sandbox::cold();
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

    /// A sandbox with an empty module cache.
    fn cold() -> Sandbox {
        let root = tempfile::tempdir().expect("create temp dir");
        for dir in ["home", "config", "data", "cache", "tmp", "work/udfs"] {
            fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        Sandbox { root }
    }

    /// A warm sandbox with `modules` (e.g. `"slugify"`, `"hostile/spin"`)
    /// copied into its UDF directory.
    fn with(modules: &[&str]) -> Sandbox {
        let sandbox = Sandbox::new();
        for name in modules {
            sandbox.add_module(name);
        }
        sandbox
    }

    /// The working directory the binary runs in.
    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// The directory passed with `--udfs` (absolute).
    fn udfs(&self) -> PathBuf {
        self.work().join("udfs")
    }

    /// `udfs()` as a string, for arguments.
    fn udfs_arg(&self) -> String {
        self.udfs().display().to_string()
    }

    /// `$XDG_CACHE_HOME/wasql/modules` of the runs.
    fn modules_cache(&self) -> PathBuf {
        self.root.path().join("cache").join("wasql").join("modules")
    }

    /// Copies module `name` into the UDF directory; returns its new path.
    fn add_module(&self, name: &str) -> PathBuf {
        self.add_module_as(name, &file_name(name))
    }

    /// Copies module `name` into the UDF directory as `file`.
    fn add_module_as(&self, name: &str, file: &str) -> PathBuf {
        let to = self.udfs().join(file);
        fs::copy(module_file(name), &to).unwrap();
        to
    }

    /// The path module `name` has in the UDF directory (as wasql names it).
    fn module_path(&self, name: &str) -> String {
        self.udfs().join(file_name(name)).display().to_string()
    }

    /// Copies `sql/data/cities.csv` into the working directory.
    fn add_cities(&self) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/data/cities.csv");
        fs::copy(from, self.work().join("cities.csv")).unwrap();
    }

    /// Writes a file (creating its directories) relative to the working
    /// directory.
    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.work().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        path
    }

    /// A config file with small sandbox limits, to keep hostile tests fast.
    fn tight_limits(&self) -> String {
        self.write(
            "limits.toml",
            "[udf]\ntimeout_seconds = 1\nmemory_limit = \"64M\"\n",
        )
        .display()
        .to_string()
    }

    /// Runs wasql with `args` and no standard input.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Runs wasql with `args` and `stdin` piped in.
    fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.run_with(args, Some(stdin))
    }

    /// Runs `sql` (any number of `;`-free statements, one `-c` each) with this
    /// sandbox's UDF directory, quietly, in `format`.
    fn query(&self, format: &str, sqls: &[&str]) -> Run {
        let udfs = self.udfs_arg();
        let mut args = vec!["--udfs", &udfs, "-q", "--format", format];
        for sql in sqls {
            args.extend(["-c", sql]);
        }
        self.run(&args)
    }

    /// Runs one query that must succeed; returns its rows as JSON objects.
    #[track_caller]
    fn rows(&self, sql: &str) -> Vec<Value> {
        let run = self.query("json", &[sql]).success();
        let mut results = json_results(&run.stdout);
        assert_eq!(results.len(), 1, "one result expected: {run:#?}");
        results.pop().unwrap()
    }

    /// A wasql command with `args`, isolated from the user's environment and
    /// run in the working directory.
    fn command(&self, args: &[&str]) -> Command {
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs wasql with `args`, optionally piping `stdin`. Asserts that wasql
    /// itself did not panic and exited normally.
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
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
        assert!(
            !host_panicked(&run.stderr),
            "wasql {args:?} panicked:\n{}",
            run.stderr
        );
        run
    }
}

/// True if stderr shows a panic or backtrace of wasql itself. A guest's own
/// panic message, quoted after `[guest stderr:`, does not count.
fn host_panicked(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        let host_part = line.split("[guest stderr:").next().unwrap_or(line);
        let host_part = host_part.to_lowercase();
        host_part.contains("panicked") || host_part.contains("backtrace")
    })
}

impl Run {
    /// Asserts exit status 0 and returns the run.
    #[track_caller]
    fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Asserts exit status `code` and returns the run.
    #[track_caller]
    fn exit(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit status {code}: {self:#?}");
        self
    }

    /// The error lines on stderr, without the source snippet (`  2 | ...`
    /// and the caret line) printed under an error that has a position.
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.starts_with(' '))
            .collect()
    }

    /// Asserts that stderr is exactly one line containing every one of
    /// `parts`; returns that line.
    #[track_caller]
    fn one_error_line(&self, parts: &[&str]) -> &str {
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        for part in parts {
            assert!(lines[0].contains(part), "stderr lacks {part:?}: {self:#?}");
        }
        lines[0]
    }
}

/// The JSON arrays printed by one run (one per query), as rows.
#[track_caller]
fn json_results(stdout: &str) -> Vec<Vec<Value>> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .map(|v| match v {
            Ok(Value::Array(rows)) => rows,
            other => panic!("expected a JSON array, got {other:?} in:\n{stdout}"),
        })
        .collect()
}

/// Column `name` of every row, as JSON values.
fn column(rows: &[Value], name: &str) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            row.get(name)
                .unwrap_or_else(|| panic!("no column {name} in {row}"))
                .clone()
        })
        .collect()
}

/// A JSON value as f64.
#[track_caller]
fn float(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// `Some(text)` as JSON strings, `None` as null.
fn strings(values: &[Option<&str>]) -> Vec<Value> {
    values
        .iter()
        .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
        .collect()
}

/// The function-and-module prefix of every guest failure.
fn guest_failure(function: &str, module: &str) -> String {
    format!("function {function} (module {module})")
}

// ---------------------------------------------------------------------------
// Helpers: PNG and wasm encoding
// ---------------------------------------------------------------------------

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    for (index, block) in blocks.iter().enumerate() {
        out.push(u8::from(index + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend(adler32(data).to_be_bytes());
    out
}

/// An 8-bit image: `pixels[y][x]` holds one sample per channel.
struct Image {
    /// PNG colour type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA.
    color_type: u8,
    pixels: Vec<Vec<Vec<u8>>>,
}

impl Image {
    /// A `width` x `height` image with pixel `(x, y)` = `pixel(x, y)`.
    fn new(
        color_type: u8,
        width: usize,
        height: usize,
        pixel: impl Fn(usize, usize) -> Vec<u8>,
    ) -> Image {
        let channels = match color_type {
            0 => 1,
            2 => 3,
            4 => 2,
            6 => 4,
            other => panic!("colour type {other}"),
        };
        let pixels: Vec<Vec<Vec<u8>>> = (0..height)
            .map(|y| (0..width).map(|x| pixel(x, y)).collect())
            .collect();
        assert!(pixels.iter().flatten().all(|p| p.len() == channels));
        Image { color_type, pixels }
    }

    /// The PNG file: unfiltered rows in stored deflate blocks.
    fn png(&self) -> Vec<u8> {
        let (height, width) = (self.pixels.len() as u32, self.pixels[0].len() as u32);
        let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend(crc32(&body).to_be_bytes());
        };
        let mut header = Vec::new();
        header.extend(width.to_be_bytes());
        header.extend(height.to_be_bytes());
        header.extend([8, self.color_type, 0, 0, 0]);
        let mut raw = Vec::new();
        for row in &self.pixels {
            raw.push(0); // filter: none
            raw.extend(row.iter().flatten());
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &header);
        chunk(&mut png, b"IDAT", &zlib_stored(&raw));
        chunk(&mut png, b"IEND", &[]);
        png
    }

    /// The mean colour of the border pixels (each once), rounded to the
    /// nearest integer, as `#rrggbb`; grey counts as r = g = b, alpha is
    /// ignored.
    fn expected_edge_color(&self) -> String {
        let (height, width) = (self.pixels.len(), self.pixels[0].len());
        let mut sum = [0u64; 3];
        let mut count = 0u64;
        for (y, row) in self.pixels.iter().enumerate() {
            for (x, pixel) in row.iter().enumerate() {
                if x == 0 || y == 0 || x == width - 1 || y == height - 1 {
                    let rgb = if pixel.len() < 3 {
                        [pixel[0]; 3]
                    } else {
                        [pixel[0], pixel[1], pixel[2]]
                    };
                    for (s, v) in sum.iter_mut().zip(rgb) {
                        *s += u64::from(v);
                    }
                    count += 1;
                }
            }
        }
        let mean = sum.map(|s| (s as f64 / count as f64).round() as u8);
        format!("#{:02x}{:02x}{:02x}", mean[0], mean[1], mean[2])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unsigned LEB128.
fn leb128(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A wasm name or byte vector: its length, then the bytes.
fn wasm_vec(bytes: &[u8]) -> Vec<u8> {
    let mut out = leb128(bytes.len() as u32);
    out.extend_from_slice(bytes);
    out
}

fn wasm_section(id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    out.extend(wasm_vec(body));
    out
}

/// The value type `i32` in the binary format.
const I32: u8 = 0x7F;

/// One function of a hand-assembled module: imported from `import`
/// (module, name), or defined with `body` and exported as `export`.
struct TinyFunction {
    import: Option<(&'static str, &'static str)>,
    export: String,
    params: Vec<u8>,
    results: Vec<u8>,
    body: Vec<u8>,
}

/// A module to hand-assemble: functions (imports first), one memory of one
/// page exported under `memory` (or not at all), and a `wasql.udfs`
/// section.
struct TinyModule {
    functions: Vec<TinyFunction>,
    memory: Option<&'static str>,
    description: String,
}

/// A defined function `export` of `params` and `results` i32s.
fn tiny_function(export: &str, params: usize, results: usize, body: &[u8]) -> TinyFunction {
    TinyFunction {
        import: None,
        export: export.to_string(),
        params: vec![I32; params],
        results: vec![I32; results],
        body: body.to_vec(),
    }
}

/// Function bodies: `i32.const 1024`, nothing, `i32.const 1`.
const ALLOC_BODY: &[u8] = &[0x00, 0x41, 0x80, 0x08, 0x0B];
const NOTHING: &[u8] = &[0x00, 0x0B];
const ONE: &[u8] = &[0x00, 0x41, 0x01, 0x0B];

impl TinyModule {
    /// A module with the allocator exports (`wasql_alloc` always returns
    /// 1024) and `functions`, described by `description`.
    fn new(functions: Vec<TinyFunction>, description: String) -> TinyModule {
        let mut all = vec![
            tiny_function("wasql_alloc", 2, 1, ALLOC_BODY),
            tiny_function("wasql_free", 3, 0, NOTHING),
            tiny_function("wasql_release", 1, 0, NOTHING),
        ];
        all.extend(functions);
        TinyModule {
            functions: all,
            memory: Some("memory"),
            description,
        }
    }

    /// Gives the export `export` the type `params -> results`.
    fn retype(mut self, export: &str, params: &[u8], results: &[u8]) -> TinyModule {
        let function = self
            .functions
            .iter_mut()
            .find(|f| f.export == export)
            .unwrap();
        function.params = params.to_vec();
        function.results = results.to_vec();
        self
    }

    /// Adds the import `module::name` of type `params -> results`.
    fn import(
        mut self,
        module: &'static str,
        name: &'static str,
        params: &[u8],
        results: &[u8],
    ) -> TinyModule {
        self.functions.insert(
            0,
            TinyFunction {
                import: Some((module, name)),
                export: String::new(),
                params: params.to_vec(),
                results: results.to_vec(),
                body: Vec::new(),
            },
        );
        self
    }

    /// The module in the binary format.
    fn assemble(&self) -> Vec<u8> {
        let mut types = leb128(self.functions.len() as u32);
        for function in &self.functions {
            types.push(0x60);
            types.extend(wasm_vec(&function.params));
            types.extend(wasm_vec(&function.results));
        }
        let (imported, defined): (Vec<_>, Vec<_>) = (0u32..)
            .zip(&self.functions)
            .partition(|(_, f)| f.import.is_some());
        let mut imports = leb128(imported.len() as u32);
        for (index, function) in &imported {
            let (module, name) = function.import.unwrap();
            imports.extend(wasm_vec(module.as_bytes()));
            imports.extend(wasm_vec(name.as_bytes()));
            imports.push(0x00);
            imports.extend(leb128(*index));
        }
        let mut functions = leb128(defined.len() as u32);
        let mut code = leb128(defined.len() as u32);
        let mut exports = Vec::new();
        if let Some(memory) = self.memory {
            exports.extend(wasm_vec(memory.as_bytes()));
            exports.extend([2, 0]);
        }
        for (index, function) in &defined {
            functions.extend(leb128(*index));
            code.extend(wasm_vec(&function.body));
            exports.extend(wasm_vec(function.export.as_bytes()));
            exports.push(0x00);
            exports.extend(leb128(*index));
        }
        let export_count = defined.len() + usize::from(self.memory.is_some());
        let mut export_section = leb128(export_count as u32);
        export_section.extend(exports);
        let memory = [1, 0x00, 1]; // one memory, min 1 page, no max
        let mut custom = wasm_vec(b"wasql.udfs");
        custom.extend_from_slice(self.description.as_bytes());

        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(wasm_section(1, &types));
        if !imported.is_empty() {
            module.extend(wasm_section(2, &imports));
        }
        module.extend(wasm_section(3, &functions));
        module.extend(wasm_section(5, &memory));
        module.extend(wasm_section(7, &export_section));
        module.extend(wasm_section(10, &code));
        module.extend(wasm_section(0, &custom));
        module
    }
}

/// A minimal ABI v1 module with one scalar function `name(int64) -> int64`,
/// exported as `tiny_fn` (which always fails).
fn tiny_scalar(name: &str) -> TinyModule {
    TinyModule::new(
        vec![tiny_function("tiny_fn", 5, 1, ONE)],
        format!(
            "{{\"abi\":1,\"name\":\"{name}\",\"kind\":\"scalar\",\"export\":\"tiny_fn\",\"args\":[\"int64\"],\"returns\":\"int64\"}}\n"
        ),
    )
}

/// [`tiny_scalar`] in the binary format.
fn tiny_module(name: &str) -> Vec<u8> {
    tiny_scalar(name).assemble()
}

// ---------------------------------------------------------------------------
// haversine_km
// ---------------------------------------------------------------------------

/// The haversine formula in SQL built-ins, R = 6371.0088 km.
fn haversine_sql(lat1: &str, lon1: &str, lat2: &str, lon2: &str) -> String {
    format!(
        "2 * 6371.0088 * asin(least(1.0, sqrt(\
           power(sin((radians({lat2}) - radians({lat1})) / 2), 2) \
           + cos(radians({lat1})) * cos(radians({lat2})) \
             * power(sin(radians({lon2} - {lon1}) / 2), 2))))"
    )
}

/// haversine_km over every pair of cities equals the SQL formula.
#[test]
fn haversine_matches_the_formula_in_sql_over_all_city_pairs() {
    let sandbox = Sandbox::with(&["haversine"]);
    sandbox.add_cities();
    let rows = sandbox.rows(&format!(
        "SELECT count(*) AS pairs, max(abs(d - f)) AS max_diff, max(d) AS longest \
         FROM (SELECT haversine_km(a.lat, a.lon, b.lat, b.lon) AS d, {} AS f \
               FROM 'cities.csv' a CROSS JOIN 'cities.csv' b)",
        haversine_sql("a.lat", "a.lon", "b.lat", "b.lon")
    ));
    assert_eq!(rows[0]["pairs"], 64, "{rows:?}");
    let max_diff = float(&rows[0]["max_diff"]);
    assert!(max_diff < 1e-9, "max difference {max_diff} km");
    // Lisbon-Warsaw is the longest pair, about 2760 km.
    let longest = float(&rows[0]["longest"]);
    assert!((2700.0..2800.0).contains(&longest), "{longest}");
}

/// A known distance: Paris-Berlin is about 877.46 km; zero to itself;
/// symmetric.
#[test]
fn haversine_known_values() {
    let sandbox = Sandbox::with(&["haversine"]);
    sandbox.add_cities();
    let rows = sandbox.rows(
        "SELECT haversine_km(p.lat, p.lon, b.lat, b.lon) AS there, \
                haversine_km(b.lat, b.lon, p.lat, p.lon) AS back, \
                haversine_km(p.lat, p.lon, p.lat, p.lon) AS zero, \
                haversine_km(48.8566, 2.3522, 52.52, 13.405) AS literal \
         FROM 'cities.csv' p, 'cities.csv' b WHERE p.name = 'Paris' AND b.name = 'Berlin'",
    );
    assert_eq!(rows.len(), 1);
    let there = float(&rows[0]["there"]);
    assert!((there - 877.46).abs() < 0.01, "Paris-Berlin {there} km");
    assert_eq!(float(&rows[0]["back"]), there);
    assert_eq!(float(&rows[0]["literal"]), there);
    assert_eq!(float(&rows[0]["zero"]), 0.0);
}

/// A constant argument is used for every row of a column.
#[test]
fn haversine_with_constant_and_column_arguments() {
    let sandbox = Sandbox::with(&["haversine"]);
    sandbox.add_cities();
    let rows = sandbox.rows(&format!(
        "SELECT name, haversine_km(lat, lon, 48.8566, 2.3522) AS d, {} AS f \
         FROM 'cities.csv' ORDER BY name",
        haversine_sql("lat", "lon", "48.8566", "2.3522")
    ));
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let (d, f) = (float(&row["d"]), float(&row["f"]));
        assert!((d - f).abs() < 1e-9, "{row}");
        assert_eq!(d == 0.0, row["name"] == "Paris", "{row}");
    }
}

// ---------------------------------------------------------------------------
// slugify
// ---------------------------------------------------------------------------

/// slugify on literals, including non-ASCII, empty and NULL input.
#[test]
fn slugify_literals() {
    let sandbox = Sandbox::with(&["slugify"]);
    let rows = sandbox.rows(
        "SELECT slugify('Hello, World!') AS a, slugify('--A  b--') AS b, \
                slugify('Ünïcödé 123') AS c, slugify('') AS d, \
                slugify(NULL) AS e, slugify(CAST(NULL AS VARCHAR)) AS f",
    );
    assert_eq!(
        rows,
        vec![serde_json::json!({
            "a": "hello-world", "b": "a-b", "c": "n-c-d-123", "d": "", "e": null, "f": null
        })]
    );
}

/// slugify over a column with NULLs, in one batch, equals the same built
/// with SQL built-ins.
#[test]
fn slugify_over_a_column() {
    let sandbox = Sandbox::with(&["slugify"]);
    sandbox.add_cities();
    let rows = sandbox.rows(
        "SELECT slugify(name || ' (' || country || ')') AS slug, \
                lower(name) || '-' || lower(country) AS expected \
         FROM 'cities.csv' ORDER BY name",
    );
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0]["slug"], "amsterdam-nl");
    for row in &rows {
        assert_eq!(row["slug"], row["expected"], "{row}");
    }

    let rows = sandbox.rows(
        "SELECT i, slugify(s) AS slug FROM (VALUES (1, 'Ab Cd'), (2, NULL), (3, '¡¡X!!'), \
         (4, ''), (5, 'Déjà vu 2')) t(i, s) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "slug"),
        strings(&[Some("ab-cd"), None, Some("x"), Some(""), Some("d-j-vu-2")])
    );
}

// ---------------------------------------------------------------------------
// png_edge_color
// ---------------------------------------------------------------------------

/// The mean border colour of RGB, RGBA and grey PNGs made in the test.
#[test]
fn png_edge_color_of_encoded_images() {
    let sandbox = Sandbox::with(&["png_edge_color"]);
    // 4x3 RGB: ten distinct border pixels; the two inside pixels are far
    // off so that counting them would show.
    let rgb = Image::new(2, 4, 3, |x, y| {
        if y == 1 && (x == 1 || x == 2) {
            vec![255, 255, 255]
        } else {
            vec![
                (20 + 37 * x + 11 * y) as u8,
                (200 - 17 * x - 29 * y) as u8,
                (5 + 40 * x * y) as u8,
            ]
        }
    });
    // 3x3 RGBA with assorted alpha (ignored); a black centre.
    let rgba = Image::new(6, 3, 3, |x, y| {
        if (x, y) == (1, 1) {
            vec![0, 0, 0, 255]
        } else {
            vec![(60 * x + 7) as u8, (90 * y + 3) as u8, 250, (x * 100) as u8]
        }
    });
    // 5x4 grey.
    let grey = Image::new(0, 5, 4, |x, y| {
        vec![if (1..4).contains(&x) && (1..3).contains(&y) {
            0
        } else {
            (13 * x + 51 * y) as u8
        }]
    });
    // 1x1: the single pixel is the border.
    let single = Image::new(2, 1, 1, |_, _| vec![1, 128, 254]);
    let images = [&rgb, &rgba, &grey, &single];
    let expected: Vec<String> = images.iter().map(|i| i.expected_edge_color()).collect();
    // The images must tell a correct implementation from wrong ones.
    assert_ne!(expected[0], "#000000");
    assert!(expected.iter().all(|c| c.len() == 7));

    let values: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("({i}, decode('{}', 'hex'))", hex(&image.png())))
        .chain([format!("({}, NULL)", images.len())])
        .collect();
    let rows = sandbox.rows(&format!(
        "SELECT i, png_edge_color(png) AS color FROM (VALUES {}) t(i, png) ORDER BY i",
        values.join(", ")
    ));
    let mut want: Vec<Option<&str>> = expected.iter().map(|c| Some(c.as_str())).collect();
    want.push(None);
    assert_eq!(column(&rows, "color"), strings(&want));
}

/// A non-PNG input fails the query, naming the function and the module.
#[test]
fn png_edge_color_of_a_non_png_fails() {
    let sandbox = Sandbox::with(&["png_edge_color"]);
    let module = sandbox.module_path("png_edge_color");
    for input in ["deadbeef", "89504e470d0a1a0a0000"] {
        let run = sandbox
            .query(
                "csv",
                &[&format!(
                    "SELECT png_edge_color(decode('{input}', 'hex')) AS color"
                )],
            )
            .exit(1);
        run.one_error_line(&[&guest_failure("png_edge_color", &module), "not a valid PNG"]);
        assert_eq!(run.stdout, "");
    }
}

// ---------------------------------------------------------------------------
// The C example: luhn_valid, card_mask, digit_count
// ---------------------------------------------------------------------------

/// luhn_valid on known valid and invalid numbers, and NULL.
#[test]
fn luhn_valid_in_c() {
    let sandbox = Sandbox::with(&["luhn_c"]);
    let rows = sandbox.rows(
        "SELECT i, luhn_valid(s) AS ok FROM (VALUES (1, '4539 3195 0343 6467'), \
         (2, '8273 1232 7352 0569'), (3, '79927398713'), (4, '1234-5678'), (5, NULL), \
         (6, ''), (7, '4111111111111111')) t(i, s) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "ok"),
        serde_json::json!([true, false, true, false, null, false, true])
            .as_array()
            .unwrap()
            .clone()
    );
    let rows = sandbox.rows("SELECT luhn_valid('79927398713') AS a, luhn_valid(NULL) AS b");
    assert_eq!(rows, vec![serde_json::json!({"a": true, "b": null})]);
}

/// card_mask and digit_count, NULL in giving NULL out.
#[test]
fn card_mask_and_digit_count_in_c() {
    let sandbox = Sandbox::with(&["luhn_c"]);
    let rows = sandbox.rows(
        "SELECT i, card_mask(s) AS masked, digit_count(s) AS digits FROM (VALUES \
         (1, '4539 3195 0343 6467'), (2, '123'), (3, 'é 1234 5678'), (4, NULL), (5, '')) \
         t(i, s) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "masked"),
        strings(&[
            Some("**** **** **** 6467"),
            Some("123"),
            Some("é **** 5678"),
            None,
            Some("")
        ])
    );
    assert_eq!(
        column(&rows, "digits"),
        serde_json::json!([16, 3, 8, null, 0])
            .as_array()
            .unwrap()
            .clone()
    );
}

// ---------------------------------------------------------------------------
// Types: the `types` module
// ---------------------------------------------------------------------------

/// The query checking that `function` returns each of `values` (SQL
/// expressions, cast to `arrow_type`) unchanged: per row the result as
/// text, whether it is the input, and its type.
fn echo_query(function: &str, arrow_type: &str, values: &[&str]) -> String {
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, arrow_cast({v}, '{arrow_type}'))"))
        .collect();
    format!(
        "SELECT CAST(r AS VARCHAR) AS text, r IS NOT DISTINCT FROM v AS same, \
                arrow_typeof(r) AS type \
         FROM (SELECT i, v, {function}(v) AS r FROM (VALUES {}) t(i, v)) ORDER BY i",
        rows.join(", ")
    )
}

/// One echo case: function, Arrow type, inputs, their expected text.
type EchoCase<'a> = (&'a str, &'a str, &'a [&'a str], &'a [Option<&'a str>]);

/// Runs every case in one wasql and checks the round trips.
#[track_caller]
fn assert_echoes(sandbox: &Sandbox, cases: &[EchoCase]) {
    let queries: Vec<String> = cases
        .iter()
        .map(|(function, arrow_type, values, _)| echo_query(function, arrow_type, values))
        .collect();
    let sqls: Vec<&str> = queries.iter().map(String::as_str).collect();
    let run = sandbox.query("json", &sqls).success();
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), cases.len(), "{run:#?}");
    for ((function, arrow_type, _, texts), rows) in cases.iter().zip(&results) {
        assert_eq!(column(rows, "text"), strings(texts), "{function}");
        for row in rows {
            assert_eq!(row["same"], true, "{function}: {row}");
            assert_eq!(row["type"], *arrow_type, "{function}: {row}");
        }
    }
}

/// Signed and unsigned integers of every width, extremes and NULL.
#[test]
fn types_integers_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_i8",
                "Int8",
                &["-128", "127", "NULL", "0"],
                &[Some("-128"), Some("127"), None, Some("0")],
            ),
            (
                "echo_i16",
                "Int16",
                &["-32768", "32767", "NULL"],
                &[Some("-32768"), Some("32767"), None],
            ),
            (
                "echo_i32",
                "Int32",
                &["-2147483648", "2147483647", "NULL"],
                &[Some("-2147483648"), Some("2147483647"), None],
            ),
            (
                "echo_i64",
                "Int64",
                &["-9223372036854775808", "9223372036854775807", "NULL", "-1"],
                &[
                    Some("-9223372036854775808"),
                    Some("9223372036854775807"),
                    None,
                    Some("-1"),
                ],
            ),
            (
                "echo_u8",
                "UInt8",
                &["0", "255", "NULL"],
                &[Some("0"), Some("255"), None],
            ),
            (
                "echo_u16",
                "UInt16",
                &["0", "65535", "NULL"],
                &[Some("0"), Some("65535"), None],
            ),
            (
                "echo_u32",
                "UInt32",
                &["0", "4294967295", "NULL"],
                &[Some("0"), Some("4294967295"), None],
            ),
            (
                "echo_u64",
                "UInt64",
                &["18446744073709551615", "NULL", "0"],
                &[Some("18446744073709551615"), None, Some("0")],
            ),
        ],
    );
}

/// Floats: NaN, infinities, -0.0, extremes, subnormals and NULL.
#[test]
fn types_floats_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_f64",
                "Float64",
                &[
                    "'NaN'",
                    "'inf'",
                    "'-inf'",
                    "NULL",
                    "-0.0",
                    "1.7976931348623157e308",
                    "5e-324",
                    "0.1",
                ],
                &[
                    Some("NaN"),
                    Some("inf"),
                    Some("-inf"),
                    None,
                    Some("-0.0"),
                    Some("1.7976931348623157e308"),
                    Some("5e-324"),
                    Some("0.1"),
                ],
            ),
            (
                "echo_f32",
                "Float32",
                &["'NaN'", "'-inf'", "3.4028235e38", "-0.0", "1e-45", "NULL"],
                &[
                    Some("NaN"),
                    Some("-inf"),
                    Some("3.4028235e38"),
                    Some("-0.0"),
                    Some("1e-45"),
                    None,
                ],
            ),
        ],
    );
}

/// Booleans, unicode strings and binary with zero bytes, empty values and
/// NULL.
#[test]
fn types_bool_strings_and_binary_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_bool",
                "Boolean",
                &["true", "NULL", "false"],
                &[Some("true"), None, Some("false")],
            ),
            (
                "echo_utf8",
                "Utf8",
                &["'ünïcödé ✓ 日本語 🦀'", "''", "NULL", "'a,b\"c'"],
                &[Some("ünïcödé ✓ 日本語 🦀"), Some(""), None, Some("a,b\"c")],
            ),
        ],
    );
    let rows = sandbox.rows(
        "SELECT encode(r, 'hex') AS text, r IS NOT DISTINCT FROM v AS same, \
                arrow_typeof(r) AS type \
         FROM (SELECT i, v, echo_binary(v) AS r FROM (VALUES (1, decode('00ff0000', 'hex')), \
               (2, decode('', 'hex')), (3, NULL), (4, decode('000102fffe', 'hex'))) t(i, v)) \
         ORDER BY i",
    );
    assert_eq!(
        column(&rows, "text"),
        strings(&[Some("00ff0000"), Some(""), None, Some("000102fffe")])
    );
    assert!(
        rows.iter()
            .all(|r| r["same"] == true && r["type"] == "Binary")
    );
}

/// Dates and timestamps with and without a UTC zone.
#[test]
fn types_dates_and_timestamps_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_date32",
                "Date32",
                &[
                    "DATE '1970-01-01'",
                    "DATE '0001-01-01'",
                    "DATE '9999-12-31'",
                    "NULL",
                    "DATE '1969-12-31'",
                ],
                &[
                    Some("1970-01-01"),
                    Some("0001-01-01"),
                    Some("9999-12-31"),
                    None,
                    Some("1969-12-31"),
                ],
            ),
            (
                "echo_ts",
                "Timestamp(ns)",
                &[
                    "'2024-02-29T12:34:56.789012'",
                    "'1900-01-01T00:00:00.000001'",
                    "NULL",
                ],
                &[
                    Some("2024-02-29T12:34:56.789012"),
                    Some("1900-01-01T00:00:00.000001"),
                    None,
                ],
            ),
            (
                "echo_tsz",
                "Timestamp(ns, \"UTC\")",
                &[
                    "'2024-02-29T12:34:56.789012Z'",
                    "NULL",
                    "'1969-12-31T23:59:59Z'",
                ],
                &[
                    Some("2024-02-29T12:34:56.789012Z"),
                    None,
                    Some("1969-12-31T23:59:59Z"),
                ],
            ),
        ],
    );
}

/// Literal arguments: alone (folded at planning) and as a constant beside a
/// column (one value for every row of the batch).
#[test]
fn types_literal_arguments() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT echo_i64(42) AS a, echo_utf8('ü') AS b, echo_bool(true) AS c, \
                echo_f64(2.5) AS d, echo_date32(DATE '2024-02-29') AS e",
    );
    assert_eq!(
        rows,
        vec![serde_json::json!({"a": 42, "b": "ü", "c": true, "d": 2.5, "e": "2024-02-29"})]
    );
    let rows = sandbox.rows(
        "SELECT CAST(add_days(d, CAST(10 AS INT)) AS VARCHAR) AS later, \
                CAST(add_days(DATE '2024-01-01', n) AS VARCHAR) AS from_new_year \
         FROM (VALUES (1, DATE '2024-02-25', CAST(0 AS INT)), (2, NULL, CAST(-1 AS INT)), \
               (3, DATE '1999-12-31', NULL)) t(i, d, n) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "later"),
        strings(&[Some("2024-03-06"), None, Some("2000-01-10")])
    );
    assert_eq!(
        column(&rows, "from_new_year"),
        strings(&[Some("2024-01-01"), Some("2023-12-31"), None])
    );
}

/// DataFusion coerces arguments to the declared types: INT and SMALLINT
/// columns widen, INT becomes DOUBLE, string views and large strings arrive
/// as utf8, a timestamp in another zone arrives in UTC.
#[test]
fn types_arguments_are_coerced() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT echo_i64(x) AS wide, arrow_typeof(echo_i64(x)) AS wide_type, \
                echo_i32(s) AS small, echo_f64(x) AS float, \
                echo_utf8(arrow_cast(t, 'Utf8View')) AS view, \
                echo_utf8(arrow_cast(t, 'LargeUtf8')) AS large \
         FROM (VALUES (1, CAST(-7 AS INT), CAST(300 AS SMALLINT), 'ünï'), \
               (2, CAST(NULL AS INT), CAST(NULL AS SMALLINT), NULL)) v(i, x, s, t) ORDER BY i",
    );
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"wide": -7, "wide_type": "Int64", "small": 300, "float": -7.0,
                               "view": "ünï", "large": "ünï"}),
            serde_json::json!({"wide": null, "wide_type": "Int64", "small": null, "float": null,
                               "view": null, "large": null}),
        ]
    );
    let rows = sandbox.rows(
        "SELECT CAST(echo_tsz(arrow_cast(TIMESTAMP '2024-01-02 03:04:05', \
                'Timestamp(Microsecond, Some(\"+02:00\"))')) AS VARCHAR) AS utc",
    );
    assert_eq!(rows[0]["utc"], "2024-01-02T01:04:05Z");
}

/// add_days with INT arguments: nulls propagate, and an overflow is the
/// guest's error.
#[test]
fn add_days_adds_days() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT CAST(add_days(d, n) AS VARCHAR) AS day FROM (VALUES \
         (1, DATE '2024-02-28', CAST(1 AS INT)), (2, DATE '2023-02-28', CAST(1 AS INT)), \
         (3, DATE '1970-01-01', CAST(-1 AS INT)), (4, NULL, CAST(5 AS INT)), \
         (5, DATE '2000-01-01', CAST(NULL AS INT)), (6, DATE '2000-01-01', CAST(366 AS INT))) \
         t(i, d, n) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "day"),
        strings(&[
            Some("2024-02-29"),
            Some("2023-03-01"),
            Some("1969-12-31"),
            None,
            None,
            Some("2001-01-01"),
        ])
    );
    let run = sandbox
        .query(
            "csv",
            &["SELECT add_days(arrow_cast(2147483647, 'Date32'), CAST(1 AS INT)) AS d"],
        )
        .exit(1);
    run.one_error_line(&[
        &guest_failure("add_days", &sandbox.module_path("types")),
        "date out of range",
    ]);
}

/// Coercion is DataFusion's, as for built-ins: it never narrows, so an
/// integer literal (BIGINT) needs a cast for an `int32` argument, and the
/// error without one names the function and the accepted types
/// (udfs/ABI.md §5).
#[test]
fn int32_arguments_take_a_cast_literal() {
    let sandbox = Sandbox::with(&["types"]);
    let rows =
        sandbox.rows("SELECT CAST(add_days(DATE '2024-02-28', CAST(1 AS INT)) AS VARCHAR) AS day");
    assert_eq!(rows[0]["day"], "2024-02-29");
    let run = sandbox
        .query("csv", &["SELECT add_days(DATE '2024-02-28', 1)"])
        .exit(1);
    run.one_error_line(&["add_days", "Date32, Int32"]);
}

/// A `timestamp_us` function (SQL TIMESTAMP, udfs/ABI.md §5) takes a SQL
/// TIMESTAMP value, which DataFusion holds in nanoseconds.
#[test]
fn timestamp_functions_accept_sql_timestamps() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT CAST(echo_ts(TIMESTAMP '2024-01-02 03:04:05.123456') AS VARCHAR) AS t, \
                CAST(echo_tsz(TIMESTAMP '2024-01-02 03:04:05.123456') AS VARCHAR) AS tz",
    );
    assert_eq!(
        rows,
        vec![serde_json::json!({"t": "2024-01-02T03:04:05.123456",
                                "tz": "2024-01-02T03:04:05.123456Z"})]
    );
}

/// A guest `Result` error fails the query with the guest's message, naming
/// the function and the module; good rows of the same function still work.
#[test]
fn parse_int_error_names_function_and_module() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT parse_int(s) AS n FROM (VALUES (1, '1'), (2, ' -42 '), (3, NULL)) t(i, s) \
         ORDER BY i",
    );
    assert_eq!(
        column(&rows, "n"),
        serde_json::json!([1, -42, null])
            .as_array()
            .unwrap()
            .clone()
    );

    let module = sandbox.module_path("types");
    let run = sandbox
        .query("csv", &["SELECT parse_int('x') AS n"])
        .exit(1);
    run.one_error_line(&[
        &guest_failure("parse_int", &module),
        "cannot parse \"x\" as an integer",
    ]);
    // The same from a column, in the middle of a batch.
    let run = sandbox
        .query(
            "csv",
            &["SELECT parse_int(s) AS n FROM (VALUES ('1'), ('2x'), ('3')) t(s)"],
        )
        .exit(1);
    run.one_error_line(&[
        &guest_failure("parse_int", &module),
        "cannot parse \"2x\" as an integer",
    ]);
}

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

/// `\udf list` shows each function with its signature, module path and the
/// module's sha256 prefix.
#[test]
fn udf_list_shows_functions_signatures_modules_and_hashes() {
    let sandbox = Sandbox::with(&["slugify", "haversine", "luhn_c"]);
    let run = sandbox.query("json", &["\\udf list"]).success();
    let rows = json_results(&run.stdout).pop().unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["function"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {rows:?}"))
            .clone()
    };
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (function, module, signature) in [
        ("slugify", "slugify", "slugify(Utf8) -> Utf8"),
        (
            "haversine_km",
            "haversine",
            "haversine_km(Float64, Float64, Float64, Float64) -> Float64",
        ),
        ("luhn_valid", "luhn_c", "luhn_valid(Utf8) -> Boolean"),
        ("digit_count", "luhn_c", "digit_count(Utf8) -> Int64"),
        ("card_mask", "luhn_c", "card_mask(Utf8) -> Utf8"),
    ] {
        let row = find(function);
        let path = sandbox.module_path(module);
        let sha = sha256_of(Path::new(&path));
        assert_eq!(row["signature"], signature, "{row}");
        assert_eq!(row["module"], path.as_str(), "{row}");
        let listed = row["sha256"].as_str().unwrap();
        assert!(
            listed.len() >= 12 && sha.starts_with(listed),
            "{row}: sha256 {sha}"
        );
    }
}

/// `\df slugify` and SHOW FUNCTIONS show the function, described with its
/// module path.
#[test]
fn udfs_appear_in_function_listings() {
    let sandbox = Sandbox::with(&["slugify"]);
    let path = sandbox.module_path("slugify");
    let run = sandbox
        .query("json", &["\\df slugify", "SHOW FUNCTIONS LIKE 'slugify'"])
        .success();
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), 2, "{run:#?}");
    let df = &results[0];
    assert_eq!(df.len(), 1, "{df:?}");
    assert_eq!(df[0]["name"], "slugify");
    assert!(
        df[0]["description"].as_str().unwrap().contains(&path),
        "{df:?}"
    );
    let show = &results[1];
    assert!(!show.is_empty(), "{show:?}");
    for row in show {
        assert_eq!(row["function_name"], "slugify", "{row}");
        assert!(
            row["description"].as_str().unwrap().contains(&path),
            "{row}"
        );
    }
}

/// `\udf load DIR` in a script registers the modules for the statements
/// after it.
#[test]
fn udf_load_in_a_script() {
    let sandbox = Sandbox::with(&["slugify"]);
    let dir = sandbox.udfs_arg();
    let run = sandbox
        .run_stdin(
            &["--format", "csv"],
            &format!("\\udf load {dir}\nSELECT slugify('Loaded Later') AS s;\n"),
        )
        .success();
    assert_eq!(run.stdout, "s\nloaded-later\n");
    assert!(
        run.stderr.contains("Loaded 1 function") && run.stderr.contains(&dir),
        "{run:#?}"
    );
}

/// Without `--udfs` the functions do not exist.
#[test]
fn without_udfs_the_functions_do_not_exist() {
    let sandbox = Sandbox::with(&["slugify"]);
    let run = sandbox.run(&["-q", "-c", "SELECT slugify('x')"]).exit(1);
    run.one_error_line(&["slugify"]);
}

/// The config's `udf_dirs` loads modules at start-up like `--udfs`.
#[test]
fn config_udf_dirs_loads_modules() {
    let sandbox = Sandbox::with(&["slugify"]);
    let config = sandbox.write(
        "wasql.toml",
        format!("udf_dirs = [{:?}]\n", sandbox.udfs_arg()),
    );
    let run = sandbox
        .run(&[
            "--config",
            config.to_str().unwrap(),
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT slugify('From Config') AS s",
        ])
        .success();
    assert_eq!(run.stdout, "s\nfrom-config\n");
}

/// Bad `[udf]` limits in the config are usage errors.
#[test]
fn config_rejects_bad_udf_limits() {
    let sandbox = Sandbox::new();
    for (text, expected) in [
        ("[udf]\ntimeout_seconds = 0\n", "timeout_seconds"),
        ("[udf]\ntimeout_seconds = -1.5\n", "timeout_seconds"),
        ("[udf]\nmemory_limit = \"lots\"\n", "lots"),
    ] {
        let config = sandbox.write("bad.toml", text);
        let run = sandbox
            .run(&["--config", config.to_str().unwrap(), "-c", "SELECT 1"])
            .exit(2);
        run.one_error_line(&[expected]);
        assert_eq!(run.stdout, "", "{text}");
    }
}

/// The same module under two file names: start-up fails naming both
/// modules and the function.
#[test]
fn duplicate_function_at_start_up() {
    let sandbox = Sandbox::new();
    let first = sandbox.add_module_as("slugify", "a_slugify.wasm");
    let second = sandbox.add_module_as("slugify", "b_slugify.wasm");
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &first.display().to_string(),
        &second.display().to_string(),
        "'slugify'",
        "already defined",
    ]);
    assert_eq!(run.stdout, "");
}

/// The same with `\udf load` in a script: the statement fails (exit 1).
#[test]
fn duplicate_function_with_udf_load() {
    let sandbox = Sandbox::new();
    let first = sandbox.add_module_as("slugify", "a_slugify.wasm");
    let second = sandbox.add_module_as("slugify", "b_slugify.wasm");
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            &format!("\\udf load {}\nSELECT 1 AS one;\n", sandbox.udfs_arg()),
        )
        .exit(1);
    run.one_error_line(&[
        &first.display().to_string(),
        &second.display().to_string(),
        "'slugify'",
    ]);
    assert_eq!(run.stdout, "");

    // Loading a directory twice defines every function twice.
    let sandbox = Sandbox::with(&["slugify"]);
    let dir = sandbox.udfs_arg();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv", "--udfs", &dir],
            &format!("\\udf load {dir}\n"),
        )
        .exit(1);
    run.one_error_line(&["'slugify'", &sandbox.module_path("slugify")]);
}

/// A module built for ABI version 2 is refused, naming both versions.
#[test]
fn future_abi_is_refused() {
    let sandbox = Sandbox::with(&["hostile/future_abi"]);
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &sandbox.module_path("hostile/future_abi"),
        "ABI version 2",
        "supports version 1",
    ]);
}

/// A module declaring a type wasql cannot map is refused, naming the type.
#[test]
fn unmappable_type_is_refused() {
    let sandbox = Sandbox::with(&["hostile/weird_type"]);
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &sandbox.module_path("hostile/weird_type"),
        "weird_type",
        "float16",
    ]);
}

/// A file that is not WebAssembly is refused, naming it.
#[test]
fn garbage_module_is_refused() {
    let sandbox = Sandbox::new();
    let junk = sandbox.write("udfs/junk.wasm", "this is not a wasm module\n");
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &junk.display().to_string(),
        "not a valid WebAssembly module",
    ]);
    // An empty file too.
    fs::write(&junk, b"").unwrap();
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[&junk.display().to_string()]);
}

/// When one module of a directory fails, `\udf load` registers none of it.
#[test]
fn a_failed_udf_load_registers_nothing() {
    let sandbox = Sandbox::with(&["slugify"]);
    let junk = sandbox.write("udfs/zz_junk.wasm", "junk");
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv", "--continue-on-error"],
            &format!(
                "\\udf load {}\nSELECT slugify('x') AS s;\n\\udf list\n",
                sandbox.udfs_arg()
            ),
        )
        .exit(1);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(lines[0].contains(&junk.display().to_string()), "{run:#?}");
    assert!(lines[1].contains("slugify"), "{run:#?}");
    assert_eq!(
        run.stdout.trim(),
        "function,kind,signature,module,sha256,capabilities"
    );
}

/// A missing `--udfs` directory is a usage error naming it.
#[test]
fn missing_udfs_directory() {
    let sandbox = Sandbox::new();
    let missing = sandbox.work().join("no-such-dir");
    let run = sandbox
        .run(&["--udfs", missing.to_str().unwrap(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[&missing.display().to_string(), "cannot read"]);
    assert_eq!(run.stdout, "");
}

/// A function named like a built-in (scalar or aggregate) is refused.
#[test]
fn function_named_like_a_built_in_is_refused() {
    for name in ["abs", "sum"] {
        let sandbox = Sandbox::new();
        let module = sandbox.write(&format!("udfs/{name}.wasm"), tiny_module(name));
        let run = sandbox
            .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
            .exit(2);
        run.one_error_line(&[
            &module.display().to_string(),
            &format!("'{name}'"),
            "built-in",
        ]);
    }
    // The hand-made module itself is fine under another name: its call
    // fails without a message.
    let sandbox = Sandbox::new();
    let module = sandbox.write("udfs/tiny.wasm", tiny_module("tiny_fails"));
    let run = sandbox
        .query(
            "csv",
            &["SELECT tiny_fails(x) FROM generate_series(1, 2) t(x)"],
        )
        .exit(1);
    run.one_error_line(&[
        &guest_failure("tiny_fails", &module.display().to_string()),
        "without a message",
    ]);
}

/// Registration checks all it can without running a module: the memory
/// export, the signature of every export the host calls (allocator
/// included), and the types of WASI imports. `--udfs`, `\udf load` and
/// `CREATE FUNCTION` each refuse a module that fails one, with one line
/// naming it and what is wrong, and register nothing.
#[test]
fn registration_checks_memory_signatures_and_imports() {
    let mut unexported = tiny_scalar("tiny_fails");
    unexported.memory = None;
    let mut renamed = tiny_scalar("tiny_fails");
    renamed.memory = Some("mem");
    let no_memory = "it exports no memory named 'memory'";
    let cases = [
        ("tiny_fails", unexported, no_memory),
        ("tiny_fails", renamed, no_memory),
        (
            "tiny_fails",
            tiny_scalar("tiny_fails").retype("tiny_fn", &[I32], &[I32]),
            "export 'tiny_fn' has signature (i32) -> i32, \
             expected (i32, i32, i32, i32, i32) -> i32 (udfs/ABI.md §3)",
        ),
        (
            "tiny_sum",
            tiny_aggregate("tiny_sum", None).retype("tiny_agg_update", &[I32, I32], &[I32]),
            "export 'tiny_agg_update' has signature (i32, i32) -> i32, \
             expected (i32, i32, i32, i32, i32, i32, i32) -> i32 (udfs/ABI.md §8)",
        ),
        (
            "tiny_fails",
            tiny_scalar("tiny_fails").retype("wasql_alloc", &[I32], &[I32]),
            "export 'wasql_alloc' has signature (i32) -> i32, \
             expected (i32, i32) -> i32 (udfs/ABI.md §1)",
        ),
        (
            "tiny_fails",
            tiny_scalar("tiny_fails").import("wasi_snapshot_preview1", "fd_write", &[I32], &[I32]),
            "it imports 'wasi_snapshot_preview1::fd_write' as (i32) -> i32, \
             but wasql provides (i32, i32, i32, i32) -> i32",
        ),
    ];
    for (function, module, cause) in cases {
        let sandbox = Sandbox::new();
        let path = sandbox.write("udfs/bad.wasm", module.assemble());
        let run = sandbox
            .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
            .exit(2);
        let named = format!("UDF module '{}': {cause}", path.display());
        run.one_error_line(&[&named]);
        assert_eq!(run.stdout, "");
        for statement in [
            format!("\\udf load {}", sandbox.udfs_arg()),
            format!("CREATE FUNCTION f() LANGUAGE wasm AS 'udfs/bad.wasm#{function}';"),
        ] {
            let run = sandbox
                .run_stdin(
                    &["-q", "--format", "csv", "--continue-on-error"],
                    &format!("{statement}\n\\udf list\n"),
                )
                .exit(1);
            run.one_error_line(&["bad.wasm': ", cause]);
            assert_eq!(
                run.stdout.trim(),
                "function,kind,signature,module,sha256,capabilities",
                "{statement}: {run:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The sandbox: hostile modules
// ---------------------------------------------------------------------------

/// Runs `call` from hostile module `name` as the first statement of a script
/// (with `--continue-on-error`, 1 s deadline, 64 MiB memory), followed by an
/// ordinary query and a call of a good UDF. Asserts that only the first
/// fails, with one stderr line naming the function, the module and every
/// one of `causes`. With `recovers`, the same function is called again on
/// NULL input, which a fresh instance answers.
#[track_caller]
fn assert_contained(name: &str, call: &str, causes: &[&str], recovers: bool) -> Run {
    let module = format!("hostile/{name}");
    let sandbox = Sandbox::with(&[&module, "slugify"]);
    let config = sandbox.tight_limits();
    let mut script = format!(
        "SELECT {call} AS r FROM (SELECT x, 'v' || x AS s FROM generate_series(1, 3) t(x));\n\
         SELECT 40 + 2 AS v;\n\
         SELECT slugify('Still Works') AS s;\n"
    );
    let mut expected = "v\n42\ns\nstill-works\n".to_string();
    if recovers {
        script.push_str(&format!(
            "SELECT {name}(CAST(NULL AS BIGINT)) IS NULL AS again;\n"
        ));
        expected.push_str("again\ntrue\n");
    }
    let run = sandbox
        .run_stdin(
            &[
                "--config",
                &config,
                "--udfs",
                &sandbox.udfs_arg(),
                "-q",
                "--format",
                "csv",
                "--continue-on-error",
            ],
            &script,
        )
        .exit(1);
    let mut parts = vec![
        "<stdin>:1:".to_string(),
        guest_failure(name, &sandbox.module_path(&module)),
    ];
    parts.extend(causes.iter().map(|c| c.to_string()));
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    run.one_error_line(&parts);
    assert_eq!(run.stdout, expected, "{run:#?}");
    run
}

/// An endless loop is stopped at the deadline, quickly.
#[test]
fn hostile_spin_times_out() {
    let run = assert_contained("spin", "spin(x)", &["timed out", "1.0 s"], true);
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
}

/// `[udf.modules.NAME]` limits override the `[udf]` defaults for that
/// module only.
#[test]
fn per_module_limits_override_the_defaults() {
    let sandbox = Sandbox::with(&["hostile/spin", "hostile/balloon"]);
    let config = sandbox.write(
        "limits.toml",
        "[udf]\ntimeout_seconds = 30\nmemory_limit = \"64M\"\n\
         [udf.modules.spin]\ntimeout_seconds = 0.5\n\
         [udf.modules.balloon]\nmemory_limit = \"32M\"\n",
    );
    let config = config.to_str().unwrap();
    let udfs = sandbox.udfs_arg();
    let run = |sql: &str| sandbox.run(&["--config", config, "--udfs", &udfs, "-q", "-c", sql]);
    let spin = run("SELECT spin(x) FROM generate_series(1, 2) t(x)").exit(1);
    spin.one_error_line(&[
        &guest_failure("spin", &sandbox.module_path("hostile/spin")),
        "timed out after 0.5 s",
    ]);
    assert!(
        spin.elapsed < Duration::from_secs(8),
        "took {:?}",
        spin.elapsed
    );
    let balloon = run("SELECT balloon(x) FROM generate_series(1, 2) t(x)").exit(1);
    balloon.one_error_line(&[
        &guest_failure("balloon", &sandbox.module_path("hostile/balloon")),
        "memory limit of 32 MiB",
    ]);
}

/// Endless allocation stops at the memory cap.
#[test]
fn hostile_balloon_hits_the_memory_limit() {
    assert_contained("balloon", "balloon(x)", &["memory limit", "64 MiB"], true);
}

/// A guest panic fails the query with the panic message.
#[test]
fn hostile_boom_panic_is_reported() {
    assert_contained("boom", "boom(x)", &["boom at row 0"], true);
}

/// Unbounded recursion is a trap, not a crash of wasql.
#[test]
fn hostile_deep_recursion_is_contained() {
    let run = assert_contained("deep", "deep(x)", &[], true);
    let line = run.stderr.to_lowercase();
    assert!(
        line.contains("stack overflow") || line.contains("out of bounds"),
        "{run:#?}"
    );
}

/// String offsets past the guest's memory are refused.
#[test]
fn hostile_bad_offsets_are_refused() {
    assert_contained("bad_offsets", "bad_offsets(s)", &["invalid result"], false);
}

/// A buffer pointer outside the guest's memory is refused.
#[test]
fn hostile_bad_pointer_is_refused() {
    assert_contained("bad_pointer", "bad_pointer(x)", &["invalid result"], false);
}

/// Strings that are not UTF-8 are refused.
#[test]
fn hostile_bad_utf8_is_refused() {
    assert_contained(
        "bad_utf8",
        "bad_utf8(s)",
        &["invalid result", "value 0 is not valid UTF-8"],
        false,
    );
}

/// A result with the wrong number of rows is refused.
#[test]
fn hostile_bad_length_is_refused() {
    assert_contained(
        "bad_length",
        "bad_length(x)",
        &["invalid result", "length is 8, expected 3"],
        false,
    );
}

/// The guest can read no file, no environment variable and open no socket.
#[test]
fn hostile_sneaky_is_refused_files_env_and_sockets() {
    let sandbox = Sandbox::with(&["hostile/sneaky"]);
    let secret = sandbox.write("secret.txt", "TOP-SECRET-CONTENTS\n");
    // Something to connect to, where that is possible.
    let _listener = std::net::TcpListener::bind("127.0.0.1:80").ok();
    let config = sandbox.tight_limits();
    let sql = format!(
        "SELECT sneaky(p) AS r FROM (VALUES ('{}'), ('secret.txt'), ('/etc/hostname')) t(p)",
        secret.display()
    );
    let run = sandbox
        .run(&[
            "--config",
            &config,
            "--udfs",
            &sandbox.udfs_arg(),
            "-q",
            "--format",
            "json",
            "-c",
            &sql,
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let r = row["r"].as_str().unwrap();
        assert!(r.starts_with("file: error "), "{r}");
        assert!(r.contains("; env: none; "), "{r}");
        assert!(r.contains("; tcp: error "), "{r}");
        assert!(!r.contains("SECRET") && !r.contains("connected"), "{r}");
    }
    assert_eq!(run.stderr, "");
}

/// What a guest prints is captured (not mixed into wasql's output) and shown
/// by `\udf log`.
#[test]
fn hostile_chatty_output_is_captured_for_udf_log() {
    let sandbox = Sandbox::with(&["hostile/chatty", "slugify"]);
    let run = sandbox
        .query(
            "csv",
            &[
                "SELECT chatty(x) AS r FROM generate_series(1, 3) t(x) ORDER BY r",
                "\\udf log chatty",
            ],
        )
        .success();
    assert_eq!(run.stderr, "", "{run:#?}");
    let (result, log) = run.stdout.split_at("r\n1\n2\n3\n".len());
    assert_eq!(result, "r\n1\n2\n3\n", "{run:#?}");
    for n in 1..=3 {
        assert!(log.contains(&format!("chatty stdout: {n}\n")), "{log}");
        assert!(log.contains(&format!("chatty stderr: {n}\n")), "{log}");
    }
    assert!(
        log.contains(&sandbox.module_path("hostile/chatty")),
        "{log}"
    );
    // Another module's log does not have chatty's lines.
    let run = sandbox.query("csv", &["\\udf log slugify"]).success();
    assert!(!run.stdout.contains("chatty"), "{run:#?}");
}

/// Asserts that `text` has no control character but newlines and tabs: no
/// C0 (ESC, NUL, BEL, CR, ...), no DEL, no C1.
#[track_caller]
fn assert_printable(what: &str, text: &str) {
    let controls: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(
        controls.is_empty(),
        "{what} has control characters {controls:?}: {text:?}"
    );
}

/// A guest's error messages and output, full of escape sequences and other
/// control characters, reach the terminal and the `-o` file escaped; a 64
/// KiB error message is cut to 4 KiB with a note; the session goes on.
#[test]
fn hostile_garbler_text_is_escaped_and_capped() {
    let sandbox = Sandbox::with(&["hostile/garbler"]);
    let module = sandbox.module_path("hostile/garbler");
    let out = sandbox.work().join("out.txt");
    let run = sandbox
        .run_stdin(
            &[
                "--udfs",
                &sandbox.udfs_arg(),
                "-q",
                "--format",
                "csv",
                "--continue-on-error",
                "-o",
                out.to_str().unwrap(),
            ],
            "SELECT garble_error(x) AS r FROM generate_series(1, 1) t(x);\n\
             SELECT garble_long(x) AS r FROM generate_series(1, 1) t(x);\n\
             SELECT garble_output(x) AS r FROM generate_series(1, 1) t(x);\n\
             SELECT 40 + 2 AS v;\n\
             \\udf log garbler\n",
        )
        .exit(1);
    assert_printable("stderr", &run.stderr);
    assert_eq!(run.stdout, "", "results and the log went to -o: {run:#?}");
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 3, "one line per failed statement: {run:#?}");
    let nasty = "title\\x1b]0;pwned\\x07 clear\\x1b[2J nul\\x00 csi\\u{9b}31m del\\x7f \
                 bell\\x07 nl\\n cr\\r tab\\t end";

    let error = lines[0];
    assert!(error.starts_with("<stdin>:1: "), "{error}");
    assert!(
        error.contains(&guest_failure("garble_error", &module)),
        "{error}"
    );
    assert!(error.contains(&format!("garbled 1: {nasty}")), "{error}");

    let long = lines[1];
    assert!(long.starts_with("<stdin>:2: "), "{long}");
    assert!(long.contains("long 1:é\\x1bé\\x1b"), "{long}");
    let size = long
        .rsplit_once(" … (cut: the guest's message was ")
        .and_then(|(_, note)| note.strip_suffix(" bytes)"))
        .and_then(|n| n.parse::<usize>().ok());
    assert!(size.is_some_and(|n| n > 65_000), "{long}");
    assert!(!long.contains("THE END"));
    assert!(long.len() <= 4608, "{} bytes", long.len());

    let panic = lines[2];
    assert!(panic.starts_with("<stdin>:3: "), "{panic}");
    assert!(panic.contains("[guest stderr: "), "{panic}");
    assert!(
        panic.contains("panic 1: title\\x1b]0;pwned\\x07"),
        "{panic}"
    );
    assert!(panic.contains("\\x1b[7m\\x1b[7m"), "{panic}");
    assert!(
        panic.len() <= 2048,
        "a short stderr tail: {} bytes",
        panic.len()
    );

    let written = fs::read_to_string(&out).unwrap();
    assert_printable("the -o file", &written);
    let log = written
        .strip_prefix("v\n42\n")
        .unwrap_or_else(|| panic!("the next statement ran: {written:?}"));
    assert!(
        log.starts_with(&format!("-- {module} stdout:\nstdout 1: ")),
        "{log}"
    );
    // Lines and tabs are kept, every other control is escaped.
    let shown = nasty.replace("\\n", "\n").replace("\\t", "\t");
    assert!(log.contains(&format!("stdout 1: {shown}\n")), "{log}");
    assert!(log.contains(&format!("stderr 1: {shown}\n")), "{log}");
    assert!(
        log.contains(&format!("panic 1: {shown}\\x1b[7m\\x1b[7m")),
        "{log}"
    );
}

// ---------------------------------------------------------------------------
// Many batches and partitions
// ---------------------------------------------------------------------------

/// slugify over 200,000 rows (many batches, two partitions) equals the same
/// computed with SQL built-ins, row by row and in total.
#[test]
fn slugify_over_many_batches_and_partitions() {
    let sandbox = Sandbox::with(&["slugify"]);
    let run = sandbox
        .run(&[
            "--udfs",
            &sandbox.udfs_arg(),
            "--target-partitions",
            "2",
            "-q",
            "--format",
            "json",
            "-c",
            "WITH s AS (SELECT 'Item #' || x || ' -- Ünï ' || (x % 7) \
                 || CASE WHEN x % 3 = 0 THEN '!!' ELSE ' Tail' END AS v \
                 FROM generate_series(1, 200000) t(x)), \
             r AS (SELECT slugify(v) AS slug, \
                   lower(btrim(regexp_replace(v, '[^A-Za-z0-9]+', '-', 'g'), '-')) AS expected \
                   FROM s) \
             SELECT count(*) AS n, sum(length(slug)) AS got, sum(length(expected)) AS want, \
                    count(*) FILTER (WHERE slug <> expected) AS different FROM r",
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    assert_eq!(rows[0]["n"], 200000, "{rows:?}");
    assert_eq!(rows[0]["different"], 0, "{rows:?}");
    assert_eq!(rows[0]["got"], rows[0]["want"], "{rows:?}");
    assert!(rows[0]["got"].as_i64().unwrap() > 200000 * 10, "{rows:?}");
}

/// haversine_km over 200,000 rows in two partitions equals the formula.
#[test]
fn haversine_over_many_batches_and_partitions() {
    let sandbox = Sandbox::with(&["haversine"]);
    let sql = format!(
        "WITH p AS (SELECT (x % 1201) / 10.0 - 60.0 AS lat1, (x * 7 % 1201) / 10.0 - 60.0 AS lon1, \
                    (x * 13 % 1201) / 10.0 - 60.0 AS lat2, (x * 31 % 1201) / 10.0 - 60.0 AS lon2 \
                    FROM generate_series(1, 200000) t(x)) \
         SELECT count(*) AS n, count(d) AS not_null, max(abs(d - f)) AS max_diff \
         FROM (SELECT haversine_km(lat1, lon1, lat2, lon2) AS d, {} AS f FROM p)",
        haversine_sql("lat1", "lon1", "lat2", "lon2")
    );
    let run = sandbox
        .run(&[
            "--udfs",
            &sandbox.udfs_arg(),
            "--target-partitions",
            "2",
            "-q",
            "--format",
            "json",
            "-c",
            &sql,
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    assert_eq!(rows[0]["n"], 200000, "{rows:?}");
    assert_eq!(rows[0]["not_null"], 200000, "{rows:?}");
    let max_diff = float(&rows[0]["max_diff"]);
    assert!(max_diff < 1e-9, "max difference {max_diff} km");
}

// ---------------------------------------------------------------------------
// The compiled-code cache
// ---------------------------------------------------------------------------

/// The `.cwasm` files in a module cache, by name.
fn cached_files(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().to_string(),
                entry.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

const CACHE_QUERY: &str = "SELECT luhn_valid('79927398713') AS ok, slugify('Cache Me') AS s";

/// A first run writes `<sha256>-*.cwasm` for each loaded module; a second
/// run uses them as they are and gives the same results.
#[test]
fn compiled_modules_are_cached_by_sha256() {
    let sandbox = Sandbox::cold();
    let luhn = sandbox.add_module("luhn_c");
    let slugify = sandbox.add_module("slugify");
    assert!(!sandbox.modules_cache().exists());

    let first = sandbox.query("csv", &[CACHE_QUERY]).success();
    assert_eq!(first.stdout, "ok,s\ntrue,cache-me\n");
    let files = cached_files(&sandbox.modules_cache());
    assert_eq!(files.len(), 2, "{files:?}");
    for module in [&luhn, &slugify] {
        let sha = sha256_of(module);
        assert!(
            files
                .iter()
                .any(|(name, _)| name.starts_with(&format!("{sha}-")) && name.ends_with(".cwasm")),
            "no cache entry for {} ({sha}): {files:?}",
            module.display()
        );
    }

    let second = sandbox.query("csv", &[CACHE_QUERY]).success();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(
        cached_files(&sandbox.modules_cache()),
        files,
        "the cache was rewritten instead of used"
    );
}

/// A corrupt cache entry is not trusted: the module is compiled again.
#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let sandbox = Sandbox::cold();
    let luhn = sandbox.add_module("luhn_c");
    let query = "SELECT luhn_valid('79927398713') AS ok, card_mask('12345') AS m";
    let first = sandbox.query("csv", &[query]).success();
    assert_eq!(first.stdout, "ok,m\ntrue,*2345\n");
    let sha = sha256_of(&luhn);
    let files = cached_files(&sandbox.modules_cache());
    let (name, _) = files
        .iter()
        .find(|(name, _)| name.starts_with(&sha))
        .unwrap_or_else(|| panic!("no cache entry: {files:?}"));
    let entry = sandbox.modules_cache().join(name);
    fs::write(&entry, b"not compiled code").unwrap();

    let second = sandbox.query("csv", &[query]).success();
    assert_eq!(second.stdout, first.stdout);
    assert_ne!(
        fs::read(&entry).unwrap(),
        b"not compiled code",
        "the corrupt entry was not replaced"
    );
}

/// The numeric module's per-row and batch forms (the benchmark's functions,
/// whose batch form uses WebAssembly SIMD) equal SQL built-ins over 200,000
/// rows: strings of every length from 0 to 199 bytes (so every SIMD step and
/// tail), nulls, caseless non-ASCII characters, and constant arguments.
#[test]
fn numeric_module_matches_builtins_over_many_batches() {
    let sandbox = Sandbox::with(&["numeric"]);
    let sql = "WITH s AS (SELECT x, \
                   CASE WHEN x % 11 = 0 THEN NULL \
                   ELSE substr(repeat('abcXYZ-09 €→中 qz{`@[', 10), 1 + x % 5, x % 200) END AS c, \
                   CASE WHEN x % 13 = 0 THEN NULL ELSE x * 1.5 END AS p, \
                   (x % 10) / 100.0 AS d, (x % 8) / 100.0 AS t \
                   FROM generate_series(1, 200000) g(x)) \
               SELECT count(*) AS n, \
                 count(*) FILTER (WHERE upper_ascii(c) IS DISTINCT FROM upper(c)) AS upper_row, \
                 count(*) FILTER (WHERE upper_ascii_batch(c) IS DISTINCT FROM upper(c)) AS upper_batch, \
                 count(*) FILTER (WHERE upper_ascii_batch('aZ€b') <> 'AZ€B') AS upper_constant, \
                 count(*) FILTER (WHERE abs(price_net(p, d, t) - p * (1 - d) * (1 + t)) > 1e-9 \
                                  OR (price_net(p, d, t) IS NULL) <> (p IS NULL)) AS price_row, \
                 count(*) FILTER (WHERE abs(price_net_batch(p, d, t) - p * (1 - d) * (1 + t)) > 1e-9 \
                                  OR (price_net_batch(p, d, t) IS NULL) <> (p IS NULL)) AS price_batch, \
                 count(*) FILTER (WHERE abs(price_net_batch(p, 0.5, t) - p * 0.5 * (1 + t)) > 1e-9) \
                   AS price_constant, \
                 sum(length(upper_ascii_batch(c))) AS chars, count(upper_ascii(c)) AS not_null \
               FROM s";
    let run = sandbox
        .run(&[
            "--udfs",
            &sandbox.udfs_arg(),
            "--target-partitions",
            "2",
            "-q",
            "--format",
            "json",
            "-c",
            sql,
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    let row = &rows[0];
    assert_eq!(row["n"], 200000, "{row}");
    for mismatches in [
        "upper_row",
        "upper_batch",
        "upper_constant",
        "price_row",
        "price_batch",
        "price_constant",
    ] {
        assert_eq!(row[mismatches], 0, "{mismatches}: {row}");
    }
    assert_eq!(row["not_null"], 200000 - 200000 / 11, "{row}");
    assert!(row["chars"].as_i64().unwrap() > 200000 * 50, "{row}");
}

/// The SDK also targets wasm32-unknown-unknown: modules with no WASI
/// imports at all (udfs/build.sh builds two examples for it) load and give
/// the same answers.
#[test]
fn modules_built_for_wasm32_unknown_unknown() {
    let bytes = fs::read(module_file("unknown/slugify")).unwrap();
    assert!(
        !bytes.windows(22).any(|w| w == b"wasi_snapshot_preview1"),
        "an unknown-unknown module imports nothing from WASI"
    );
    let sandbox = Sandbox::with(&["unknown/haversine", "unknown/slugify"]);
    let rows = sandbox.rows(&format!(
        "SELECT slugify('Hello, Wörld -- 2!') AS s, slugify(NULL) AS n, \
                abs(haversine_km(52.52, 13.405, 48.8566, 2.3522) - {}) < 1e-9 AS same",
        haversine_sql("52.52", "13.405", "48.8566", "2.3522")
    ));
    assert_eq!(
        rows,
        vec![serde_json::json!({"s": "hello-w-rld-2", "n": null, "same": true})]
    );
}

/// Hostile uses of the network import: computing between empty fetches
/// still hits the per-call deadline (a fetch does not reset it), and a call
/// passing 10,000 requests over one 1 MiB body is refused before the host
/// copies anything; wasql carries on.
#[test]
fn hostile_network_use_is_contained() {
    let sandbox = Sandbox::with(&["hostile/net_abuse"]);
    let config = sandbox.tight_limits();
    let run = sandbox
        .run_stdin(
            &[
                "--config",
                &config,
                "--udfs",
                &sandbox.udfs_arg(),
                "-q",
                "--format",
                "csv",
                "--continue-on-error",
            ],
            "SELECT net_spin(1) AS r;\nSELECT net_flood(1) AS r;\nSELECT 40 + 2 AS v;\n",
        )
        .exit(1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(
        lines[0].contains("function net_spin") && lines[0].contains("timed out after 1.0 s"),
        "{run:#?}"
    );
    assert!(
        lines[1].contains("function net_flood") && lines[1].contains("at most 64 MiB"),
        "{run:#?}"
    );
    assert_eq!(run.stdout, "v\n42\n", "{run:#?}");
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: helpers
// ---------------------------------------------------------------------------

/// Whether two JSON values are equal, numbers within a relative 1e-12.
fn json_close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * y.abs().max(1.0)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_close(v, w))
        }
        _ => a == b,
    }
}

/// Asserts that `got` are exactly the rows `want`, in order, numbers
/// within a relative 1e-12 (a geometric mean goes through `ln` and `exp`).
#[track_caller]
fn assert_rows(what: &str, got: &[Value], want: &[Value]) {
    assert!(
        json_close(&Value::Array(got.to_vec()), &Value::Array(want.to_vec())),
        "{what}:\ngot  {}\nwant {}",
        Value::Array(got.to_vec()),
        Value::Array(want.to_vec())
    );
}

/// Runs `sqls` (one `-c` each) in one wasql, all of which must succeed,
/// and returns the rows of each one but the `CREATE` statements.
#[track_caller]
fn results_of(sandbox: &Sandbox, sqls: &[&str]) -> Vec<Vec<Value>> {
    let run = sandbox.query("json", sqls).success();
    assert_eq!(run.stderr, "", "{run:#?}");
    let results = json_results(&run.stdout);
    let queries = sqls.iter().filter(|s| !s.starts_with("CREATE")).count();
    assert_eq!(results.len(), queries, "{run:#?}");
    results
}

/// Ordinary statements run after failing ones (they need the `weighted_c`
/// and `tables` modules), and what they print as CSV.
const STILL_WORKS: &str = "SELECT 40 + 2 AS v;\n\
     SELECT weighted_avg(v, w) AS a FROM (VALUES (1.0, 1.0), (4.0, 3.0)) t(v, w);\n\
     SELECT token FROM tokenize('Still works') ORDER BY pos;\n";
const STILL_WORKS_OUTPUT: &str = "v\n42\na\n3.25\ntoken\nstill\nworks\n";

/// Runs the `failing` statements, then [`STILL_WORKS`], as one script in
/// one wasql (`--continue-on-error`, config `config`). Asserts that
/// statement `i` fails with one stderr line, at `<stdin>:i:`, containing
/// every one of its parts, and that the ordinary statements after them
/// print what they should.
#[track_caller]
fn assert_failures_contained(
    sandbox: &Sandbox,
    config: &str,
    failing: &[(String, Vec<String>)],
) -> Run {
    let mut script = String::new();
    for (sql, _) in failing {
        assert!(!sql.contains('\n'), "one line per statement: {sql}");
        script.push_str(sql);
        script.push_str(";\n");
    }
    script.push_str(STILL_WORKS);
    let run = sandbox
        .run_stdin(
            &[
                "--config",
                config,
                "--udfs",
                &sandbox.udfs_arg(),
                "-q",
                "--format",
                "csv",
                "--continue-on-error",
            ],
            &script,
        )
        .exit(1);
    let lines = run.stderr_lines();
    assert_eq!(
        lines.len(),
        failing.len(),
        "one error line per failing statement: {run:#?}"
    );
    for (index, ((sql, parts), line)) in failing.iter().zip(&lines).enumerate() {
        let at = format!("<stdin>:{}:", index + 1);
        assert!(line.contains(&at), "{sql}\nerror not at {at}: {line}");
        for part in parts {
            assert!(
                line.contains(part.as_str()),
                "{sql}\nerror lacks {part:?}: {line}"
            );
        }
    }
    assert_eq!(run.stdout, STILL_WORKS_OUTPUT, "{run:#?}");
    run
}

/// How an aggregate is called, which decides how wasql drives the guest
/// (udfs/ABI.md §8).
#[derive(Clone, Copy, Debug)]
enum AggForm {
    /// `GROUP BY`: a `GroupsAccumulator` over one guest accumulator.
    GroupBy,
    /// No `GROUP BY`: one group, its state kept on the host.
    OneGroup,
    /// `agg(DISTINCT x)`.
    Distinct,
    /// `agg(x) OVER (PARTITION BY k ORDER BY x)`.
    Window,
}

/// A call of aggregate `function` in `form` over the DOUBLEs 1..=`rows`.
fn aggregate_call(function: &str, form: AggForm, rows: u32) -> String {
    let from = format!(
        "FROM (SELECT CAST(x AS DOUBLE) AS x, x % 2 AS k FROM generate_series(1, {rows}) t(x))"
    );
    match form {
        AggForm::GroupBy => format!("SELECT k, {function}(x) AS r {from} GROUP BY k ORDER BY k"),
        AggForm::OneGroup => format!("SELECT {function}(x) AS r {from}"),
        AggForm::Distinct => format!("SELECT {function}(DISTINCT x) AS r {from}"),
        AggForm::Window => {
            format!("SELECT {function}(x) OVER (PARTITION BY k ORDER BY x) AS r {from}")
        }
    }
}

/// Calls hostile aggregate `function` (module `hostile/agg_abuse`) over
/// `rows` rows in each of `forms`, in one wasql with 1 s deadlines and 64
/// MiB of memory; each call must fail naming the function, the module and
/// every one of `causes`, and wasql then runs ordinary queries.
#[track_caller]
fn assert_hostile_aggregate(function: &str, rows: u32, forms: &[AggForm], causes: &[&str]) -> Run {
    let sandbox = Sandbox::with(&["hostile/agg_abuse", "weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let failure = guest_failure(function, &sandbox.module_path("hostile/agg_abuse"));
    let failing: Vec<(String, Vec<String>)> = forms
        .iter()
        .map(|&form| {
            let mut parts = vec![failure.clone()];
            parts.extend(causes.iter().map(|c| c.to_string()));
            (aggregate_call(function, form, rows), parts)
        })
        .collect();
    assert_failures_contained(&sandbox, &config, &failing)
}

/// Calls hostile table function `function` (module `hostile/table_abuse`)
/// in each of `calls` (`{f}` stands for the function); each must fail naming
/// the function, the module, "invalid result" and every one of its causes.
#[track_caller]
fn assert_hostile_table(function: &str, calls: &[(&str, &[&str])]) {
    let sandbox = Sandbox::with(&["hostile/table_abuse", "weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let failure = guest_failure(function, &sandbox.module_path("hostile/table_abuse"));
    let failing: Vec<(String, Vec<String>)> = calls
        .iter()
        .map(|(call, causes)| {
            let mut parts = vec![failure.clone(), "invalid result".to_string()];
            parts.extend(causes.iter().map(|c| c.to_string()));
            (call.replace("{f}", function), parts)
        })
        .collect();
    assert_failures_contained(&sandbox, &config, &failing);
}

/// Three documents for the table functions, each row its own part.
const DOCS: &str = "(VALUES (1, 'a b'), (2, 'c'), (3, 'd')) d(id, body)";

/// A minimal ABI v1 module describing one aggregate `name(float64) ->
/// float64` with exports `tiny_agg_new` ... `tiny_agg_drop`, leaving out
/// the one ending in `omit`. Every call but `E_new` and `E_drop` fails
/// without a message.
fn tiny_aggregate(name: &str, omit: Option<&str>) -> TinyModule {
    let all = [
        ("_new", 0, 1, ONE),
        ("_update", 7, 1, ONE),
        ("_merge", 6, 1, ONE),
        ("_state", 4, 1, ONE),
        ("_finish", 4, 1, ONE),
        ("_drop", 1, 0, NOTHING),
    ];
    let functions = all
        .into_iter()
        .filter(|(suffix, ..)| omit != Some(*suffix))
        .map(|(suffix, params, results, body)| {
            tiny_function(&format!("tiny_agg{suffix}"), params, results, body)
        })
        .collect();
    TinyModule::new(
        functions,
        format!(
            "{{\"abi\":1,\"name\":\"{name}\",\"kind\":\"aggregate\",\"export\":\"tiny_agg\",\"args\":[\"float64\"],\"returns\":\"float64\"}}\n"
        ),
    )
}

/// [`tiny_aggregate`] in the binary format.
fn tiny_aggregate_module(name: &str, omit: Option<&str>) -> Vec<u8> {
    tiny_aggregate(name, omit).assemble()
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: hostile modules
// ---------------------------------------------------------------------------

/// An aggregate whose `E_update` never returns is stopped at the deadline,
/// with and without `GROUP BY`, with DISTINCT and in a window.
#[test]
fn hostile_aggregate_spin_times_out() {
    use AggForm::*;
    let run = assert_hostile_aggregate(
        "hostile_agg_spin",
        3,
        &[GroupBy, OneGroup, Distinct, Window],
        &["timed out after 1.0 s"],
    );
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
}

/// An aggregate keeping 1 MiB per row stops at the memory cap, whether
/// its groups live in a `GroupsAccumulator` or one group's update gets 200
/// rows at once.
#[test]
fn hostile_aggregate_balloon_hits_the_memory_limit() {
    use AggForm::*;
    assert_hostile_aggregate(
        "hostile_agg_balloon",
        200,
        &[GroupBy, OneGroup],
        &["memory limit of 64 MiB"],
    );
}

/// A panic in `E_finish` fails the query with the guest's panic message.
#[test]
fn hostile_aggregate_panic_in_finish_is_reported() {
    use AggForm::*;
    assert_hostile_aggregate(
        "hostile_agg_panic",
        3,
        &[GroupBy, OneGroup, Distinct, Window],
        &["hostile_agg_panic: finish after"],
    );
}

/// An error shows what the guest wrote to stderr during the failing call,
/// not what an earlier failure of the same module wrote.
#[test]
fn errors_show_only_the_guest_output_of_their_own_call() {
    use AggForm::*;
    let sandbox = Sandbox::with(&["hostile/agg_abuse", "weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let module = sandbox.module_path("hostile/agg_abuse");
    let call = |function: &str, cause: &str| {
        (
            aggregate_call(function, GroupBy, 3),
            vec![guest_failure(function, &module), cause.to_string()],
        )
    };
    let run = assert_failures_contained(
        &sandbox,
        &config,
        &[
            call("hostile_agg_panic", "finish after"),
            call("bad_agg_state_offsets", "invalid result"),
        ],
    );
    let later = run
        .stderr
        .lines()
        .find(|line| line.contains("function bad_agg_state_offsets"))
        .expect("the second error");
    assert!(!later.contains("panicked"), "{later}");
}

/// A state array whose offsets run outside guest memory is an invalid
/// result, in every path that asks for states.
#[test]
fn hostile_aggregate_invalid_state_array_is_refused() {
    use AggForm::*;
    assert_hostile_aggregate(
        "bad_agg_state_offsets",
        3,
        &[GroupBy, OneGroup, Window],
        &["invalid result", "outside guest memory"],
    );
}

/// A 2 MiB state is over the default 1 MiB cap: the error gives the size,
/// the cap and the setting to raise. Raising `max_state_size` in `[udf]`,
/// or for the module alone, lets the same queries through.
#[test]
fn hostile_aggregate_oversized_state_hits_the_cap_until_raised() {
    use AggForm::*;
    let forms = [GroupBy, OneGroup, Window];
    assert_hostile_aggregate(
        "hostile_agg_big_state",
        3,
        &forms,
        &["2097152 bytes", "cap of 1048576 bytes", "max_state_size"],
    );

    let sandbox = Sandbox::with(&["hostile/agg_abuse"]);
    let queries: Vec<String> = forms
        .iter()
        .map(|&form| aggregate_call("hostile_agg_big_state", form, 3))
        .collect();
    for (file, text) in [
        ("raised.toml", "[udf]\nmax_state_size = \"4M\"\n"),
        (
            "module.toml",
            "[udf]\nmax_state_size = \"1M\"\n[udf.modules.agg_abuse]\nmax_state_size = \"3M\"\n",
        ),
    ] {
        let config = sandbox.write(file, text);
        let udfs = sandbox.udfs_arg();
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            "--udfs",
            &udfs,
            "-q",
            "--format",
            "json",
        ];
        for query in &queries {
            args.extend(["-c", query.as_str()]);
        }
        let run = sandbox.run(&args).success();
        let results = json_results(&run.stdout);
        assert_eq!(
            results.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 1, 3],
            "{file}: {run:#?}"
        );
        // The hostile guest counts the bytes of the states it merged.
        for row in results.iter().flatten() {
            let r = float(&row["r"]);
            assert!(r > 0.0 && r % 2097152.0 == 0.0, "{file}: {row}");
        }
    }

    // A cap below a state's size is named in bytes too.
    let config = sandbox.write("small.toml", "[udf]\nmax_state_size = \"1K\"\n");
    let run = sandbox
        .run(&[
            "--config",
            config.to_str().unwrap(),
            "--udfs",
            &sandbox.udfs_arg(),
            "-q",
            "-c",
            &aggregate_call("hostile_agg_big_state", OneGroup, 3),
        ])
        .exit(1);
    run.one_error_line(&["cap of 1024 bytes", "max_state_size"]);
}

/// A part number equal to the number of parts is refused.
#[test]
fn hostile_table_part_number_out_of_range_is_refused() {
    assert_hostile_table(
        "bad_table_part_range",
        &[
            (
                "SELECT * FROM {f}('x')",
                &["output row 0 belongs to part 1, but the call had 1"],
            ),
            (
                &format!("SELECT d.id, t.token FROM {DOCS} CROSS JOIN LATERAL {{f}}(d.body) AS t"),
                &["belongs to part 3, but the call had 3"],
            ),
        ],
    );
}

/// Part numbers that decrease are refused.
#[test]
fn hostile_table_decreasing_part_numbers_are_refused() {
    assert_hostile_table(
        "bad_table_part_order",
        &[
            (
                &format!("SELECT d.id, t.token FROM {DOCS} CROSS JOIN LATERAL {{f}}(d.body) AS t"),
                &["part numbers decrease at output row 1 (1 after 2)"],
            ),
            (
                &format!(
                    "SELECT d.id, t.token FROM {DOCS} LEFT JOIN LATERAL {{f}}(d.body) AS t ON true"
                ),
                &["part numbers decrease"],
            ),
        ],
    );
}

/// A column longer than the part numbers is refused.
#[test]
fn hostile_table_columns_of_different_lengths_are_refused() {
    assert_hostile_table(
        "bad_table_ragged",
        &[
            (
                "SELECT * FROM {f}('x')",
                &["column token: length is 2, expected 1"],
            ),
            (
                &format!("SELECT d.id, t.token FROM {DOCS} CROSS JOIN LATERAL {{f}}(d.body) AS t"),
                &["column token: length is 4, expected 3"],
            ),
        ],
    );
}

/// A text column that is not UTF-8 is refused.
#[test]
fn hostile_table_invalid_utf8_is_refused() {
    assert_hostile_table(
        "bad_table_utf8",
        &[
            (
                "SELECT * FROM {f}('x')",
                &["column token: value 0 is not valid UTF-8"],
            ),
            (
                &format!(
                    "SELECT d.id, t.token FROM {DOCS} LEFT JOIN LATERAL {{f}}(d.body) AS t ON true"
                ),
                &["column token: value 0 is not valid UTF-8"],
            ),
        ],
    );
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: registration
// ---------------------------------------------------------------------------

/// `\udf list` has a kind column: scalar, aggregate, table, table (per
/// partition), and table signatures with their columns.
#[test]
fn udf_list_shows_the_kind_of_each_function() {
    let sandbox = Sandbox::with(&["slugify", "stats", "weighted_c", "tables"]);
    let run = sandbox.query("csv", &["\\udf list"]).success();
    assert_eq!(
        run.stdout.lines().next(),
        Some("function,kind,signature,module,sha256,capabilities"),
        "{run:#?}"
    );
    let rows = json_results(&sandbox.query("json", &["\\udf list"]).success().stdout)
        .pop()
        .unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (function, kind, signature, module) in [
        ("slugify", "scalar", "slugify(Utf8) -> Utf8", "slugify"),
        (
            "geo_mean",
            "aggregate",
            "geo_mean(Float64) -> Float64",
            "stats",
        ),
        (
            "weighted_avg",
            "aggregate",
            "weighted_avg(Float64, Float64) -> Float64",
            "weighted_c",
        ),
        (
            "tokenize",
            "table",
            "tokenize(Utf8) -> TABLE(token Utf8, pos Int32)",
            "tables",
        ),
        (
            "sessionize",
            "table (per partition)",
            "sessionize(Int64, Timestamp(µs), Int64) -> TABLE(user_id Int64, \
             session_id Int32, start Timestamp(µs), end Timestamp(µs), events Int32)",
            "tables",
        ),
    ] {
        let row = rows
            .iter()
            .find(|r| r["function"] == function)
            .unwrap_or_else(|| panic!("{function} not listed: {rows:?}"));
        assert_eq!(row["kind"], kind, "{row}");
        assert_eq!(row["signature"], signature, "{row}");
        assert_eq!(row["module"], sandbox.module_path(module).as_str(), "{row}");
    }
}

/// `\df` lists a WASM aggregate as AGGREGATE and a table function as
/// TABLE, once each, described with their module.
#[test]
fn df_lists_aggregates_and_table_functions_once_with_their_kind() {
    let sandbox = Sandbox::with(&["stats", "weighted_c", "tables"]);
    let results = results_of(
        &sandbox,
        &[
            "\\df geo*",
            "\\df weighted_avg",
            "\\df tokenize",
            "\\df sessionize",
        ],
    );
    for (rows, name, kind, module, words) in [
        (
            &results[0],
            "geo_mean",
            "AGGREGATE",
            "stats",
            "Geometric mean",
        ),
        (
            &results[1],
            "weighted_avg",
            "AGGREGATE",
            "weighted_c",
            "C example",
        ),
        (
            &results[2],
            "tokenize",
            "TABLE",
            "tables",
            "tokenize(Utf8) -> TABLE(token Utf8, pos Int32)",
        ),
        (
            &results[3],
            "sessionize",
            "TABLE",
            "tables",
            "per partition",
        ),
    ] {
        assert_eq!(rows.len(), 1, "\\df {name}: one row expected: {rows:#?}");
        assert_eq!(rows[0]["name"], name, "{rows:?}");
        assert_eq!(rows[0]["kind"], kind, "{rows:?}");
        let description = rows[0]["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(&sandbox.module_path(module)) && description.contains(words),
            "{name}: {description:?}"
        );
    }
}

/// `CREATE FUNCTION gm() LANGUAGE wasm AS '...#geo_mean'` registers the
/// aggregate under a name of the user's, plain and with `GROUP BY`; the C
/// aggregate with declared types too.
#[test]
fn create_function_registers_an_aggregate() {
    let sandbox = Sandbox::with(&["stats", "weighted_c"]);
    let results = results_of(
        &sandbox,
        &[
            "CREATE FUNCTION gm() LANGUAGE wasm AS 'udfs/stats.wasm#geo_mean'",
            "SELECT gm(x) AS g FROM (VALUES (2.0), (32.0), (NULL)) t(x)",
            "SELECT k, gm(x) AS g FROM (VALUES (1, 2.0), (1, 32.0), (2, 5.0)) t(k, x) \
             GROUP BY k ORDER BY k",
            "CREATE FUNCTION wavg(DOUBLE, DOUBLE) RETURNS DOUBLE LANGUAGE wasm \
             AS 'udfs/weighted_c.wasm#weighted_avg'",
            "SELECT wavg(v, w) AS a FROM (VALUES (1.0, 1.0), (4.0, 3.0)) t(v, w)",
            "\\df gm",
        ],
    );
    assert_rows("gm", &results[0], &[serde_json::json!({"g": 8.0})]);
    assert_rows(
        "gm grouped",
        &results[1],
        &[
            serde_json::json!({"k": 1, "g": 8.0}),
            serde_json::json!({"k": 2, "g": 5.0}),
        ],
    );
    assert_rows("wavg", &results[2], &[serde_json::json!({"a": 3.25})]);
    assert_eq!(results[3].len(), 1, "{:?}", results[3]);
    assert_eq!(results[3][0]["kind"], "AGGREGATE", "{:?}", results[3]);
}

/// `CREATE FUNCTION` of a table function gives a table function: in FROM
/// with a constant, with `CROSS JOIN LATERAL`, and a per-partition one with
/// `TABLE(... OVER ...)`.
#[test]
fn create_function_registers_table_functions() {
    let sandbox = Sandbox::with(&["tables"]);
    let results = results_of(
        &sandbox,
        &[
            "CREATE FUNCTION words() LANGUAGE wasm AS 'udfs/tables.wasm#tokenize'",
            "SELECT * FROM words('Foo bar')",
            "SELECT d.id, w.token FROM (VALUES (1, 'x y'), (2, 'z')) d(id, body) \
             CROSS JOIN LATERAL words(d.body) AS w ORDER BY d.id, w.pos",
            "CREATE FUNCTION sess() LANGUAGE wasm AS 'udfs/tables.wasm#sessionize'",
            "SELECT s.user_id, s.session_id, s.events \
             FROM (VALUES (1, TIMESTAMP '2024-01-01 00:00:00'), (1, TIMESTAMP '2024-01-01 00:00:30'), \
                          (1, TIMESTAMP '2024-01-01 00:05:00')) e(u, ts), \
                  TABLE(sess(e.u, e.ts, 60) OVER (PARTITION BY e.u ORDER BY e.ts)) AS s \
             ORDER BY s.session_id",
            "\\df words",
        ],
    );
    assert_rows(
        "words",
        &results[0],
        &[
            serde_json::json!({"token": "foo", "pos": 1}),
            serde_json::json!({"token": "bar", "pos": 2}),
        ],
    );
    assert_rows(
        "words lateral",
        &results[1],
        &[
            serde_json::json!({"id": 1, "token": "x"}),
            serde_json::json!({"id": 1, "token": "y"}),
            serde_json::json!({"id": 2, "token": "z"}),
        ],
    );
    assert_rows(
        "sess",
        &results[2],
        &[
            serde_json::json!({"user_id": 1, "session_id": 1, "events": 2}),
            serde_json::json!({"user_id": 1, "session_id": 2, "events": 1}),
        ],
    );
    assert_eq!(results[3].len(), 1, "{:?}", results[3]);
    assert_eq!(results[3][0]["kind"], "TABLE", "{:?}", results[3]);
}

/// After `CREATE FUNCTION words() ... '#tokenize'` (no `--udfs`), `\df`
/// shows `words` described with its module, and not the module's other
/// names, which SQL does not know.
#[test]
fn df_after_create_function_lists_only_the_created_table_function() {
    let sandbox = Sandbox::with(&["tables"]);
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "json",
            "--continue-on-error",
            "-c",
            "CREATE FUNCTION words() LANGUAGE wasm AS 'udfs/tables.wasm#tokenize'",
            "-c",
            "\\df words",
            "-c",
            "\\df tokenize",
            "-c",
            "\\df sessionize",
            "-c",
            "SELECT * FROM tokenize('a')",
        ])
        .exit(1);
    // tokenize itself was not created.
    run.one_error_line(&["<command 5>:1:", "tokenize"]);
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), 3, "{run:#?}");
    let mut problems = Vec::new();
    let words = &results[0];
    let described = words.len() == 1
        && words[0]["kind"] == "TABLE"
        && words[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("tables.wasm"));
    if !described {
        problems.push(format!(
            "\\df words: want one TABLE row naming its module, got {words:?}"
        ));
    }
    for (name, rows) in [("tokenize", &results[1]), ("sessionize", &results[2])] {
        if !rows.is_empty() {
            problems.push(format!(
                "\\df {name} lists a function SQL does not know: {rows:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A module describing an aggregate without one of its six exports is
/// refused, naming the export; with all six it registers as an aggregate
/// (whose calls fail without a message).
#[test]
fn aggregate_missing_an_export_is_refused() {
    for suffix in ["_new", "_update", "_merge", "_state", "_finish", "_drop"] {
        let sandbox = Sandbox::new();
        let module = sandbox.write(
            "udfs/tiny_agg.wasm",
            tiny_aggregate_module("tiny_sum", Some(suffix)),
        );
        let run = sandbox
            .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
            .exit(2);
        run.one_error_line(&[
            &module.display().to_string(),
            "does not export",
            &format!("'tiny_agg{suffix}'"),
        ]);
        assert_eq!(run.stdout, "");
    }
    let sandbox = Sandbox::new();
    let module = sandbox.write(
        "udfs/tiny_agg.wasm",
        tiny_aggregate_module("tiny_sum", None),
    );
    let path = module.display().to_string();
    let run = sandbox
        .query(
            "csv",
            &[
                "\\udf list",
                "SELECT tiny_sum(CAST(x AS DOUBLE)) AS r FROM generate_series(1, 2) t(x)",
            ],
        )
        .exit(1);
    assert!(
        run.stdout.contains(&format!(
            "tiny_sum,aggregate,tiny_sum(Float64) -> Float64,{path}"
        )),
        "{run:#?}"
    );
    run.one_error_line(&[&guest_failure("tiny_sum", &path), "without a message"]);
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: results
// ---------------------------------------------------------------------------

/// geo_mean: NULLs, zeros and negatives ignored; NULL for no rows; GROUP
/// BY with ORDER BY on the result; a window; DISTINCT; FILTER.
#[test]
fn geo_mean_results() {
    let sandbox = Sandbox::with(&["stats"]);
    let results = results_of(
        &sandbox,
        &[
            "SELECT geo_mean(x) AS g FROM (VALUES (2.0), (8.0), (NULL), (-1.0), (0.0)) t(x)",
            "SELECT geo_mean(x) AS g, count(*) AS n FROM (VALUES (1.0)) t(x) WHERE x > 5",
            "SELECT geo_mean(CAST(NULL AS DOUBLE)) AS g",
            "SELECT k, geo_mean(x) AS g FROM (VALUES ('a', 2.0), ('a', 8.0), ('b', NULL), \
             ('c', 3.0), ('c', -3.0), ('c', 12.0), ('d', 1.0), ('d', 10.0), ('d', 100.0)) t(k, x) \
             GROUP BY k ORDER BY g DESC NULLS LAST",
            "SELECT k, i, geo_mean(x) OVER (PARTITION BY k ORDER BY i) AS g \
             FROM (VALUES ('a', 1, 2.0), ('a', 2, 8.0), ('a', 3, NULL), ('a', 4, 0.5), \
                          ('b', 1, NULL), ('b', 2, 9.0)) t(k, i, x) ORDER BY k, i",
            "SELECT geo_mean(DISTINCT x) AS d, geo_mean(x) AS a \
             FROM (VALUES (2.0), (2.0), (2.0), (16.0)) t(x)",
            "SELECT k, geo_mean(DISTINCT x) AS d FROM (VALUES ('a', 2.0), ('a', 2.0), ('a', 8.0), \
             ('b', 3.0), ('b', 3.0)) t(k, x) GROUP BY k ORDER BY k",
            "SELECT geo_mean(x) FILTER (WHERE x > 1) AS f FROM (VALUES (0.25), (4.0), (9.0)) t(x)",
            "SELECT k, geo_mean(x) FILTER (WHERE x > 1) AS f \
             FROM (VALUES ('a', 0.25), ('a', 4.0), ('a', 9.0), ('b', 0.5)) t(k, x) \
             GROUP BY k ORDER BY k",
        ],
    );
    use serde_json::json;
    let want: [Vec<Value>; 9] = [
        vec![json!({"g": 4.0})],
        vec![json!({"g": null, "n": 0})],
        vec![json!({"g": null})],
        vec![
            json!({"k": "d", "g": 10.0}),
            json!({"k": "c", "g": 6.0}),
            json!({"k": "a", "g": 4.0}),
            json!({"k": "b", "g": null}),
        ],
        vec![
            json!({"k": "a", "i": 1, "g": 2.0}),
            json!({"k": "a", "i": 2, "g": 4.0}),
            json!({"k": "a", "i": 3, "g": 4.0}),
            json!({"k": "a", "i": 4, "g": 2.0}),
            json!({"k": "b", "i": 1, "g": null}),
            json!({"k": "b", "i": 2, "g": 9.0}),
        ],
        // sqrt(2 * 16) and (2 * 2 * 2 * 16)^(1/4)
        vec![json!({"d": 32f64.sqrt(), "a": 128f64.powf(0.25)})],
        vec![json!({"k": "a", "d": 4.0}), json!({"k": "b", "d": 3.0})],
        vec![json!({"f": 6.0})],
        vec![json!({"k": "a", "f": 6.0}), json!({"k": "b", "f": null})],
    ];
    for (index, (got, want)) in results.iter().zip(&want).enumerate() {
        assert_rows(&format!("query {}", index + 1), got, want);
    }
}

/// Rows for weighted_avg: (k, i, v, w).
const WEIGHTED: &str = "(VALUES ('a', 1, 1.0, 1.0), ('a', 2, 4.0, 3.0), ('a', 3, NULL, 5.0), \
                        ('a', 4, 7.0, NULL), ('b', 1, 5.0, 0.0), ('c', 1, NULL, 1.0), \
                        ('d', 1, 2.0, 0.5), ('d', 2, 4.0, 1.5)) t(k, i, v, w)";

/// weighted_avg (C): rows with a NULL skipped, NULL when the weights sum to
/// 0 or there are no rows; GROUP BY; FILTER; DISTINCT.
#[test]
fn weighted_avg_results() {
    let sandbox = Sandbox::with(&["weighted_c"]);
    let data = WEIGHTED;
    let results = results_of(
        &sandbox,
        &[
            &format!("SELECT weighted_avg(v, w) AS a FROM {data} WHERE k = 'a'"),
            &format!("SELECT k, weighted_avg(v, w) AS a FROM {data} GROUP BY k ORDER BY k"),
            &format!("SELECT weighted_avg(v, w) AS a FROM {data} WHERE k = 'z'"),
            &format!(
                "SELECT k, weighted_avg(v, w) FILTER (WHERE w > 1) AS a FROM {data} \
                 GROUP BY k ORDER BY k"
            ),
            "SELECT weighted_avg(DISTINCT v, w) AS d, weighted_avg(v, w) AS a \
             FROM (VALUES (1.0, 1.0), (1.0, 1.0), (4.0, 3.0)) t(v, w)",
        ],
    );
    use serde_json::json;
    let want: [Vec<Value>; 5] = [
        // (1 + 12) / 4
        vec![json!({"a": 3.25})],
        vec![
            json!({"k": "a", "a": 3.25}),
            json!({"k": "b", "a": null}),
            json!({"k": "c", "a": null}),
            // (1 + 6) / 2
            json!({"k": "d", "a": 3.5}),
        ],
        vec![json!({"a": null})],
        vec![
            json!({"k": "a", "a": 4.0}),
            json!({"k": "b", "a": null}),
            json!({"k": "c", "a": null}),
            json!({"k": "d", "a": 4.0}),
        ],
        // distinct (1, 1), (4, 3): 13 / 4; all: 14 / 5
        vec![json!({"d": 3.25, "a": 2.8})],
    ];
    for (index, (got, want)) in results.iter().zip(&want).enumerate() {
        assert_rows(&format!("query {}", index + 1), got, want);
    }
}

/// weighted_avg in a window `OVER (PARTITION BY k ORDER BY i)`: the value
/// at each row is that of the rows so far, rows with a NULL skipped.
#[test]
fn weighted_avg_in_a_window_skips_rows_with_nulls() {
    let sandbox = Sandbox::with(&["weighted_c"]);
    let results = results_of(
        &sandbox,
        &[&format!(
            "SELECT k, i, weighted_avg(v, w) OVER (PARTITION BY k ORDER BY i) AS a \
             FROM {WEIGHTED} WHERE k IN ('a', 'd') ORDER BY k, i"
        )],
    );
    use serde_json::json;
    assert_rows(
        "window",
        &results[0],
        &[
            json!({"k": "a", "i": 1, "a": 1.0}),
            json!({"k": "a", "i": 2, "a": 3.25}),
            // (NULL, 5) and (7, NULL) add nothing.
            json!({"k": "a", "i": 3, "a": 3.25}),
            json!({"k": "a", "i": 4, "a": 3.25}),
            json!({"k": "d", "i": 1, "a": 2.0}),
            json!({"k": "d", "i": 2, "a": 3.5}),
        ],
    );
}

/// weighted_avg over 200,000 rows with NULLs in two partitions, with 97
/// groups, 200,000 groups (partial aggregation skipped) and none, equals
/// sum(v * w) / sum(w) over the rows where both are set.
#[test]
fn weighted_avg_over_many_batches_and_partitions() {
    let sandbox = Sandbox::with(&["weighted_c"]);
    let p = "WITH p AS (SELECT x, x % 97 AS k, \
                 CASE WHEN x % 11 = 0 THEN NULL ELSE (x % 1000) / 10.0 END AS v, \
                 CASE WHEN x % 17 = 0 THEN NULL ELSE CAST(x % 13 AS DOUBLE) END AS w \
             FROM generate_series(1, 200000) t(x)), \
             r AS (SELECT *, CASE WHEN v IS NOT NULL THEN w END AS used_w FROM p)";
    let reference = "CASE WHEN sum(used_w) = 0 THEN NULL ELSE sum(v * w) / sum(used_w) END";
    let compare = |group: &str| {
        format!(
            "{p} SELECT count(*) AS groups, sum(n) AS n, count(a) AS not_null, \
                    max(abs(a - e) / abs(e)) AS max_rel, \
                    count(*) FILTER (WHERE (a IS NULL) <> (e IS NULL)) AS null_mismatch \
             FROM (SELECT {group} count(*) AS n, weighted_avg(v, w) AS a, {reference} AS e \
                   FROM r {})",
            if group.is_empty() {
                String::new()
            } else {
                format!("GROUP BY {}", group.trim_end_matches(", "))
            }
        )
    };
    let queries = [compare("k, "), compare("x, "), compare("")];
    let udfs = sandbox.udfs_arg();
    let mut args = vec![
        "--udfs",
        &udfs,
        "--target-partitions",
        "2",
        "-q",
        "--format",
        "json",
    ];
    for query in &queries {
        args.extend(["-c", query.as_str()]);
    }
    let run = sandbox.run(&args).success();
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), 3, "{run:#?}");
    for ((rows, groups), what) in
        results
            .iter()
            .zip([97, 200000, 1])
            .zip(["97 groups", "200,000 groups", "no GROUP BY"])
    {
        let row = &rows[0];
        assert_eq!(row["groups"], groups, "{what}: {row}");
        assert_eq!(row["n"], 200000, "{what}: {row}");
        assert_eq!(row["null_mismatch"], 0, "{what}: {row}");
        assert!(row["not_null"].as_i64().unwrap() > 0, "{what}: {row}");
        let max_rel = float(&row["max_rel"]);
        assert!(max_rel < 1e-12, "{what}: relative difference {max_rel}");
    }
}

/// tokenize: constant arguments, CROSS JOIN LATERAL (rows producing
/// nothing dropped), LEFT JOIN LATERAL ... ON true (kept with NULLs),
/// Unicode lowercasing, aggregation over the tokens.
#[test]
fn tokenize_results() {
    let sandbox = Sandbox::with(&["tables"]);
    let docs = "(VALUES (1, 'The cat, the HAT'), (2, NULL), (3, ''), (4, 'ÉCOLE d''été'), \
                        (5, '  --  ')) d(id, body)";
    let results = results_of(
        &sandbox,
        &[
            "SELECT * FROM tokenize('a b')",
            "SELECT token, pos FROM tokenize('Hello, World! 42x') ORDER BY pos DESC",
            "SELECT count(*) AS n FROM tokenize(NULL)",
            &format!(
                "SELECT d.id, t.token, t.pos FROM {docs} CROSS JOIN LATERAL tokenize(d.body) AS t \
                 ORDER BY d.id, t.pos"
            ),
            &format!(
                "SELECT d.id, t.token, t.pos FROM {docs} LEFT JOIN LATERAL tokenize(d.body) AS t \
                 ON true ORDER BY d.id, t.pos"
            ),
            &format!(
                "SELECT t.token, count(*) AS n FROM {docs} CROSS JOIN LATERAL tokenize(d.body) t \
                 GROUP BY t.token ORDER BY n DESC, t.token LIMIT 2"
            ),
        ],
    );
    use serde_json::json;
    let cross = vec![
        json!({"id": 1, "token": "the", "pos": 1}),
        json!({"id": 1, "token": "cat", "pos": 2}),
        json!({"id": 1, "token": "the", "pos": 3}),
        json!({"id": 1, "token": "hat", "pos": 4}),
        json!({"id": 4, "token": "école", "pos": 1}),
        json!({"id": 4, "token": "d", "pos": 2}),
        json!({"id": 4, "token": "été", "pos": 3}),
    ];
    let mut left = cross.clone();
    for id in [2, 3, 5] {
        left.push(json!({"id": id, "token": null, "pos": null}));
    }
    left.sort_by_key(|row| row["id"].as_i64());
    let want: [Vec<Value>; 6] = [
        vec![
            json!({"token": "a", "pos": 1}),
            json!({"token": "b", "pos": 2}),
        ],
        vec![
            json!({"token": "42x", "pos": 3}),
            json!({"token": "world", "pos": 2}),
            json!({"token": "hello", "pos": 1}),
        ],
        vec![json!({"n": 0})],
        cross,
        left,
        vec![
            json!({"token": "the", "n": 2}),
            json!({"token": "cat", "n": 1}),
        ],
    ];
    for (index, (got, want)) in results.iter().zip(&want).enumerate() {
        assert_rows(&format!("query {}", index + 1), got, want);
    }
}

/// Events of three users, out of order, for sessionize.
const EVENTS: &str = "(VALUES (7, TIMESTAMP '2024-01-01 10:50:00'), (3, TIMESTAMP '2024-01-01 09:00:00'), \
     (7, TIMESTAMP '2024-01-01 10:00:00'), (9, TIMESTAMP '2024-01-01 09:00:00'), \
     (7, TIMESTAMP '2024-01-01 11:30:00'), (3, TIMESTAMP '2024-01-01 08:00:00'), \
     (7, TIMESTAMP '2024-01-01 10:20:00'), (7, TIMESTAMP '2024-01-01 11:21:00')) e(user_id, ts)";

/// sessionize cuts each user's events, whole partitions in time order, at
/// gaps of more than 30 minutes (exactly 30 is no gap); the FROM item's
/// columns are the partition key, NULL for the others.
#[test]
fn sessionize_results() {
    let sandbox = Sandbox::with(&["tables"]);
    let results = results_of(
        &sandbox,
        &[
            &format!(
                "SELECT s.* FROM {EVENTS}, \
                 TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s \
                 ORDER BY s.user_id, s.session_id"
            ),
            &format!(
                "SELECT e.user_id AS u, e.ts, s.session_id, s.events FROM {EVENTS}, \
                 TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s \
                 WHERE s.user_id = 7 ORDER BY s.session_id"
            ),
            // Without PARTITION BY: all rows are one partition.
            &format!(
                "SELECT s.session_id, s.start, s.end, s.events FROM {EVENTS}, \
                 TABLE(sessionize(0, e.ts, 3600) OVER (ORDER BY e.ts)) AS s ORDER BY s.session_id"
            ),
        ],
    );
    use serde_json::json;
    let session = |user: i64, id: i64, start: &str, end: &str, events: i64| {
        json!({"user_id": user, "session_id": id, "start": format!("2024-01-01T{start}"),
               "end": format!("2024-01-01T{end}"), "events": events})
    };
    assert_rows(
        "per user",
        &results[0],
        &[
            session(3, 1, "08:00:00", "08:00:00", 1),
            session(3, 2, "09:00:00", "09:00:00", 1),
            session(7, 1, "10:00:00", "10:50:00", 3),
            session(7, 2, "11:21:00", "11:30:00", 2),
            session(9, 1, "09:00:00", "09:00:00", 1),
        ],
    );
    assert_rows(
        "FROM item columns",
        &results[1],
        &[
            json!({"u": 7, "ts": null, "session_id": 1, "events": 3}),
            json!({"u": 7, "ts": null, "session_id": 2, "events": 2}),
        ],
    );
    assert_rows(
        "one partition",
        &results[2],
        &[json!({"session_id": 1, "start": "2024-01-01T08:00:00",
                 "end": "2024-01-01T11:30:00", "events": 8})],
    );
}

/// sessionize skips NULL timestamps in every partition, whichever its place
/// in the input (the function reads the NULLs it is given).
#[test]
fn sessionize_skips_null_timestamps_in_every_partition() {
    let sandbox = Sandbox::with(&["tables"]);
    let results = results_of(
        &sandbox,
        &[
            "SELECT s.* FROM (VALUES (9, TIMESTAMP '2024-01-01 09:00:00'), (9, NULL), (8, NULL), \
             (6, TIMESTAMP '2024-01-01 09:00:00'), (6, NULL), (6, TIMESTAMP '2024-01-01 09:10:00')) \
             e(user_id, ts), \
             TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s \
             ORDER BY s.user_id",
        ],
    );
    use serde_json::json;
    assert_rows(
        "sessions",
        &results[0],
        &[
            json!({"user_id": 6, "session_id": 1, "start": "2024-01-01T09:00:00",
                   "end": "2024-01-01T09:10:00", "events": 2}),
            json!({"user_id": 9, "session_id": 1, "start": "2024-01-01T09:00:00",
                   "end": "2024-01-01T09:00:00", "events": 1}),
        ],
    );
}

/// A scalar UDF given a slice of a batch (here after LIMIT ... OFFSET) sees
/// that slice's NULLs, not the NULLs of the rows before it.
#[test]
fn sliced_arguments_keep_their_nulls() {
    let sandbox = Sandbox::with(&["types"]);
    let results = results_of(
        &sandbox,
        &[
            "SELECT x, echo_i64(x) AS e FROM (SELECT x FROM (VALUES (1), (2), (NULL), (NULL), (5), \
           (NULL)) t(x) LIMIT 4 OFFSET 2)",
        ],
    );
    use serde_json::json;
    assert_rows(
        "echo_i64",
        &results[0],
        &[
            json!({"x": null, "e": null}),
            json!({"x": null, "e": null}),
            json!({"x": 5, "e": 5}),
            json!({"x": null, "e": null}),
        ],
    );
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: wrong uses
// ---------------------------------------------------------------------------

/// Table functions called the wrong way fail with an error saying the
/// right way, and wasql carries on.
#[test]
fn table_functions_called_the_wrong_way_say_how() {
    let sandbox = Sandbox::with(&["weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let ts = "TIMESTAMP '2024-01-01 10:00:00'";
    let events = format!("(VALUES (7, {ts})) e(user_id, ts)");
    let parts = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    assert_failures_contained(
        &sandbox,
        &config,
        &[
            (
                "SELECT d.id, t.token FROM (VALUES (1, 'The cat'), (2, 'x')) d(id, body) \
                 LEFT JOIN LATERAL tokenize(d.body) t ON d.id > 1"
                    .to_string(),
                parts(&[
                    "tokenize(...) can be joined only with CROSS JOIN",
                    "LEFT JOIN ... ON true",
                ]),
            ),
            (
                format!("SELECT s.* FROM {events}, TABLE(sessionize(e.user_id, e.ts, 1800)) AS s"),
                parts(&[
                    "sessionize: write TABLE(sessionize(",
                    "OVER (PARTITION BY",
                    "ORDER BY",
                ]),
            ),
            (
                format!("SELECT * FROM sessionize(1, {ts}, 1800)"),
                parts(&[
                    "sessionize works on whole partitions",
                    "TABLE(sessionize(",
                    "OVER (PARTITION BY",
                ]),
            ),
            (
                format!(
                    "SELECT s.* FROM {events}, \
                     TABLE(sessionize(e.user_id, e.ts) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s"
                ),
                parts(&["sessionize takes 3 arguments, not 2"]),
            ),
            (
                "SELECT * FROM tokenize(42)".to_string(),
                parts(&["tokenize takes (Utf8), not (Int64)"]),
            ),
        ],
    );
}
