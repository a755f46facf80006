//! Object-store errors that name the location and say what to do.
//!
//! object_store reports failures the way its HTTP client saw them, e.g.
//! `Generic S3 error: Error performing GET http://host/bucket/k in 2ms -
//! Server returned non-2xx status code: 403 Forbidden: <?xml ...>`.
//! [`LocatedStore`] wraps a store and rewrites every error into one line that
//! names the full location (`s3://bucket/path`) and the cause in words a user
//! can act on. The error kinds DataFusion and object_store branch on
//! (`NotFound`, `AlreadyExists`, `Precondition`, `NotModified`,
//! `PermissionDenied`, `Unauthenticated`, `NotSupported`) are kept.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path;
use object_store::{
    CopyOptions, Error, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result, UploadPart,
};
use url::Url;

/// A store whose errors name the full location and a cause a user acts on.
#[derive(Debug)]
pub struct LocatedStore {
    inner: Arc<dyn ObjectStore>,
    site: Site,
}

impl LocatedStore {
    /// Wraps `inner`, the store for the bucket or host of `url`.
    pub fn new(url: &Url, inner: Arc<dyn ObjectStore>) -> Self {
        // `scheme://[user@]host[:port]`, never a password.
        let base = if url.password().is_some() {
            format!(
                "{}://{}",
                url.scheme(),
                &url[url::Position::BeforeHost..url::Position::AfterPort]
            )
        } else {
            url[..url::Position::AfterPort].to_string()
        };
        let site = Site {
            base: base.into(),
            scheme: url.scheme().into(),
            bucket: url.host_str().unwrap_or_default().into(),
        };
        LocatedStore { inner, site }
    }
}

impl fmt::Display for LocatedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

/// Where a store lives, to name locations in its errors.
#[derive(Debug, Clone)]
struct Site {
    /// `s3://bucket`, `http://host:port`, ...
    base: Arc<str>,
    scheme: Arc<str>,
    bucket: Arc<str>,
}

impl Site {
    /// The full URL of an object.
    fn object(&self, path: &str) -> String {
        if path.contains("://") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// The full URL of a listing prefix (which may name a file: DataFusion
    /// lists single files too).
    fn prefix(&self, prefix: Option<&Path>) -> String {
        match prefix {
            Some(p) if !p.as_ref().is_empty() => format!("{}/{}", self.base, p),
            _ => format!("{}/", self.base),
        }
    }

    /// Rewrites `err`; `fallback` is the location of the call, used when the
    /// error carries no path of its own.
    fn locate(&self, err: Error, fallback: &str) -> Error {
        let at = |path: &str| {
            if path.is_empty() {
                fallback.to_string()
            } else {
                self.object(path)
            }
        };
        let cause = |err: &Error| -> Box<dyn StdError + Send + Sync> {
            describe(classify(err), &self.scheme, &self.bucket).into()
        };
        match err {
            Error::NotFound { ref path, .. } => {
                let source = match classify(&err) {
                    Cause::NoSuchBucket => cause(&err),
                    _ => "no such object".into(),
                };
                Error::NotFound {
                    path: at(path),
                    source,
                }
            }
            Error::AlreadyExists { ref path, .. } => Error::AlreadyExists {
                path: at(path),
                source: cause(&err),
            },
            Error::Precondition { ref path, .. } => Error::Precondition {
                path: at(path),
                source: cause(&err),
            },
            Error::NotModified { ref path, .. } => Error::NotModified {
                path: at(path),
                source: cause(&err),
            },
            Error::PermissionDenied { ref path, .. } => Error::PermissionDenied {
                path: at(path),
                source: cause(&err),
            },
            Error::Unauthenticated { ref path, .. } => Error::Unauthenticated {
                path: at(path),
                source: cause(&err),
            },
            Error::NotSupported { .. } => Error::NotSupported {
                source: format!("{fallback}: {}", cause(&err)).into(),
            },
            Error::Generic { store, .. } => Error::Generic {
                store,
                source: format!("{fallback}: {}", cause(&err)).into(),
            },
            // Already precise (bad path, configuration, unimplemented call).
            other => other,
        }
    }

    fn mapper(&self, fallback: String) -> impl Fn(Error) -> Error + Send + Sync + 'static {
        let site = self.clone();
        move |err| site.locate(err, &fallback)
    }
}

/// Why a request failed, as far as a user is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Cause {
    /// The server refused the credentials; the S3 error code if known.
    Credentials(String),
    NoSuchBucket,
    /// No answer from the endpoint (the URL if known) for this reason.
    Unreachable {
        endpoint: Option<String>,
        reason: &'static str,
    },
    /// An `http://` endpoint without `allow_http`.
    HttpNotAllowed {
        endpoint: Option<String>,
    },
    /// Anything else, as one line without XML.
    Other(String),
}

