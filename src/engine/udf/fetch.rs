//! The host import `wasql.http_fetch` (udfs/ABI.md, "Network access"): a
//! guest hands over request structs, the host sends them through the
//! session's network (policy, limits, cache, audit) and writes response
//! structs whose buffers it allocates with the guest's own `wasql_alloc`.
//! Every pointer and length the guest passes is checked against its memory;
//! a bad one traps the call.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{AsContextMut, Caller, Linker, Memory};

use super::exports::{Alloc, Typed};
use crate::net::{self, Net, Outcome, Request};
use crate::text::escape_control;

/// What `wasql.http_fetch` needs of a store's state.
pub trait HasNet {
    /// The session's network.
    fn net(&self) -> &Arc<Net>;
    /// The module and function calling, as the network policy sees them.
    fn caller(&self) -> &net::Caller;
    /// Counts `wait` as time spent on the network; returns the epoch ticks
    /// of compute time the call has left, or `None` when its deadline has
    /// passed.
    fn after_wait(&mut self, wait: Duration) -> Option<u64>;
}

/// The import's module and name.
pub const MODULE: &str = "wasql";
pub const NAME: &str = "http_fetch";

/// Size of `WasqlHttpRequest` and `WasqlHttpResponse`.
const STRUCT: usize = 32;
/// Most requests one call may pass.
const MAX_REQUESTS: usize = 10_000;
/// Most bytes of requests (methods, URLs, headers, bodies) one call may pass.
const MAX_REQUEST_BYTES: u64 = 64 << 20;
/// Longest URL or header block.
const MAX_FIELD: u32 = 64 << 10;

type Fault = wasmtime::Error;

fn fault(message: String) -> Fault {
    wasmtime::Error::msg(format!("http_fetch: {message}"))
}

/// `len` bytes of guest memory at `ptr`.
fn slice(data: &[u8], ptr: u32, len: u32, what: &str) -> Result<Vec<u8>, Fault> {
    let (ptr, len) = (ptr as usize, len as usize);
    ptr.checked_add(len)
        .and_then(|end| data.get(ptr..end))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            fault(format!(
                "{what} at {ptr:#x} ({len} bytes) is outside guest memory"
            ))
        })
}

fn text(bytes: Vec<u8>, what: &str) -> Result<String, Fault> {
    String::from_utf8(bytes).map_err(|_| fault(format!("{what} is not UTF-8")))
}

fn field(block: &[u8], index: usize) -> u32 {
    u32::from_le_bytes(block[4 * index..4 * index + 4].try_into().expect("4 bytes"))
}

