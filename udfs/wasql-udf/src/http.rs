//! HTTP requests through the host: the import `wasql.http_fetch`
//! (udfs/ABI.md §7, "Network access").
//!
//! ```ignore
//! use wasql_udf::http::{self, Request};
//!
//! // One request.
//! let page = http::get("https://api.example.com/v1/rates")?;
//! if page.is_success() {
//!     let text = page.text()?;
//! }
//!
//! // Many requests in one host call: the host runs them concurrently.
//! let requests: Vec<Request> = urls.iter().map(|u| Request::get(u.as_str())).collect();
//! for result in http::fetch_all(&requests) { /* Result<Response, Error> */ }
//! ```
//!
//! The module asks for the hosts it needs with `capabilities =
//! ["net:api.example.com"]` on its `#[udf]` functions; that is a request
//! only. The operator's configuration decides which URLs are allowed (by
//! default none), adds secrets such as `Authorization` headers the module
//! never sees, and bounds time, size and concurrency. Identical requests
//! within one query may be answered from the host's cache.
//!
//! Outside wasql (a `cargo test` on the host) every request that is well
//! formed fails with "network access is only available inside wasql".

use std::fmt;

/// An HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `"GET"`; empty means GET.
    pub method: String,
    /// The absolute URL, e.g. `"https://api.example.com/v1/items?id=3"`.
    pub url: String,
    /// Headers, in order. Names are tokens (ASCII letters, digits and
    /// ``!#$%&'*+-.^_`|~``); values have no control characters other than
    /// tab. A request that breaks this is not sent: its result is an
    /// [`Error`].
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with `method`, no headers and no body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    /// A POST request with `body`.
    pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Request {
        Request::new("POST", url).body(body)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }
}

/// An HTTP response (any status: 404 is a response, not an [`Error`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code, 100 to 999.
    pub status: u16,
    /// Headers as the host passed them on, in order; names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text; an error if it is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::new(format!("the response body is not UTF-8: {e}")))
    }

    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request produced no [`Response`]: refused by the operator's
/// policy, timed out, too large, a connection error, a malformed request,
/// or no network access at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// The message (the host's, for a request the host could not answer).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Sends `request` and waits for its response.
pub fn fetch(request: &Request) -> Result<Response, Error> {
    fetch_all(std::slice::from_ref(request))
        .pop()
        .unwrap_or_else(|| Err(Error::new("the host returned no response")))
}

/// Sends a GET request for `url`.
pub fn get(url: &str) -> Result<Response, Error> {
    fetch(&Request::get(url))
}

/// Sends all `requests` in one call to the host, which runs them
/// concurrently (up to the operator's limit), and returns one result per
/// request, in order. Prefer it to a loop of [`fetch`] in a batch function.
pub fn fetch_all(requests: &[Request]) -> Vec<Result<Response, Error>> {
    #[cfg(target_family = "wasm")]
    let mut host = wasm::LinearMemory;
    #[cfg(not(target_family = "wasm"))]
    let mut host = Outside;
    fetch_with(requests, &mut host)
}

/// Where `fetch_all` sends requests: the host on wasm, [`Outside`]
/// elsewhere, a fake one in tests.
trait Host {
    /// Calls `wasql.http_fetch` with `requests.len()` requests (whose
    /// buffers are in the block at `requests_data`); `Err` when the call as
    /// a whole failed and no response was filled.
    fn call(
        &mut self,
        requests: &[RawRequest],
        requests_data: &[u8],
        responses: &mut [RawResponse],
    ) -> Result<(), Error>;

    /// The guest address of `bytes`.
    fn address(&self, bytes: &[u8]) -> u32;

    /// The size of linear memory in bytes; every buffer the host returns
    /// ends within it.
    fn memory_size(&self) -> u64;

    /// The `len` bytes at `ptr`, owned from now on: their memory is freed
    /// as `wasql_free(ptr, len, 1)` would when the `Vec` is dropped.
    ///
    /// # Safety
    /// `(ptr, len)` is a block the host allocated with `wasql_alloc(len,
    /// 1)` during the last call, not taken before, `len > 0`.
    unsafe fn take(&mut self, ptr: u32, len: u32) -> Vec<u8>;
}