/// Error codes S3-compatible servers use for refused credentials.
const CREDENTIAL_CODES: [&str; 6] = [
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "AuthenticationFailed",
];

fn classify(err: &Error) -> Cause {
    let mut text = String::new();
    let mut kind = None;
    let mut level: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = level {
        text.push_str(&e.to_string());
        text.push('\n');
        if let Some(http) = e.downcast_ref::<HttpError>() {
            kind = Some(http.kind());
        }
        level = e.source();
    }
    classify_text(&text, kind)
}

fn classify_text(text: &str, kind: Option<HttpErrorKind>) -> Cause {
    if text.contains("NoSuchBucket") {
        return Cause::NoSuchBucket;
    }
    if let Some(code) = CREDENTIAL_CODES.iter().find(|c| text.contains(*c)) {
        return Cause::Credentials(code.to_string());
    }
    for status in ["403 Forbidden", "401 Unauthorized"] {
        if text.contains(status) {
            return Cause::Credentials(status.to_string());
        }
    }
    let lower = text.to_ascii_lowercase();
    let reason = if lower.contains("connection refused") {
        Some("connection refused")
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        Some("host name not found")
    } else if kind == Some(HttpErrorKind::Timeout) || lower.contains("timed out") {
        Some("timed out")
    } else if kind == Some(HttpErrorKind::Connect) || lower.contains("tcp connect error") {
        Some("cannot connect")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Cause::Unreachable {
            endpoint: endpoint(text),
            reason,
        };
    }
    if lower.contains("url scheme is not allowed") {
        return Cause::HttpNotAllowed {
            endpoint: endpoint(text),
        };
    }
    Cause::Other(tidy(text))
}

/// The first line of an error chain without object_store's request details
/// and XML, followed by the innermost cause when the first line lacks it.
fn tidy(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default();
    let last = lines.next_back().unwrap_or(first);
    let mut head = first;
    if let Some(rest) = head.strip_prefix("Generic ") {
        head = rest.split_once(" error: ").map_or(head, |(_, rest)| rest);
    }
    if head.starts_with("Error performing ") {
        head = head.split_once(" - ").map_or(head, |(_, rest)| rest);
    }
    let head = strip_xml(head);
    if first.contains(last) {
        head
    } else {
        format!("{head} ({})", strip_xml(last))
    }
}

/// The `scheme://host[:port]` of the first URL in `text`.
fn endpoint(text: &str) -> Option<String> {
    let start = text.find("http://").or_else(|| text.find("https://"))?;
    let word = text[start..].split_whitespace().next()?;
    let url = Url::parse(word).ok()?;
    Some(url[..url::Position::AfterPort].to_string())
}

/// Replaces an XML error body by its `Code: Message`.
fn strip_xml(text: &str) -> String {
    let Some(start) = text.find('<') else {
        return text.trim().to_string();
    };
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let from = text.find(&open)? + open.len();
        let to = text[from..].find("</")? + from;
        Some(text[from..to].trim().to_string())
    };
    let head = text[..start].trim().trim_end_matches(':').trim_end();
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{head} ({code}: {message})"),
        (Some(code), None) => format!("{head} ({code})"),
        _ => head.to_string(),
    }
}

fn describe(cause: Cause, scheme: &str, bucket: &str) -> String {
    match cause {
        Cause::Credentials(code) => {
            let what = if scheme == "s3" || scheme == "s3a" {
                "the access key and secret"
            } else {
                "the credentials"
            };
            format!("credentials refused ({code}): check {what}")
        }
        Cause::NoSuchBucket => format!("bucket '{bucket}' does not exist"),
        Cause::Unreachable { endpoint, reason } => format!(
            "cannot reach the endpoint {} ({reason})",
            endpoint.as_deref().unwrap_or("of the store")
        ),
        Cause::HttpNotAllowed { endpoint } => {
            let prefix = crate::stores::option_prefix(scheme).unwrap_or(scheme);
            format!(
                "the endpoint {} is http://, which is refused unless allowed: \
                 set allow_http = true in the profile or OPTIONS ('{prefix}.allow_http' 'true')",
                endpoint.as_deref().unwrap_or("of the store")
            )
        }
        Cause::Other(text) => text,
    }
}

