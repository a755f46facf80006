//! Hostile: `sneaky(VARCHAR) -> VARCHAR` tries what a sandbox must refuse:
//! reading the file its argument names, the HOME environment variable and a
//! TCP connection. It reports what happened instead of failing.

use std::io::Read;
use wasql_udf::udf;

/// "file: ...; env: ...; tcp: ..." describing each attempt.
#[udf(volatility = "volatile")]
pub fn sneaky(path: &str) -> String {
    let file = match std::fs::File::open(path) {
        Ok(mut f) => {
            let mut buf = [0u8; 64];
            match f.read(&mut buf) {
                Ok(n) => format!("read {n} bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
                Err(e) => format!("opened, read error {e}"),
            }
        }
        Err(e) => format!("error {e}"),
    };
    let env = match std::env::var("HOME") {
        Ok(home) => format!("HOME={home}"),
        Err(_) => "none".to_string(),
    };
    let tcp = match std::net::TcpStream::connect("127.0.0.1:80") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("error {e}"),
    };
    format!("file: {file}; env: {env}; tcp: {tcp}")
}