/// The error of every well-formed request outside wasql.
#[cfg(any(test, not(target_family = "wasm")))]
const OUTSIDE_WASQL: &str = "network access is only available inside wasql";

/// A build for anything but wasm: there is no host to call.
#[cfg(any(test, not(target_family = "wasm")))]
struct Outside;

#[cfg(any(test, not(target_family = "wasm")))]
impl Host for Outside {
    fn call(&mut self, _: &[RawRequest], _: &[u8], _: &mut [RawResponse]) -> Result<(), Error> {
        Err(Error::new(OUTSIDE_WASQL))
    }

    fn address(&self, _: &[u8]) -> u32 {
        0
    }

    fn memory_size(&self) -> u64 {
        0
    }

    unsafe fn take(&mut self, _: u32, _: u32) -> Vec<u8> {
        Vec::new()
    }
}

#[cfg(target_family = "wasm")]
mod wasm {
    use super::{Error, Host, RawRequest, RawResponse};
    use crate::ffi::{guest_address, guest_ptr};

    #[link(wasm_import_module = "wasql")]
    unsafe extern "C" {
        /// `wasql.http_fetch(requests, count, responses) -> i32`.
        #[link_name = "http_fetch"]
        fn wasql_http_fetch(
            requests: *const RawRequest,
            count: i32,
            responses: *mut RawResponse,
        ) -> i32;
    }

    /// This module's own linear memory and the real import.
    pub struct LinearMemory;

    impl Host for LinearMemory {
        fn call(
            &mut self,
            requests: &[RawRequest],
            _: &[u8],
            responses: &mut [RawResponse],
        ) -> Result<(), Error> {
            let count = i32::try_from(requests.len())
                .ok()
                .filter(|_| responses.len() == requests.len())
                .ok_or_else(|| Error::new("too many requests for one call"))?;
            // SAFETY: the import (udfs/ABI.md §7) reads `count` request
            // structs at `requests` and the buffers they point to, and writes
            // `count` response structs at `responses`, during the call only:
            // requests is a live slice of count RawRequest (repr(C), the
            // ABI's layout) whose buffers are the caller's `data`, borrowed
            // for the whole call; responses is a live &mut slice of the same
            // length (checked above); both are aligned for their structs (4,
            // as the ABI asks); the host allocates what it returns with our
            // wasql_alloc, which touches no memory we hold.
            let code =
                unsafe { wasql_http_fetch(requests.as_ptr(), count, responses.as_mut_ptr()) };
            if code == 0 {
                Ok(())
            } else {
                Err(Error::new(format!(
                    "the host refused network access (wasql.http_fetch returned {code})"
                )))
            }
        }

        fn address(&self, bytes: &[u8]) -> u32 {
            guest_address(bytes.as_ptr())
        }

        fn memory_size(&self) -> u64 {
            core::arch::wasm32::memory_size::<0>() as u64 * 65536
        }

        unsafe fn take(&mut self, ptr: u32, len: u32) -> Vec<u8> {
            let len = len as usize;
            // SAFETY: Vec::from_raw_parts needs a pointer from the global
            // allocator with the layout of `len` u8's (align 1), `len`
            // initialised bytes, capacity = that allocation's size, and no
            // other owner: by take's contract the host allocated it with
            // wasql_alloc(len, 1) = std::alloc::alloc(Layout(len, 1)) (len > 0),
            // wrote its len bytes, and nobody has taken it before; the guest
            // owns it from now on (ABI.md §7, "Buffers").
            unsafe { Vec::from_raw_parts(guest_ptr::<u8>(ptr), len, len) }
        }
    }
}

/// `WasqlHttpRequest`: 32 bytes, pointers and lengths as u32 (on wasm32,
/// little-endian in memory just as the ABI lays it out).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RawRequest {
    method_ptr: u32,
    method_len: u32,
    url_ptr: u32,
    url_len: u32,
    headers_ptr: u32,
    headers_len: u32,
    body_ptr: u32,
    body_len: u32,
}

/// `WasqlHttpResponse`: 32 bytes, filled in by the host.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RawResponse {
    status: i32,
    headers_ptr: u32,
    headers_len: u32,
    body_ptr: u32,
    body_len: u32,
    error_ptr: u32,
    error_len: u32,
    reserved: u32,
}