/// Reads request `i` of the array at `at`.
fn read_request(data: &[u8], at: u32, i: usize) -> Result<Request, Fault> {
    let what = format!("request {i}");
    let base = at
        .checked_add((i * STRUCT) as u32)
        .ok_or_else(|| fault(format!("{what} is outside guest memory")))?;
    let block = slice(data, base, STRUCT as u32, &what)?;
    let part = |n: usize, name: &str| {
        let len = field(&block, 2 * n + 1);
        if n < 3 && len > MAX_FIELD {
            return Err(fault(format!(
                "{what}'s {name} is {len} bytes; at most {MAX_FIELD}"
            )));
        }
        slice(data, field(&block, 2 * n), len, &format!("{what}'s {name}"))
    };
    let method = text(part(0, "method")?, &format!("{what}'s method"))?;
    let url = text(part(1, "url")?, &format!("{what}'s url"))?;
    let headers = text(part(2, "headers")?, &format!("{what}'s headers"))?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
            None => Err(fault(format!(
                "{what}: header line '{}' is not 'Name: value'",
                escape_control(line)
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Request {
        method: if method.is_empty() {
            "GET".into()
        } else {
            method
        },
        url,
        headers,
        body: part(3, "body")?,
    })
}

/// Copies `bytes` into a fresh guest block; (0, 0) for none.
fn put<T>(
    caller: &mut Caller<'_, T>,
    memory: &Memory,
    alloc: &Typed<Alloc>,
    bytes: &[u8],
) -> Result<(u32, u32), Fault> {
    if bytes.is_empty() {
        return Ok((0, 0));
    }
    let len = i32::try_from(bytes.len())
        .map_err(|_| fault("a response is too large for a 32-bit guest".into()))?;
    let ptr = alloc.call(&mut *caller, (len, 1))? as u32;
    if ptr == 0 {
        return Err(fault(format!(
            "wasql_alloc could not allocate {len} bytes for a response"
        )));
    }
    let data = memory.data_mut(&mut *caller);
    let target = (ptr as usize)
        .checked_add(bytes.len())
        .and_then(|end| data.get_mut(ptr as usize..end))
        .ok_or_else(|| fault("wasql_alloc returned memory outside guest memory".into()))?;
    target.copy_from_slice(bytes);
    Ok((ptr, len as u32))
}

/// Writes response `i` of the array at `at`.
fn write_response<T>(
    caller: &mut Caller<'_, T>,
    memory: &Memory,
    alloc: &Typed<Alloc>,
    at: u32,
    i: usize,
    outcome: &Outcome,
) -> Result<(), Fault> {
    let (status, headers, body, error) = match outcome {
        Ok(response) => {
            let headers: String = response
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}\n"))
                .collect();
            (
                i32::from(response.status),
                headers,
                response.body.as_slice(),
                "",
            )
        }
        Err(message) => (0, String::new(), &[][..], message.as_str()),
    };
    let headers = put(caller, memory, alloc, headers.as_bytes())?;
    let body = put(caller, memory, alloc, body)?;
    let error = put(caller, memory, alloc, error.as_bytes())?;
    let mut block = [0u8; STRUCT];
    for (slot, value) in [
        status as u32,
        headers.0,
        headers.1,
        body.0,
        body.1,
        error.0,
        error.1,
        0,
    ]
    .into_iter()
    .enumerate()
    {
        block[4 * slot..4 * slot + 4].copy_from_slice(&value.to_le_bytes());
    }
    let base = at as usize + i * STRUCT;
    memory
        .data_mut(&mut *caller)
        .get_mut(base..base + STRUCT)
        .ok_or_else(|| fault(format!("response {i} is outside guest memory")))?
        .copy_from_slice(&block);
    Ok(())
}

/// Defines `wasql.http_fetch` in `linker`.
pub fn add_to_linker<T: HasNet + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        NAME,
        |mut caller: Caller<'_, T>,
         requests: i32,
         count: i32,
         responses: i32|
         -> wasmtime::Result<i32> {
            let memory = caller
                .get_export(wasql_abi::export::MEMORY)
                .and_then(|e| e.into_memory())
                .ok_or_else(|| fault("the module exports no memory".into()))?;
            let count = usize::try_from(count)
                .ok()
                .filter(|&n| n <= MAX_REQUESTS)
                .ok_or_else(|| {
                    fault(format!(
                        "{count} requests: 0 to {MAX_REQUESTS} may be passed"
                    ))
                })?;
            let (requests, responses) = (requests as u32, responses as u32);
            let data = memory.data(&caller);
            let wanted = responses
                .checked_add((count * STRUCT) as u32)
                .filter(|end| *end as usize <= data.len());
            if wanted.is_none() {
                return Err(fault(format!(
                    "{count} responses at {responses:#x} do not fit guest memory"
                )));
            }
            let mut total: u64 = 0;
            let mut batch = Vec::with_capacity(count);
            for i in 0..count {
                let request = read_request(data, requests, i)?;
                total += (request.method.len() + request.url.len() + request.body.len()) as u64
                    + request
                        .headers
                        .iter()
                        .map(|(n, v)| (n.len() + v.len()) as u64)
                        .sum::<u64>();
                if total > MAX_REQUEST_BYTES {
                    return Err(fault(format!(
                        "the requests of one call may hold at most {} MiB",
                        MAX_REQUEST_BYTES >> 20
                    )));
                }
                batch.push(request);
            }
            let alloc: Typed<Alloc> = caller
                .get_export(wasql_abi::export::ALLOC)
                .and_then(|e| e.into_func())
                .ok_or_else(|| fault("the module does not export wasql_alloc".into()))?
                .typed(&caller)?;
            let state = caller.data();
            let (net, who) = (Arc::clone(state.net()), state.caller().clone());
            let waiting = std::time::Instant::now();
            let outcomes = net.fetch_blocking(&who, batch);
            // Time spent waiting on the network does not count against the
            // call's compute deadline; the compute time before it does.
            let Some(left) = caller.data_mut().after_wait(waiting.elapsed()) else {
                return Err(wasmtime::Trap::Interrupt.into());
            };
            caller.as_context_mut().set_epoch_deadline(left);
            for (i, outcome) in outcomes.iter().enumerate() {
                write_response(&mut caller, &memory, &alloc, responses, i, outcome)?;
            }
            Ok(0)
        },
    )?;
    Ok(())
}
