//! Small functions for the benchmarks: per-row (`#[udf]`) and whole-batch
//! versions of the same work.

use wasql_udf::{ArrayData, ArrayView, StringBuilder, all_valid, map_rows, udf};

/// The net price: extendedprice * (1 - discount) * (1 + tax).
#[udf]
pub fn price_net(extendedprice: f64, discount: f64, tax: f64) -> f64 {
    extendedprice * (1.0 - discount) * (1.0 + tax)
}

/// The string with ASCII letters uppercased; other bytes unchanged.
#[udf]
pub fn upper_ascii(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// price_net over whole arrays.
#[udf(batch, args = ["float64", "float64", "float64"], returns = "float64")]
pub fn price_net_batch(args: &[ArrayView], nrows: usize) -> Result<ArrayData, String> {
    let [p, d, t] = args else {
        return Err(format!("expected 3 arguments, got {}", args.len()));
    };
    let (p, d, t) = (p.values::<f64>(), d.values::<f64>(), t.values::<f64>());
    let values: Vec<f64> = if p.len() == nrows && d.len() == nrows && t.len() == nrows {
        let (p, d, t) = (&p[..nrows], &d[..nrows], &t[..nrows]);
        map_rows(nrows, |i| p[i] * (1.0 - d[i]) * (1.0 + t[i]))
    } else {
        // Some argument is a constant: read its only value for every row.
        let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        map_rows(nrows, |i| at(p, i) * (1.0 - at(d, i)) * (1.0 + at(t, i)))
    };
    Ok(ArrayData::primitive(values, all_valid(args, nrows)))
}

/// `src` with ASCII letters uppercased, with WebAssembly SIMD
/// (udfs/.cargo/config.toml enables simd128).
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
fn upper_ascii_bytes(src: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(src.len());
    // SAFETY: the output has capacity for src.len() bytes.
    unsafe {
        upper_ascii_into(src, out.spare_capacity_mut().as_mut_ptr().cast::<u8>());
        out.set_len(src.len());
    }
    out
}

/// Writes `src` uppercased to `dst`, 64 bytes per loop iteration (four
/// 16-byte vectors), so the sandbox's per-iteration deadline check is paid
/// once per 64 bytes. A function of its own with no calls inside: wasmtime's
/// compiler then keeps the loop's constants and pointers in registers.
///
/// # Safety
/// `dst` has room for `src.len()` bytes.
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
#[inline(never)]
unsafe fn upper_ascii_into(src: &[u8], dst: *mut u8) {
    use core::arch::wasm32::{
        i8x16_add, i8x16_lt, i8x16_splat, v128, v128_and, v128_load, v128_store, v128_xor,
    };
    // Adding 0x1F moves 'a'..='z' to -128..=-103: one signed comparison
    // (a single x86 instruction) then finds the lowercase letters.
    let (shift, below, case_bit) = (i8x16_splat(0x1F), i8x16_splat(-102), i8x16_splat(0x20));
    let mut chunks = src.chunks_exact(64);
    let mut at = 0;
    for chunk in &mut chunks {
        for k in 0..4 {
            // SAFETY: 16 bytes at chunk[16k..] are in the chunk; dst has
            // room for src.len() >= at + 64 bytes.
            unsafe {
                let v = v128_load(chunk.as_ptr().add(16 * k).cast::<v128>());
                let lowercase = i8x16_lt(i8x16_add(v, shift), below);
                let upper = v128_xor(v, v128_and(lowercase, case_bit));
                v128_store(dst.add(at + 16 * k).cast::<v128>(), upper);
            }
        }
        at += 64;
    }
    for (i, byte) in chunks.remainder().iter().enumerate() {
        // SAFETY: at + i < src.len().
        unsafe { dst.add(at + i).write(byte.to_ascii_uppercase()) };
    }
}

/// `src` with ASCII letters uppercased (builds without SIMD, and host tests).
#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
fn upper_ascii_bytes(src: &[u8]) -> Vec<u8> {
    src.to_ascii_uppercase()
}

/// upper_ascii over whole arrays: one pass over the data buffer.
#[udf(batch, args = ["utf8"], returns = "utf8")]
pub fn upper_ascii_batch(args: &[ArrayView], nrows: usize) -> Result<ArrayData, String> {
    let s = &args[0];
    if s.len() == nrows {
        let offsets = s.offsets();
        let (first, last) = (offsets[0], offsets[nrows]);
        let data = upper_ascii_bytes(&s.data()[first as usize..last as usize]);
        let offsets = if first == 0 {
            offsets[..=nrows].to_vec()
        } else {
            offsets[..=nrows].iter().map(|o| o - first).collect()
        };
        // SAFETY: the input's offsets, shifted to start at 0, over its data
        // with ASCII letters changed: still valid UTF-8 at the same places.
        Ok(unsafe {
            ArrayData::utf8_from_parts_unchecked(offsets, data, s.validity().map(|v| v.to_bitmap()))
        })
    } else {
        // A constant.
        let mut out = StringBuilder::with_capacity(nrows, nrows * s.data().len());
        let value = s.is_valid(0).then(|| s.str_value(0).to_ascii_uppercase());
        for _ in 0..nrows {
            out.push_option(value.as_deref());
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasql_udf::{Bitmap, PrimitiveBuilder};

    #[test]
    fn scalar_forms() {
        assert_eq!(price_net(100.0, 0.1, 0.05), 100.0 * 0.9 * 1.05);
        assert_eq!(upper_ascii("héllo, wörld 1"), "HéLLO, WöRLD 1");
    }

    #[test]
    fn upper_bytes_match_std() {
        let text: Vec<u8> = (0..=255u8)
            .chain(b"mixed Case \xc3\xa9 text".iter().copied())
            .collect();
        assert_eq!(upper_ascii_bytes(&text), text.to_ascii_uppercase());
    }

    #[test]
    fn batch_price_matches_scalar() {
        let p = [100.0, 200.0, 300.0];
        let d = [0.1, 0.2, 0.3];
        let t = [0.05];
        let validity = Bitmap::from_iter([true, false, true]);
        let args = [
            ArrayView::from_values(&p, Some(validity.as_ref())),
            ArrayView::from_values(&d, None),
            ArrayView::from_values(&t, None),
        ];
        let out = __wasql_udf_body_price_net_batch(&args, 3).unwrap();
        let view = out.view();
        assert_eq!(view.values::<f64>()[0], price_net(100.0, 0.1, 0.05));
        assert_eq!(view.values::<f64>()[2], price_net(300.0, 0.3, 0.05));
        assert!(view.is_null(1));

        let t3 = [0.05, 0.0, 0.5];
        let args = [
            ArrayView::from_values(&p, None),
            ArrayView::from_values(&d, None),
            ArrayView::from_values(&t3, None),
        ];
        let out = __wasql_udf_body_price_net_batch(&args, 3).unwrap();
        let expected: Vec<f64> = (0..3).map(|i| price_net(p[i], d[i], t3[i])).collect();
        assert_eq!(out.view().values::<f64>(), expected.as_slice());
        assert_eq!(out.null_count(), 0);
    }

    #[test]
    fn batch_upper_matches_scalar() {
        let mut b = StringBuilder::with_capacity(3, 0);
        b.push("abc");
        b.push_null();
        b.push("ünï x");
        let input = b.finish();
        let out = __wasql_udf_body_upper_ascii_batch(&[input.view()], 3).unwrap();
        let view = out.view();
        assert_eq!(view.str_value(0), "ABC");
        assert!(view.is_null(1));
        assert_eq!(view.str_value(2), upper_ascii("ünï x"));

        let mut b = StringBuilder::with_capacity(1, 0);
        b.push("q");
        let constant = b.finish();
        let out = __wasql_udf_body_upper_ascii_batch(&[constant.view()], 4).unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out.view().str_value(3), "Q");
    }

    #[test]
    fn scalar_price_expansion_handles_nulls() {
        let mut b = PrimitiveBuilder::<f64>::with_capacity(2);
        b.push(10.0);
        b.push_null();
        let p = b.finish();
        let d = [0.5];
        let t = [0.0];
        let args = [
            p.view(),
            ArrayView::from_values(&d, None),
            ArrayView::from_values(&t, None),
        ];
        let out = __wasql_udf_body_price_net(&args, 2).unwrap();
        assert_eq!(out.view().values::<f64>()[0], 5.0);
        assert!(out.view().is_null(1));
    }
}