const _: () = assert!(std::mem::size_of::<RawRequest>() == 32);
const _: () = assert!(std::mem::align_of::<RawRequest>() == 4);
const _: () = assert!(std::mem::size_of::<RawResponse>() == 32);
const _: () = assert!(std::mem::align_of::<RawResponse>() == 4);

/// A byte range of an [`Encoded`] block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    offset: u32,
    len: u32,
}

impl Span {
    /// `(ptr, len)` in a block at guest address `base`; `(0, 0)` when empty.
    fn at(self, base: u32) -> (u32, u32) {
        if self.len == 0 {
            (0, 0)
        } else {
            (base.wrapping_add(self.offset), self.len)
        }
    }
}

/// The requests of one host call laid out in one block of bytes: each
/// request's method, URL, header lines and body, one after the other.
#[derive(Debug, Default)]
struct Encoded {
    data: Vec<u8>,
    /// Per request: method, URL, headers, body.
    spans: Vec<[Span; 4]>,
}

impl Encoded {
    /// Lays out `requests` (already checked with [`check_request`]).
    fn new(requests: &[&Request]) -> Result<Encoded, Error> {
        let mut encoded = Encoded::default();
        for request in requests {
            let method = encoded.push(request.method.as_bytes())?;
            let url = encoded.push(request.url.as_bytes())?;
            let start = encoded.data.len();
            for (i, (name, value)) in request.headers.iter().enumerate() {
                if i > 0 {
                    encoded.data.push(b'\n');
                }
                encoded.data.extend_from_slice(name.as_bytes());
                encoded.data.extend_from_slice(b": ");
                encoded.data.extend_from_slice(value.as_bytes());
            }
            let headers = encoded.span_from(start)?;
            let body = encoded.push(&request.body)?;
            encoded.spans.push([method, url, headers, body]);
        }
        Ok(encoded)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<Span, Error> {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.span_from(start)
    }

    fn span_from(&self, start: usize) -> Result<Span, Error> {
        let too_large = || Error::new("the requests are too large for one call");
        Ok(Span {
            offset: u32::try_from(start).map_err(|_| too_large())?,
            len: u32::try_from(self.data.len() - start).map_err(|_| too_large())?,
        })
    }

    /// The request structs, for the block at guest address `base`.
    fn raw_requests(&self, base: u32) -> Vec<RawRequest> {
        self.spans
            .iter()
            .map(|[method, url, headers, body]| {
                let (method_ptr, method_len) = method.at(base);
                let (url_ptr, url_len) = url.at(base);
                let (headers_ptr, headers_len) = headers.at(base);
                let (body_ptr, body_len) = body.at(base);
                RawRequest {
                    method_ptr,
                    method_len,
                    url_ptr,
                    url_len,
                    headers_ptr,
                    headers_len,
                    body_ptr,
                    body_len,
                }
            })
            .collect()
    }
}

/// RFC 9110 `tchar`: what a method or a header name is made of.
fn is_token(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why `request` cannot be sent as it is, if it cannot: the header block is
/// lines of `name: value`, so a name or value must not break a line.
fn check_request(request: &Request) -> Result<(), Error> {
    if !is_token(&request.method) {
        return Err(Error::new(format!(
            "invalid HTTP method {:?} for {}",
            request.method, request.url
        )));
    }
    if request.url.is_empty() {
        return Err(Error::new("a request without a URL"));
    }
    for (name, value) in &request.headers {
        if name.is_empty() || !is_token(name) {
            return Err(Error::new(format!(
                "invalid header name {name:?} in the request for {}",
                request.url
            )));
        }
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(Error::new(format!(
                "invalid value of header {name} in the request for {}",
                request.url
            )));
        }
    }
    Ok(())
}

/// [`fetch_all`] through `host`: checks the requests, sends the good ones
/// in one call and decodes the answers.
fn fetch_with(requests: &[Request], host: &mut impl Host) -> Vec<Result<Response, Error>> {
    let mut results: Vec<Option<Result<Response, Error>>> = requests
        .iter()
        .map(|r| check_request(r).err().map(Err))
        .collect();
    let (indices, to_send): (Vec<usize>, Vec<&Request>) = requests
        .iter()
        .enumerate()
        .filter(|(i, _)| results[*i].is_none())
        .unzip();
    if !to_send.is_empty() {
        let answers = Encoded::new(&to_send)
            .and_then(|encoded| {
                let raw = encoded.raw_requests(host.address(&encoded.data));
                let mut responses = vec![RawResponse::default(); raw.len()];
                host.call(&raw, &encoded.data, &mut responses)?;
                // SAFETY: decode_responses needs `responses` to be what a
                // successful http_fetch filled in, its buffers not yet taken:
                // the call returned Ok (code 0), and they are fresh (ABI.md
                // §7: each non-empty buffer from wasql_alloc(len, 1), ours
                // to free once).
                Ok(unsafe { decode_responses(&responses, host) })
            })
            .unwrap_or_else(|e| vec![Err(e); to_send.len()]);
        for (i, answer) in indices.into_iter().zip(answers) {
            results[i] = Some(answer);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::new("the host returned no response"))))
        .collect()
}