// The trait is declared with `#[async_trait]`; these are its desugared
// signatures. `get_ranges` keeps its default, which reads through `get_opts`
// (as the remote stores this wraps do too).
impl ObjectStore for LocatedStore {
    fn put_opts<'a, 'b, 'f>(
        &'a self,
        location: &'b Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> BoxFuture<'f, Result<PutResult>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        let locate = self.site.mapper(self.site.object(location.as_ref()));
        self.inner
            .put_opts(location, payload, opts)
            .map_err(locate)
            .boxed()
    }

    fn put_multipart_opts<'a, 'b, 'f>(
        &'a self,
        location: &'b Path,
        opts: PutMultipartOptions,
    ) -> BoxFuture<'f, Result<Box<dyn MultipartUpload>>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        let at = self.site.object(location.as_ref());
        let site = self.site.clone();
        self.inner
            .put_multipart_opts(location, opts)
            .map(move |result| match result {
                Ok(inner) => Ok(Box::new(LocatedUpload { inner, site, at }) as _),
                Err(e) => Err(site.locate(e, &at)),
            })
            .boxed()
    }

    fn get_opts<'a, 'b, 'f>(
        &'a self,
        location: &'b Path,
        options: GetOptions,
    ) -> BoxFuture<'f, Result<GetResult>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        let at = self.site.object(location.as_ref());
        let locate = self.site.mapper(at.clone());
        let site = self.site.clone();
        self.inner
            .get_opts(location, options)
            .map(move |result| {
                let mut result = result.map_err(&locate)?;
                // The body streams later; its errors need the location too.
                if let GetResultPayload::Stream(stream) = result.payload {
                    result.payload =
                        GetResultPayload::Stream(stream.map_err(site.mapper(at)).boxed());
                }
                Ok(result)
            })
            .boxed()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let locate = self.site.mapper(self.site.prefix(None));
        self.inner.delete_stream(locations).map_err(locate).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let locate = self.site.mapper(self.site.prefix(prefix));
        self.inner.list(prefix).map_err(locate).boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let locate = self.site.mapper(self.site.prefix(prefix));
        self.inner
            .list_with_offset(prefix, offset)
            .map_err(locate)
            .boxed()
    }

    fn list_with_delimiter<'a, 'b, 'f>(
        &'a self,
        prefix: Option<&'b Path>,
    ) -> BoxFuture<'f, Result<ListResult>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        let locate = self.site.mapper(self.site.prefix(prefix));
        self.inner
            .list_with_delimiter(prefix)
            .map_err(locate)
            .boxed()
    }

    fn copy_opts<'a, 'b, 'c, 'f>(
        &'a self,
        from: &'b Path,
        to: &'c Path,
        options: CopyOptions,
    ) -> BoxFuture<'f, Result<()>>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        let locate = self.site.mapper(self.site.object(from.as_ref()));
        self.inner
            .copy_opts(from, to, options)
            .map_err(locate)
            .boxed()
    }

    fn rename_opts<'a, 'b, 'c, 'f>(
        &'a self,
        from: &'b Path,
        to: &'c Path,
        options: RenameOptions,
    ) -> BoxFuture<'f, Result<()>>
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        let locate = self.site.mapper(self.site.object(from.as_ref()));
        self.inner
            .rename_opts(from, to, options)
            .map_err(locate)
            .boxed()
    }
}

/// A multipart upload whose errors name the object being written.
#[derive(Debug)]
struct LocatedUpload {
    inner: Box<dyn MultipartUpload>,
    site: Site,
    at: String,
}

