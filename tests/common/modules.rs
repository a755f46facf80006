//! The UDF modules the tests load: the built examples and hostile modules
//! in `udfs/dist`, the WebAssembly text in `udfs/hostile/wat/`, and a warm
//! compiled-code cache shared by the sandboxes of one test process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The example modules in `udfs/dist`.
pub const EXAMPLES: &[&str] = &[
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
pub const HOSTILE: &[&str] = &[
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
pub fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("udfs")
        .join("dist")
}

/// The built module `name`: `"slugify"` or `"hostile/spin"`. Panics with a
/// hint when it has not been built.
pub fn module_file(name: &str) -> PathBuf {
    let path = dist_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "the UDF module {} is missing: run `bash udfs/build.sh` first",
        path.display()
    );
    path
}

/// The file name a module gets when copied: `"hostile/spin"` -> `spin.wasm`.
pub fn file_name(name: &str) -> String {
    format!("{}.wasm", name.rsplit('/').next().unwrap())
}

/// Hex sha256 of a file.
pub fn sha256_of(path: &Path) -> String {
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
pub fn warm_cache() -> &'static Path {
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

/// The module `udfs/hostile/wat/NAME.wat`, assembled to the binary format.
pub fn assemble_wat(name: &str) -> Vec<u8> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("udfs/hostile/wat")
        .join(format!("{name}.wat"));
    wat::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()))
}