/// Which buffer of a response (its index in a response's three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Headers = 0,
    Body = 1,
    Error = 2,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Headers => "headers",
            Field::Body => "body",
            Field::Error => "error message",
        }
    }
}

/// Turns what the host filled in into results, taking ownership of every
/// buffer it returned exactly once. Nothing is trusted: a buffer that is not
/// inside memory is left alone (freeing it could only do harm) and its
/// response becomes an error; if any two buffers overlap, the host is
/// broken, no buffer is touched and every response is an error.
///
/// # Safety
/// `raw` is what a successful `wasql.http_fetch` call filled in: each buffer
/// that does lie within memory and overlaps no other was allocated with
/// `wasql_alloc(len, 1)` and has not been taken yet.
unsafe fn decode_responses(
    raw: &[RawResponse],
    host: &mut impl Host,
) -> Vec<Result<Response, Error>> {
    let memory = host.memory_size();
    // Every non-empty buffer: (ptr, len, response, field).
    let mut buffers: Vec<(u32, u32, usize, Field)> = Vec::with_capacity(raw.len() * 2);
    let mut bad: Vec<Option<String>> = vec![None; raw.len()];
    for (i, r) in raw.iter().enumerate() {
        for (ptr, len, field) in [
            (r.headers_ptr, r.headers_len, Field::Headers),
            (r.body_ptr, r.body_len, Field::Body),
            (r.error_ptr, r.error_len, Field::Error),
        ] {
            if len == 0 {
                continue;
            }
            if ptr == 0 || u64::from(ptr) + u64::from(len) > memory {
                bad[i] = Some(format!(
                    "the host returned a {} buffer of {len} bytes at {ptr:#x}, outside memory",
                    field.name()
                ));
            } else {
                buffers.push((ptr, len, i, field));
            }
        }
    }
    buffers.sort_unstable_by_key(|b| b.0);
    let mut end = 0u64;
    for &(ptr, len, ..) in &buffers {
        if u64::from(ptr) < end {
            let message = "the host returned overlapping buffers";
            return vec![Err(Error::new(message)); raw.len()];
        }
        end = u64::from(ptr) + u64::from(len);
    }
    let mut owned: Vec<[Vec<u8>; 3]> = vec![Default::default(); raw.len()];
    for (ptr, len, i, field) in buffers {
        // SAFETY: take needs a block of len > 0 bytes from
        // wasql_alloc(len, 1) during the last call, not taken before: len is
        // non-zero (empty ones skipped), the caller's contract has every
        // in-memory, non-overlapping buffer be such a block, this one was
        // checked to be in memory and to overlap no other, and each
        // (ptr, len) appears once in `buffers`, so it is taken once.
        owned[i][field as usize] = unsafe { host.take(ptr, len) };
    }
    raw.iter()
        .zip(owned)
        .zip(bad)
        .map(|((r, [headers, body, error]), bad)| {
            if let Some(message) = bad {
                return Err(Error::new(message));
            }
            match r.status {
                0 if error.is_empty() => Err(Error::new("the request failed without a message")),
                0 => Err(Error::new(String::from_utf8_lossy(&error))),
                status @ 100..=999 => Ok(Response {
                    status: status as u16,
                    headers: parse_headers(&headers),
                    body,
                }),
                status => Err(Error::new(format!(
                    "the host returned the invalid HTTP status {status}"
                ))),
            }
        })
        .collect()
}