impl MultipartUpload for LocatedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let locate = self.site.mapper(self.at.clone());
        self.inner.put_part(data).map_err(locate).boxed()
    }

    fn complete<'a, 'f>(&'a mut self) -> BoxFuture<'f, Result<PutResult>>
    where
        'a: 'f,
        Self: 'f,
    {
        async move {
            let result = self.inner.complete().await;
            result.map_err(|e| self.site.locate(e, &self.at))
        }
        .boxed()
    }

    fn abort<'a, 'f>(&'a mut self) -> BoxFuture<'f, Result<()>>
    where
        'a: 'f,
        Self: 'f,
    {
        async move {
            let result = self.inner.abort().await;
            result.map_err(|e| self.site.locate(e, &self.at))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    const FORBIDDEN: &str = "Error performing GET http://127.0.0.1:9000/bucket/data/x.csv in 2ms - \
        Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated \
        does not match</Message></Error>";

    fn site() -> Site {
        let url = Url::parse("s3://bucket/data/x.csv").unwrap();
        LocatedStore::new(&url, Arc::new(InMemory::new())).site
    }

    #[test]
    fn refused_credentials() {
        for code in CREDENTIAL_CODES {
            let text = format!("403 Forbidden: <Error><Code>{code}</Code></Error>");
            assert_eq!(classify_text(&text, None), Cause::Credentials(code.into()));
        }
        assert_eq!(
            classify_text("Server returned non-2xx status code: 403 Forbidden: ", None),
            Cause::Credentials("403 Forbidden".into())
        );
        let err = Error::PermissionDenied {
            path: "data/x.csv".into(),
            source: FORBIDDEN.into(),
        };
        let message = site().locate(err, "unused").to_string();
        assert!(message.contains("s3://bucket/data/x.csv"), "{message}");
        assert!(
            message.contains(
                "credentials refused (SignatureDoesNotMatch): check the access key and secret"
            ),
            "{message}"
        );
        assert!(
            !message.contains('<') && !message.contains('\n'),
            "{message}"
        );
    }

    #[test]
    fn missing_bucket_stays_not_found() {
        let err = Error::NotFound {
            path: "data/x.csv".into(),
            source: "Server returned non-2xx status code: 404 Not Found: \
                     <Error><Code>NoSuchBucket</Code></Error>"
                .into(),
        };
        let located = site().locate(err, "unused");
        assert!(matches!(located, Error::NotFound { .. }), "{located:?}");
        let message = located.to_string();
        assert!(message.contains("s3://bucket/data/x.csv"), "{message}");
        assert!(
            message.contains("bucket 'bucket' does not exist"),
            "{message}"
        );
        // A bucket missing at listing time comes as a generic error.
        let err = Error::Generic {
            store: "S3",
            source: "Server returned non-2xx status code: 404 Not Found: \
                     <Error><Code>NoSuchBucket</Code></Error>"
                .into(),
        };
        let message = site().locate(err, "s3://bucket/data/").to_string();
        assert!(
            message.contains("s3://bucket/data/: bucket 'bucket' does not exist"),
            "{message}"
        );
    }

    #[test]
    fn unreachable_endpoints() {
        let text = "Error performing GET http://127.0.0.1:1/bucket/x.csv in 1s, after 3 retries - \
                    HTTP error: error sending request\nclient error (Connect)\n\
                    tcp connect error\nConnection refused (os error 111)";
        assert_eq!(
            classify_text(text, Some(HttpErrorKind::Connect)),
            Cause::Unreachable {
                endpoint: Some("http://127.0.0.1:1".into()),
                reason: "connection refused"
            }
        );
        let text = "Error performing GET https://s3.nowhere.invalid/x in 1s - dns error: \
                    failed to lookup address information";
        assert_eq!(
            classify_text(text, None),
            Cause::Unreachable {
                endpoint: Some("https://s3.nowhere.invalid".into()),
                reason: "host name not found"
            }
        );
        let cause = classify_text("HTTP error: operation timed out", None);
        assert_eq!(
            describe(cause, "s3", "b"),
            "cannot reach the endpoint of the store (timed out)"
        );
    }

    #[test]
    fn other_errors_lose_their_xml() {
        let text = "Server returned non-2xx status code: 500 Internal Server Error: \
                    <Error><Code>InternalError</Code><Message>boom</Message></Error>";
        assert_eq!(
            classify_text(text, None),
            Cause::Other(
                "Server returned non-2xx status code: 500 Internal Server Error \
                 (InternalError: boom)"
                    .into()
            )
        );
        // object_store's request details go; the innermost cause stays.
        let text = "Generic S3 error: Error performing HEAD http://h/b/x in 2ms - \
                    HTTP error: builder error\nbuilder error\nsomething odd\n";
        assert_eq!(
            classify_text(text, None),
            Cause::Other("HTTP error: builder error (something odd)".into())
        );
    }

    #[test]
    fn http_endpoint_without_allow_http() {
        let text = "Error performing HEAD http://127.0.0.1:9000/b/x in 2ms - HTTP error: \
                    builder error\nbuilder error\nURL scheme is not allowed\n";
        let cause = classify_text(text, None);
        assert_eq!(
            describe(cause, "s3", "b"),
            "the endpoint http://127.0.0.1:9000 is http://, which is refused unless allowed: \
             set allow_http = true in the profile or OPTIONS ('aws.allow_http' 'true')"
        );
    }

    #[tokio::test]
    async fn wrapped_store_keeps_not_found() {
        let url = Url::parse("s3://bucket").unwrap();
        let store = LocatedStore::new(&url, Arc::new(InMemory::new()));
        let err = store
            .get(&Path::from("data/missing.csv"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "Object at location s3://bucket/data/missing.csv not found: no such object"
        );
        store.put(&Path::from("a/b.csv"), "x".into()).await.unwrap();
        let bytes = store.get(&Path::from("a/b.csv")).await.unwrap();
        assert_eq!(bytes.bytes().await.unwrap().as_ref(), b"x");
    }
}
