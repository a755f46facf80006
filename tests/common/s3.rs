//! A real S3-compatible server for tests: s3s-fs, started in-process on
//! 127.0.0.1, serving a temporary directory (a bucket is a subdirectory),
//! and wasql config profiles for it.

use std::path::{Path, PathBuf};

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;

use super::files_under;
use super::http::serve;

pub const BUCKET: &str = "bucket";
pub const ACCESS_KEY: &str = "wasql-test-key";
pub const SECRET_KEY: &str = "wasql-test-secret";

pub const PEOPLE_CSV: &str = "name,age\nada,36\nalan,41\ngrace,85\n";

/// An S3 server on 127.0.0.1 serving a temporary directory.
pub struct Server {
    port: u16,
    root: TempDir,
}

impl Server {
    /// Starts a server with one (empty) bucket, `bucket`.
    pub fn start() -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let port = serve(move |_| service);
        Server { port, root }
    }

    /// The directory served (a bucket is a subdirectory).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Puts an object straight into the served directory.
    pub fn put(&self, key: &str, body: impl AsRef<[u8]>) {
        let path = self.root.path().join(BUCKET).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }

    /// The keys of every object in the bucket, as stored on disk, sorted.
    pub fn keys(&self) -> Vec<String> {
        let bucket = self.root.path().join(BUCKET);
        let mut keys: Vec<String> = files_under(&bucket, false)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&bucket)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        keys.sort();
        keys
    }

    /// `aws.*` statement options for this server.
    pub fn options(&self, secret: &str) -> String {
        format!(
            "'aws.endpoint' '{}', 'aws.access_key_id' '{ACCESS_KEY}', \
             'aws.secret_access_key' '{secret}', 'aws.region' 'us-east-1', \
             'aws.allow_http' 'true'",
            self.endpoint()
        )
    }

    /// A wasql config file with a profile `local` for `s3://bucket` on this
    /// server.
    pub fn config(&self, home: &Path, secret: &str) -> PathBuf {
        config_file(home, &self.endpoint(), &[BUCKET], secret)
    }
}

/// A wasql config file in `home` with [`profile`].
pub fn config_file(home: &Path, endpoint: &str, buckets: &[&str], secret: &str) -> PathBuf {
    let path = home.join("wasql-test.toml");
    std::fs::write(&path, profile(endpoint, buckets, secret)).unwrap();
    path
}

/// A wasql config with a profile `local` for the server at `endpoint`, used
/// for `buckets` without being asked.
pub fn profile(endpoint: &str, buckets: &[&str], secret: &str) -> String {
    let urls: Vec<String> = buckets.iter().map(|b| format!("\"s3://{b}\"")).collect();
    format!(
        "[profiles.local]\nurls = [{}]\nendpoint = \"{endpoint}\"\n\
         access_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{secret}\"\n\
         region = \"us-east-1\"\nallow_http = true\n",
        urls.join(", ")
    )
}