/// `name: value` lines, separated by `\n` (a `\r` before it is dropped),
/// names lowercased, both trimmed; lines without a name are skipped.
fn parse_headers(block: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(block)
        .split('\n')
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            (!name.is_empty()).then(|| {
                (
                    name.to_ascii_lowercase(),
                    value.trim_matches([' ', '\t', '\r']).to_owned(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A request as the fake host read it from the block.
    #[derive(Debug, PartialEq, Eq)]
    struct Seen {
        method: String,
        url: String,
        headers: String,
        body: Vec<u8>,
    }

    /// What the fake host answers for one request.
    #[derive(Clone, Default)]
    struct Answer {
        status: i32,
        headers: Vec<u8>,
        body: Vec<u8>,
        error: Vec<u8>,
    }

    /// A host over a pretend linear memory: it reads the requests through
    /// their guest addresses and allocates its answers at fresh addresses,
    /// recording which blocks the guest takes.
    struct FakeHost {
        base: u32,
        memory: u64,
        code: i32,
        seen: Vec<Seen>,
        answer: Box<dyn FnMut(&Seen) -> Answer>,
        /// Overwrites the filled responses (for broken hosts).
        tamper: fn(&mut [RawResponse]),
        next: u32,
        blocks: BTreeMap<u32, Vec<u8>>,
        taken: Vec<u32>,
        calls: usize,
    }

    impl FakeHost {
        fn new(answer: impl FnMut(&Seen) -> Answer + 'static) -> FakeHost {
            FakeHost {
                base: 0x1_0000,
                memory: 1 << 24,
                code: 0,
                seen: Vec::new(),
                answer: Box::new(answer),
                tamper: |_| {},
                next: 0x10_0000,
                blocks: BTreeMap::new(),
                taken: Vec::new(),
                calls: 0,
            }
        }

        /// `wasql_alloc(len, 1)` for a non-empty buffer.
        fn alloc(&mut self, bytes: &[u8]) -> (u32, u32) {
            if bytes.is_empty() {
                return (0, 0);
            }
            let ptr = self.next;
            self.next += bytes.len() as u32 + 8;
            self.blocks.insert(ptr, bytes.to_vec());
            (ptr, bytes.len() as u32)
        }

        fn read(&self, data: &[u8], ptr: u32, len: u32) -> Vec<u8> {
            if len == 0 {
                assert_eq!(ptr, 0, "an empty buffer has pointer 0");
                return Vec::new();
            }
            let at = (ptr - self.base) as usize;
            data[at..at + len as usize].to_vec()
        }

        fn text(&self, data: &[u8], ptr: u32, len: u32) -> String {
            String::from_utf8(self.read(data, ptr, len)).unwrap()
        }

        /// Every block allocated was taken, each once.
        fn assert_all_taken(&self) {
            let mut taken = self.taken.clone();
            taken.sort_unstable();
            assert_eq!(taken, self.blocks.keys().copied().collect::<Vec<_>>());
        }
    }

    impl Host for FakeHost {
        fn call(
            &mut self,
            requests: &[RawRequest],
            data: &[u8],
            responses: &mut [RawResponse],
        ) -> Result<(), Error> {
            self.calls += 1;
            assert_eq!(requests.len(), responses.len());
            if self.code != 0 {
                return Err(Error::new(format!("code {}", self.code)));
            }
            for (r, out) in requests.iter().zip(responses.iter_mut()) {
                assert_eq!(*out, RawResponse::default(), "responses start zeroed");
                let seen = Seen {
                    method: self.text(data, r.method_ptr, r.method_len),
                    url: self.text(data, r.url_ptr, r.url_len),
                    headers: self.text(data, r.headers_ptr, r.headers_len),
                    body: self.read(data, r.body_ptr, r.body_len),
                };
                let answer = (self.answer)(&seen);
                self.seen.push(seen);
                let (headers_ptr, headers_len) = self.alloc(&answer.headers);
                let (body_ptr, body_len) = self.alloc(&answer.body);
                let (error_ptr, error_len) = self.alloc(&answer.error);
                *out = RawResponse {
                    status: answer.status,
                    headers_ptr,
                    headers_len,
                    body_ptr,
                    body_len,
                    error_ptr,
                    error_len,
                    reserved: 0,
                };
            }
            (self.tamper)(responses);
            Ok(())
        }

        fn address(&self, _: &[u8]) -> u32 {
            self.base
        }

        fn memory_size(&self) -> u64 {
            self.memory
        }

        unsafe fn take(&mut self, ptr: u32, len: u32) -> Vec<u8> {
            assert!(len > 0);
            assert!(!self.taken.contains(&ptr), "block {ptr:#x} taken twice");
            let block = self
                .blocks
                .get(&ptr)
                .expect("not a block the host allocated");
            assert_eq!(block.len(), len as usize);
            self.taken.push(ptr);
            block.clone()
        }
    }

    fn ok(status: i32, headers: impl AsRef<[u8]>, body: impl AsRef<[u8]>) -> Answer {
        Answer {
            status,
            headers: headers.as_ref().to_vec(),
            body: body.as_ref().to_vec(),
            error: Vec::new(),
        }
    }

    fn failed(error: &str) -> Answer {
        Answer {
            error: error.as_bytes().to_vec(),
            ..Answer::default()
        }
    }

    #[test]
    fn struct_layouts_match_the_abi() {
        use std::mem::offset_of;
        assert_eq!(
            [
                offset_of!(RawRequest, method_ptr),
                offset_of!(RawRequest, method_len),
                offset_of!(RawRequest, url_ptr),
                offset_of!(RawRequest, url_len),
                offset_of!(RawRequest, headers_ptr),
                offset_of!(RawRequest, headers_len),
                offset_of!(RawRequest, body_ptr),
                offset_of!(RawRequest, body_len),
            ],
            [0, 4, 8, 12, 16, 20, 24, 28]
        );
        assert_eq!(
            [
                offset_of!(RawResponse, status),
                offset_of!(RawResponse, headers_ptr),
                offset_of!(RawResponse, headers_len),
                offset_of!(RawResponse, body_ptr),
                offset_of!(RawResponse, body_len),
                offset_of!(RawResponse, error_ptr),
                offset_of!(RawResponse, error_len),
                offset_of!(RawResponse, reserved),
            ],
            [0, 4, 8, 12, 16, 20, 24, 28]
        );
    }

    #[test]
    fn requests_are_laid_out_in_one_block() {
        let a = Request::post("https://a.example/x", b"{}".to_vec())
            .header("Content-Type", "application/json")
            .header("X-Id", "7");
        let b = Request::new("", "https://b.example/");
        let encoded = Encoded::new(&[&a, &b]).unwrap();
        assert_eq!(
            encoded.data,
            b"POSThttps://a.example/xContent-Type: application/json\nX-Id: 7{}https://b.example/"
        );
        let raw = encoded.raw_requests(1000);
        assert_eq!(
            raw,
            [
                RawRequest {
                    method_ptr: 1000,
                    method_len: 4,
                    url_ptr: 1004,
                    url_len: 19,
                    headers_ptr: 1023,
                    headers_len: 38,
                    body_ptr: 1061,
                    body_len: 2,
                },
                RawRequest {
                    method_ptr: 0,
                    method_len: 0,
                    url_ptr: 1063,
                    url_len: 18,
                    headers_ptr: 0,
                    headers_len: 0,
                    body_ptr: 0,
                    body_len: 0,
                },
            ]
        );
    }

    #[test]
    fn fetch_all_round_trip_frees_every_buffer_once() {
        let mut host = FakeHost::new(|seen| match seen.url.as_str() {
            "https://a.example/" => ok(
                200,
                "content-type: text/plain\nX-Mixed:  v1 \r\nbroken line\n: no name",
                "hello",
            ),
            "https://b.example/missing" => ok(404, "", "not here"),
            _ => failed("refused by policy: no rule allows https://c.example/"),
        });
        let requests = [
            Request::get("https://a.example/").header("Accept", "text/plain"),
            Request::get("https://b.example/missing"),
            Request::new("DELETE", "https://c.example/").body("x"),
        ];
        let results = fetch_with(&requests, &mut host);
        assert_eq!(host.calls, 1, "one host call for the batch");
        assert_eq!(
            host.seen[0],
            Seen {
                method: "GET".into(),
                url: "https://a.example/".into(),
                headers: "Accept: text/plain".into(),
                body: Vec::new(),
            }
        );
        assert_eq!(host.seen[2].method, "DELETE");
        assert_eq!(host.seen[2].body, b"x");

        let a = results[0].as_ref().unwrap();
        assert_eq!(a.status, 200);
        assert!(a.is_success());
        assert_eq!(a.text().unwrap(), "hello");
        assert_eq!(
            a.headers,
            [
                ("content-type".to_string(), "text/plain".to_string()),
                ("x-mixed".to_string(), "v1".to_string())
            ]
        );
        assert_eq!(a.header("Content-Type"), Some("text/plain"));
        assert_eq!(a.header("x-absent"), None);

        let b = results[1].as_ref().unwrap();
        assert_eq!((b.status, b.is_success()), (404, false));
        assert_eq!(b.body, b"not here");

        let c = results[2].as_ref().unwrap_err();
        assert_eq!(
            c.message(),
            "refused by policy: no rule allows https://c.example/"
        );
        assert_eq!(c.to_string(), c.message());
        host.assert_all_taken();
    }

    #[test]
    fn malformed_requests_are_not_sent() {
        let mut host = FakeHost::new(|_| ok(204, "", ""));
        let requests = [
            Request::get("https://a.example/").header("X-Evil", "a\r\nAuthorization: x"),
            Request::get("https://a.example/").header("Bad Name", "x"),
            Request::new("GE T", "https://a.example/"),
            Request::get(""),
            Request::get("https://a.example/ok").header("X-Tab", "a\tb"),
        ];
        let results = fetch_with(&requests, &mut host);
        assert_eq!(host.seen.len(), 1);
        assert_eq!(host.seen[0].url, "https://a.example/ok");
        assert_eq!(host.seen[0].headers, "X-Tab: a\tb");
        let messages: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().err().map(Error::message))
            .collect();
        assert_eq!(
            messages,
            [
                Some("invalid value of header X-Evil in the request for https://a.example/"),
                Some("invalid header name \"Bad Name\" in the request for https://a.example/"),
                Some("invalid HTTP method \"GE T\" for https://a.example/"),
                Some("a request without a URL"),
                None,
            ]
        );
        assert_eq!(results[4].as_ref().unwrap().status, 204);

        // Nothing valid: no call at all; nothing at all: no call either.
        let mut host = FakeHost::new(|_| unreachable!());
        assert!(fetch_with(&requests[..1], &mut host)[0].is_err());
        assert!(fetch_with(&[], &mut host).is_empty());
        assert_eq!(host.calls, 0);
    }

    #[test]
    fn a_refused_call_fails_every_request() {
        let mut host = FakeHost::new(|_| unreachable!());
        host.code = 3;
        let results = fetch_with(
            &[Request::get("https://a/"), Request::get("https://b/")],
            &mut host,
        );
        assert_eq!(
            results,
            vec![Err(Error::new("code 3")), Err(Error::new("code 3"))]
        );
        assert!(host.blocks.is_empty());
    }

    #[test]
    fn outside_wasql_requests_fail() {
        let results = fetch_with(
            &[Request::get("https://a.example/"), Request::get("")],
            &mut Outside,
        );
        assert_eq!(results[0], Err(Error::new(OUTSIDE_WASQL)));
        assert_eq!(results[1], Err(Error::new("a request without a URL")));
        #[cfg(not(target_family = "wasm"))]
        assert_eq!(get("https://a.example/"), Err(Error::new(OUTSIDE_WASQL)));
    }

    #[test]
    fn odd_statuses_and_text() {
        let mut host = FakeHost::new(|seen| match seen.url.as_str() {
            "https://a/neg" => ok(-1, "a: b", "x"),
            "https://a/big" => ok(1000, "", ""),
            "https://a/small" => ok(99, "", ""),
            "https://a/silent" => Answer::default(),
            "https://a/both" => Answer {
                status: 500,
                body: b"oops".to_vec(),
                error: b"ignored".to_vec(),
                ..Answer::default()
            },
            "https://a/lossy" => Answer {
                status: 0,
                headers: b"h: 1".to_vec(),
                body: b"b".to_vec(),
                error: b"bad \xff byte".to_vec(),
            },
            _ => ok(200, b"content-type: \xe2\x82", b"\xff\xfe"),
        });
        let urls = [
            "https://a/neg",
            "https://a/big",
            "https://a/small",
            "https://a/silent",
            "https://a/both",
            "https://a/lossy",
            "https://a/binary",
        ];
        let requests: Vec<_> = urls.iter().map(|u| Request::get(*u)).collect();
        let results = fetch_with(&requests, &mut host);
        let err = |i: usize| results[i].as_ref().unwrap_err().message().to_string();
        assert_eq!(err(0), "the host returned the invalid HTTP status -1");
        assert_eq!(err(1), "the host returned the invalid HTTP status 1000");
        assert_eq!(err(2), "the host returned the invalid HTTP status 99");
        assert_eq!(err(3), "the request failed without a message");
        let both = results[4].as_ref().unwrap();
        assert_eq!((both.status, both.body.as_slice()), (500, &b"oops"[..]));
        assert_eq!(err(5), "bad \u{fffd} byte");
        let binary = results[6].as_ref().unwrap();
        assert_eq!(binary.body, [0xff, 0xfe]);
        assert_eq!(binary.header("content-type"), Some("\u{fffd}"));
        assert!(
            binary
                .text()
                .unwrap_err()
                .message()
                .starts_with("the response body is not UTF-8")
        );
        host.assert_all_taken();
    }

    #[test]
    fn buffers_outside_memory_are_not_freed() {
        let mut host = FakeHost::new(|_| ok(200, "a: 1", "body"));
        host.memory = 0x20_0000;
        host.tamper = |responses| {
            // 0: body ends past memory; 1: a null pointer with a length;
            // 2: a length past 4 GiB.
            responses[0].body_ptr = 0x1F_FFFE;
            responses[1].headers_ptr = 0;
            responses[2].body_len = u32::MAX;
        };
        let requests: Vec<_> = (0..4)
            .map(|i| Request::get(format!("https://a/{i}")))
            .collect();
        let results = fetch_with(&requests, &mut host);
        for r in &results[..3] {
            assert!(
                r.as_ref().unwrap_err().message().contains("outside memory"),
                "{r:?}"
            );
        }
        assert_eq!(results[3].as_ref().unwrap().body, b"body");
        // The good buffers of the bad responses are still freed.
        let mut expected: Vec<u32> = host.blocks.keys().copied().collect();
        let first_body = *host.blocks.keys().nth(1).unwrap();
        let third_body = *host.blocks.keys().nth(5).unwrap();
        let second_headers = *host.blocks.keys().nth(2).unwrap();
        expected.retain(|b| ![first_body, third_body, second_headers].contains(b));
        let mut taken = host.taken.clone();
        taken.sort_unstable();
        assert_eq!(taken, expected);
    }

    #[test]
    fn overlapping_buffers_touch_nothing() {
        let mut host = FakeHost::new(|_| ok(200, "a: 1", "body"));
        host.tamper = |responses| responses[1].body_ptr = responses[0].body_ptr + 1;
        let requests = [Request::get("https://a/"), Request::get("https://b/")];
        let results = fetch_with(&requests, &mut host);
        let message = Error::new("the host returned overlapping buffers");
        assert_eq!(results, vec![Err(message.clone()), Err(message)]);
        assert!(host.taken.is_empty());
    }

    #[test]
    fn empty_buffers_with_a_pointer_are_empty() {
        let mut host = FakeHost::new(|_| ok(200, "", ""));
        host.tamper = |responses| {
            responses[0].body_ptr = 8;
            responses[0].reserved = 1;
        };
        let r = fetch_with(&[Request::get("https://a/")], &mut host);
        assert_eq!(
            r,
            vec![Ok(Response {
                status: 200,
                headers: Vec::new(),
                body: Vec::new()
            })]
        );
    }

    #[test]
    fn header_lines() {
        assert_eq!(
            parse_headers(b"A: 1\r\n\nB:2\nno colon\n :x\nC: x: y\n"),
            [
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "2".to_string()),
                ("c".to_string(), "x: y".to_string())
            ]
        );
        assert!(parse_headers(b"").is_empty());
    }
}
