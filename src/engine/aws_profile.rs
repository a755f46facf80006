//! S3 settings from the AWS shared files (`~/.aws/credentials` and
//! `~/.aws/config`), the way the AWS CLI finds them: the profile named by
//! `aws.profile`, else `AWS_PROFILE`, else `default`.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The S3 settings of an AWS profile, as object_store keys. Missing files or
/// profiles yield nothing: the shared files are optional.
pub fn settings(profile: Option<&str>) -> Vec<(String, String)> {
    let name = profile
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_else(|| "default".to_string());
    let config_section = if name == "default" {
        name.clone()
    } else {
        format!("profile {name}")
    };
    let mut out = Vec::new();
    copy_keys(
        read_ini(file_path("AWS_CONFIG_FILE", "config")),
        &config_section,
        &[("region", "region"), ("endpoint_url", "endpoint")],
        &mut out,
    );
    copy_keys(
        read_ini(file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials")),
        &name,
        &[
            ("aws_access_key_id", "access_key_id"),
            ("aws_secret_access_key", "secret_access_key"),
            ("aws_session_token", "token"),
        ],
        &mut out,
    );
    out
}

/// Appends the `(file key, store key)` pairs found in `section`.
fn copy_keys(
    file: Option<Sections>,
    section: &str,
    keys: &[(&str, &str)],
    out: &mut Vec<(String, String)>,
) {
    let Some(values) = file.as_ref().and_then(|f| f.get(section)) else {
        return;
    };
    for (from, to) in keys {
        if let Some(value) = values.get(*from) {
            out.push((to.to_string(), value.clone()));
        }
    }
}

fn file_path(env_var: &str, file: &str) -> Option<PathBuf> {
    std::env::var_os(env_var)
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".aws").join(file)))
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

fn read_ini(path: Option<PathBuf>) -> Option<Sections> {
    std::fs::read_to_string(path?)
        .ok()
        .map(|text| parse_ini(&text))
}

/// Parses the INI dialect of the AWS shared files: `[section]` headers and
/// `key = value` lines; `#` and `;` start comments.
fn parse_ini(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(header.trim().to_string());
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_string(), value.trim().to_string());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_keys() {
        let sections = parse_ini(
            "# comment\n[default]\naws_access_key_id = AKID\n\n[profile dev]\nregion=eu-west-1\n",
        );
        assert_eq!(sections["default"]["aws_access_key_id"], "AKID");
        assert_eq!(sections["profile dev"]["region"], "eu-west-1");
    }
}
