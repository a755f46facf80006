//! Aggregate functions: `geo_mean(DOUBLE) -> DOUBLE`.

use wasql_udf::{Aggregate, udf};

/// The state of `geo_mean` for one group.
///
/// With `x = m · 2^e` (`m` in [1, 2)), `ln x = (e + log2 m) · ln 2`: a row
/// adds `e` to `exponents` and multiplies `mantissas` by `m`, so that no
/// logarithm is computed per row (`mantissas` is folded back into
/// `exponents` before it can overflow). Saved as the specified 16 bytes:
/// the sum of `ln x` (f64) then the count (u64), little-endian.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoMean {
    /// Sum of the binary exponents (and of whole logarithms, base 2, of
    /// merged states and of rare inputs; `+inf` once an input is `+inf`).
    exponents: f64,
    /// Product of the mantissas since the last fold, in [1, 2^512).
    mantissas: f64,
    /// Positive inputs.
    count: u64,
}

impl Default for GeoMean {
    fn default() -> Self {
        GeoMean {
            exponents: 0.0,
            mantissas: 1.0,
            count: 0,
        }
    }
}

/// The 52 fraction bits of an f64.
const FRACTION: u64 = (1 << 52) - 1;
/// The exponent bits of 1.0.
const ONE: u64 = 1023 << 52;
/// Past this, `mantissas` is folded into `exponents`.
const FOLD_AT: f64 = 1.3407807929942597e154; // 2^512

impl GeoMean {
    /// The sum of `ln x` over the positive inputs.
    fn sum_ln(&self) -> f64 {
        (self.exponents + self.mantissas.log2()) * std::f64::consts::LN_2
    }

    /// Moves the exponent of `mantissas` into `exponents`.
    #[cold]
    fn fold(&mut self) {
        let bits = self.mantissas.to_bits();
        self.exponents += ((bits >> 52) as i64 - 1023) as f64;
        self.mantissas = f64::from_bits(bits & FRACTION | ONE);
    }
}

/// Geometric mean of the positive values (NULLs, zeros and negatives are ignored); NULL when there are none.
#[udf(name = "geo_mean")]
impl Aggregate for GeoMean {
    type Args<'a> = f64;
    type Output = Option<f64>;

    #[inline(always)]
    fn update(&mut self, x: f64) {
        let bits = x.to_bits();
        // The biased exponent with the sign: 1..=2046 for a positive
        // normal number (not zero, subnormal, infinite, NaN or negative).
        let biased = bits >> 52;
        if biased.wrapping_sub(1) < 2046 {
            self.exponents += (biased as i64 - 1023) as f64;
            self.mantissas *= f64::from_bits(bits & FRACTION | ONE);
            self.count += 1;
            if self.mantissas >= FOLD_AT {
                self.fold();
            }
        } else if x > 0.0 {
            // Subnormal or +inf.
            self.exponents += x.log2();
            self.count += 1;
        }
    }

    fn merge(&mut self, other: Self) {
        self.exponents += other.exponents + other.mantissas.log2();
        self.count += other.count;
    }

    fn finish(self) -> Option<f64> {
        (self.count > 0).then(|| (self.sum_ln() / self.count as f64).exp())
    }

    fn save(&self) -> impl AsRef<[u8]> {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.sum_ln().to_le_bytes());
        bytes[8..].copy_from_slice(&self.count.to_le_bytes());
        bytes
    }

    fn load(state: &[u8]) -> Result<Self, String> {
        let Ok(bytes) = <[u8; 16]>::try_from(state) else {
            return Err(format!("a geo_mean state is 16 bytes, not {}", state.len()));
        };
        let (sum_ln, count) = bytes.split_at(8);
        let sum_ln = f64::from_le_bytes(sum_ln.try_into().expect("8 bytes"));
        Ok(GeoMean {
            exponents: sum_ln * std::f64::consts::LOG2_E,
            mantissas: 1.0,
            count: u64::from_le_bytes(count.try_into().expect("8 bytes")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasql_udf::{Accumulator, ArrayView, Bitmap};

    fn results(acc: &mut Accumulator<GeoMean>, n: usize) -> Vec<Option<f64>> {
        let data = acc.finish(n).unwrap();
        let view = data.view();
        (0..n)
            .map(|i| view.is_valid(i).then(|| view.values::<f64>()[i]))
            .collect()
    }

    #[test]
    fn geometric_mean_ignores_nulls_and_non_positive_values() {
        let values = [2.0, 8.0, -1.0, 0.0, 5.0, f64::NAN, 1.0, 100.0];
        let validity = Bitmap::from_iter([true, true, true, true, true, true, true, false]);
        let x = ArrayView::from_values(&values, Some(validity.as_ref()));
        let mut acc = Accumulator::<GeoMean>::default();
        acc.update(&[x], &[0, 0, 1, 1, 2, 2, 0, 1], 4).unwrap();
        let got = results(&mut acc, 4);
        assert!((got[0].unwrap() - 16f64.cbrt()).abs() < 1e-12, "{got:?}");
        assert_eq!(got[1], None, "no positive value");
        assert!((got[2].unwrap() - 5.0).abs() < 1e-12);
        assert_eq!(got[3], None, "no rows");
    }

    /// exp(avg(ln(x))) over the positive values, the direct way.
    fn direct(values: &[f64]) -> f64 {
        let positive: Vec<f64> = values.iter().copied().filter(|&x| x > 0.0).collect();
        (positive.iter().map(|x| x.ln()).sum::<f64>() / positive.len() as f64).exp()
    }

    #[test]
    fn matches_the_direct_formula_across_folds_and_magnitudes() {
        // 100,000 values from 1e-300 to 1e300: many folds of the mantissas.
        let values: Vec<f64> = (0..100_000u64)
            .map(|i| {
                let mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
                10f64.powf(mix as f64 / (1u64 << 53) as f64 * 600.0 - 300.0)
            })
            .collect();
        let mut acc = Accumulator::<GeoMean>::default();
        let ids = vec![0; values.len()];
        acc.update(&[ArrayView::from_values(&values, None)], &ids, 1)
            .unwrap();
        let got = results(&mut acc, 1)[0].unwrap();
        let want = direct(&values);
        assert!((got / want - 1.0).abs() < 1e-9, "{got} vs {want}");
    }

    #[test]
    fn subnormal_and_infinite_inputs() {
        let tiny = f64::from_bits(1); // the smallest subnormal
        let values = [tiny, 4.0, f64::INFINITY, 2.0];
        let mut acc = Accumulator::<GeoMean>::default();
        acc.update(&[ArrayView::from_values(&values, None)], &[0, 0, 1, 1], 2)
            .unwrap();
        let got = results(&mut acc, 2);
        let want = direct(&values[..2]);
        assert!((got[0].unwrap() / want - 1.0).abs() < 1e-12, "{got:?}");
        assert_eq!(got[1], Some(f64::INFINITY));
    }

    #[test]
    fn states_are_16_bytes_and_merge() {
        let values = [4.0, 9.0];
        let mut partial = Accumulator::<GeoMean>::default();
        partial
            .update(&[ArrayView::from_values(&values, None)], &[0, 1], 2)
            .unwrap();
        let states = partial.state(2).unwrap();
        assert_eq!(states.view().offsets(), &[0, 16, 32]);
        let mut fin = Accumulator::<GeoMean>::default();
        fin.merge(&states.view(), &[0, 0], 1).unwrap();
        assert!((results(&mut fin, 1)[0].unwrap() - 6.0).abs() < 1e-12);
        assert!(GeoMean::load(&[0; 15]).is_err());
    }
}
