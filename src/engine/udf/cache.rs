//! The on-disk cache of compiled modules (`$XDG_CACHE_HOME/wasql/modules`,
//! usually `~/.cache/wasql/modules`), and what makes it safe to load from.
//!
//! Loading compiled code is running it: wasmtime deserializes an entry's
//! machine code without checking it (it checks only the engine's version
//! and settings). So an entry is loaded only if
//!
//! - the directory is the user's own (owned by them, writable by nobody
//!   else; wasql creates it `0700`) and so is the entry (`0600`, a regular
//!   file): another account cannot have written it;
//! - its SHA-256 digest, written before the code and taken over the entry's
//!   name and the code, matches: a torn write, a disk error, an entry
//!   renamed to another module's name or edited in place is not loaded;
//! - its bytes are read into memory once, checked there and deserialized
//!   from there, so the file cannot change between the check and the load.
//!
//! Anything else is ignored: the module is compiled again and the entry
//! replaced (when the directory is private). The trust boundary is the
//! user's account: a process running as the same user can write a valid
//! entry, as it could replace the wasql binary itself.

use std::fs::{self, File, Metadata};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Bytes of the digest before the code.
const DIGEST: usize = 32;

/// A private directory of compiled modules.
#[derive(Debug, Clone)]
pub struct CodeCache {
    dir: PathBuf,
}

impl CodeCache {
    /// The user's cache, `wasql/modules` in their cache directory; `None`
    /// when there is none, or it is not private (see [`CodeCache::open`]).
    pub fn user() -> Option<CodeCache> {
        CodeCache::open(dirs::cache_dir()?.join("wasql").join("modules"))
    }

    /// The cache in `dir`, created (mode 0700) if missing; `None` if it
    /// cannot be, or is not a directory the user owns that only they can
    /// write.
    pub fn open(dir: PathBuf) -> Option<CodeCache> {
        create_private_dir(&dir).ok()?;
        let metadata = fs::symlink_metadata(&dir).ok()?;
        (metadata.is_dir() && private(&metadata)).then_some(CodeCache { dir })
    }

    /// Where the entry `name` is.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.cwasm"))
    }

    /// The compiled code stored as `name`, if it is there, private, and
    /// its digest matches.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        let mut file = File::open(self.path(name)).ok()?;
        // The metadata of the file opened, not of the path: what is read
        // below is what was checked.
        let metadata = file.metadata().ok()?;
        if !metadata.is_file() || !private(&metadata) {
            return None;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        let (digest, code) = bytes.split_at_checked(DIGEST)?;
        if digest != digest_of(name, code) {
            return None;
        }
        Some(bytes.split_off(DIGEST))
    }

    /// Stores `code` as `name`: written to a new private file, then renamed
    /// over any earlier entry.
    pub fn put(&self, name: &str, code: &[u8]) -> std::io::Result<()> {
        let temp = self.dir.join(format!("{name}.tmp-{}", std::process::id()));
        // A file left by a crash of an earlier process with this id.
        let _ = fs::remove_file(&temp);
        let mut file = create_private_file(&temp)?;
        let written = file
            .write_all(&digest_of(name, code))
            .and_then(|()| file.write_all(code))
            .and_then(|()| fs::rename(&temp, self.path(name)));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }
}

/// The digest an entry named `name` holding `code` starts with.
fn digest_of(name: &str, code: &[u8]) -> [u8; DIGEST] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(code);
    hasher.finalize().into()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Owned by this process's user and writable by no one else.
#[cfg(unix)]
fn private(metadata: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions, touches no memory of ours and
    // cannot fail (POSIX).
    let user = unsafe { libc::geteuid() };
    metadata.uid() == user && metadata.mode() & 0o022 == 0
}

/// Without Unix permissions, the user's cache directory is taken as theirs.
#[cfg(not(unix))]
fn private(_: &Metadata) -> bool {
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn entries_are_private_and_read_back() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("wasql").join("modules");
        let cache = CodeCache::open(dir.clone()).expect("a new private cache");
        assert_eq!(mode(&dir), 0o700);
        cache.put("abc-tag", b"compiled").unwrap();
        assert_eq!(mode(&cache.path("abc-tag")), 0o600);
        assert_eq!(cache.get("abc-tag").as_deref(), Some(&b"compiled"[..]));
        assert_eq!(cache.get("missing"), None);
        // Replaced in place, no temporary files left.
        cache.put("abc-tag", b"again").unwrap();
        assert_eq!(cache.get("abc-tag").as_deref(), Some(&b"again"[..]));
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn tampered_or_renamed_entries_are_not_read() {
        let root = tempfile::tempdir().unwrap();
        let cache = CodeCache::open(root.path().join("modules")).unwrap();
        cache.put("one", b"compiled code").unwrap();
        let path = cache.path("one");
        let mut bytes = fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.get("one"), None, "a flipped bit");
        fs::write(&path, &bytes[..DIGEST - 1]).unwrap();
        assert_eq!(cache.get("one"), None, "shorter than a digest");

        cache.put("two", b"other code").unwrap();
        fs::rename(cache.path("two"), cache.path("three")).unwrap();
        assert_eq!(cache.get("three"), None, "another entry's file");
    }

    #[test]
    fn entries_and_directories_others_can_write_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("modules");
        let cache = CodeCache::open(dir.clone()).unwrap();
        cache.put("entry", b"code").unwrap();
        chmod(&cache.path("entry"), 0o666);
        assert_eq!(cache.get("entry"), None, "a world-writable entry");
        chmod(&cache.path("entry"), 0o620);
        assert_eq!(cache.get("entry"), None, "a group-writable entry");
        chmod(&cache.path("entry"), 0o644);
        assert!(cache.get("entry").is_some(), "readable by others is fine");

        chmod(&dir, 0o777);
        assert!(
            CodeCache::open(dir.clone()).is_none(),
            "a world-writable directory"
        );
        chmod(&dir, 0o755);
        assert!(CodeCache::open(dir.clone()).is_some());

        let file = root.path().join("a-file");
        fs::write(&file, b"").unwrap();
        assert!(CodeCache::open(file).is_none(), "not a directory");
    }
}
