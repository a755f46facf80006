//! Hostile uses of the host import `wasql.http_fetch` (udfs/ABI.md §7):
//! `net_spin(BIGINT)` computes forever between empty fetches (which must not
//! reset its deadline), `net_flood(BIGINT)` passes 10,000 requests that all
//! point at one 1 MiB body (which the host must refuse before copying).

use std::hint::black_box;
use wasql_udf::udf;

#[cfg(target_family = "wasm")]
#[link(wasm_import_module = "wasql")]
unsafe extern "C" {
    #[link_name = "http_fetch"]
    fn http_fetch(requests: i32, count: i32, responses: i32) -> i32;
}

/// The raw import; 0 outside wasm (the host tests never call these there).
fn raw_fetch(requests: *const u32, count: i32, responses: *mut u32) -> i32 {
    #[cfg(target_family = "wasm")]
    // SAFETY: hostile on purpose; the pointers are ours and valid.
    return unsafe { http_fetch(requests as i32, count, responses as i32) };
    #[cfg(not(target_family = "wasm"))]
    {
        let _ = (requests, count, responses);
        0
    }
}

/// Busy for a while, then an empty fetch, forever.
#[udf(volatility = "volatile")]
pub fn net_spin(x: i64) -> i64 {
    let mut i = x;
    loop {
        for _ in 0..5_000_000 {
            i = black_box(i.wrapping_add(1));
        }
        raw_fetch(std::ptr::null(), 0, std::ptr::null_mut());
        if black_box(false) {
            return i;
        }
    }
}

/// 10,000 requests whose bodies are all the same 1 MiB.
#[udf(volatility = "volatile")]
pub fn net_flood(x: i64) -> i64 {
    const COUNT: usize = 10_000;
    let body = vec![b'x'; 1 << 20];
    let url = b"http://127.0.0.1:9/";
    let mut requests = Vec::with_capacity(COUNT * 8);
    for _ in 0..COUNT {
        let (url_ptr, body_ptr) = (url.as_ptr() as usize as u32, body.as_ptr() as usize as u32);
        requests.extend_from_slice(&[
            0,
            0,
            url_ptr,
            url.len() as u32,
            0,
            0,
            body_ptr,
            body.len() as u32,
        ]);
    }
    let mut responses = vec![0u32; COUNT * 8];
    x + i64::from(raw_fetch(
        requests.as_ptr(),
        COUNT as i32,
        responses.as_mut_ptr(),
    ))
}
