//! Arrow bitmaps: bit `i` (least significant first) of byte `i / 8`.
//! Used for validity (1 = valid) and for boolean values.

/// An owned, growable bitmap of `len` bits. Bits past `len` are kept 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bitmap {
    bytes: Vec<u8>,
    len: usize,
}

impl Bitmap {
    /// `len` bits, all `value`.
    pub fn new(len: usize, value: bool) -> Bitmap {
        let fill = if value { 0xFF } else { 0 };
        let mut bitmap = Bitmap {
            bytes: vec![fill; len.div_ceil(8)],
            len,
        };
        bitmap.clear_tail();
        bitmap
    }

    /// An empty bitmap with room for `bits` bits.
    pub fn with_capacity(bits: usize) -> Bitmap {
        Bitmap {
            bytes: Vec::with_capacity(bits.div_ceil(8)),
            len: 0,
        }
    }

    /// A bitmap from its bytes, `len` bits long.
    ///
    /// # Panics
    /// If `bytes` holds fewer than `len` bits.
    pub fn from_bytes(mut bytes: Vec<u8>, len: usize) -> Bitmap {
        assert!(
            bytes.len() * 8 >= len,
            "{} bytes cannot hold {len} bits",
            bytes.len()
        );
        bytes.truncate(len.div_ceil(8));
        let mut bitmap = Bitmap { bytes, len };
        bitmap.clear_tail();
        bitmap
    }

    fn clear_tail(&mut self) {
        if !self.len.is_multiple_of(8) {
            let last = self.bytes.len() - 1;
            self.bytes[last] &= (1u8 << (self.len % 8)) - 1;
        }
    }

    /// Bits in the bitmap.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`.
    ///
    /// # Panics
    /// If `i >= len`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        assert!(i < self.len, "bit {i} of a {}-bit bitmap", self.len);
        self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    /// Sets bit `i` to `value`.
    ///
    /// # Panics
    /// If `i >= len`.
    #[inline]
    pub fn set(&mut self, i: usize, value: bool) {
        assert!(i < self.len, "bit {i} of a {}-bit bitmap", self.len);
        let mask = 1u8 << (i % 8);
        if value {
            self.bytes[i / 8] |= mask;
        } else {
            self.bytes[i / 8] &= !mask;
        }
    }

    /// Appends one bit.
    #[inline]
    pub fn push(&mut self, value: bool) {
        if self.len.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if value {
            // The byte exists: pushed above or partly filled.
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    /// Appends `count` bits, all `value`.
    pub fn extend_constant(&mut self, count: usize, value: bool) {
        let new_len = self.len + count;
        if value {
            // Finish the partial byte, then whole bytes.
            while self.len < new_len && !self.len.is_multiple_of(8) {
                self.push(true);
            }
            let whole = (new_len - self.len) / 8;
            self.bytes.resize(self.bytes.len() + whole, 0xFF);
            self.len += whole * 8;
            while self.len < new_len {
                self.push(true);
            }
        } else {
            self.bytes.resize(new_len.div_ceil(8), 0);
            self.len = new_len;
        }
    }

    /// Keeps a bit set only where `other` has it set too.
    ///
    /// # Panics
    /// If `other` is shorter.
    pub fn and(&mut self, other: BitmapRef<'_>) {
        assert!(other.len() >= self.len, "and() with a shorter bitmap");
        for (a, b) in self.bytes.iter_mut().zip(other.as_bytes()) {
            *a &= *b;
        }
        self.clear_tail();
    }

    /// Bits set to 1.
    pub fn count_ones(&self) -> usize {
        self.as_ref().count_ones()
    }

    /// Bits set to 0.
    pub fn count_zeros(&self) -> usize {
        self.len - self.count_ones()
    }

    /// The bytes, `ceil(len / 8)` of them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes, `ceil(len / 8)` of them.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> BitmapRef<'_> {
        BitmapRef {
            bytes: &self.bytes,
            len: self.len,
        }
    }
}

impl FromIterator<bool> for Bitmap {
    fn from_iter<I: IntoIterator<Item = bool>>(iter: I) -> Bitmap {
        let iter = iter.into_iter();
        let mut bitmap = Bitmap::with_capacity(iter.size_hint().0);
        for bit in iter {
            bitmap.push(bit);
        }
        bitmap
    }
}

/// A borrowed bitmap of `len` bits, such as an argument's validity.
/// Invariant: `bytes` holds at least `len` bits (checked by [`BitmapRef::new`]).
#[derive(Clone, Copy, Debug)]
pub struct BitmapRef<'a> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a> BitmapRef<'a> {
    /// `len` bits of `bytes`.
    ///
    /// # Panics
    /// If `bytes` holds fewer than `len` bits.
    pub fn new(bytes: &'a [u8], len: usize) -> BitmapRef<'a> {
        assert!(
            bytes.len() * 8 >= len,
            "{} bytes cannot hold {len} bits",
            bytes.len()
        );
        BitmapRef { bytes, len }
    }

    /// Bits in the bitmap.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`.
    ///
    /// # Panics
    /// If `i >= len`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        assert!(i < self.len, "bit {i} of a {}-bit bitmap", self.len);
        // SAFETY: get_unchecked needs i < len: asserted just above.
        unsafe { self.get_unchecked(i) }
    }

    /// Bit `i` without a bounds check.
    ///
    /// # Safety
    /// `i < self.len()`.
    #[inline(always)]
    pub unsafe fn get_unchecked(&self, i: usize) -> bool {
        // SAFETY: get_unchecked needs i / 8 < bytes.len(): the caller keeps
        // i < len, and new() asserted len <= 8 * bytes.len(), so
        // i / 8 < ceil(len / 8) <= bytes.len().
        unsafe { *self.bytes.get_unchecked(i / 8) & (1 << (i % 8)) != 0 }
    }

    /// Bits set to 1 (among the first `len`).
    pub fn count_ones(&self) -> usize {
        let whole = self.len / 8;
        let mut ones: usize = self.bytes[..whole]
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum();
        if !self.len.is_multiple_of(8) {
            let mask = (1u8 << (self.len % 8)) - 1;
            ones += (self.bytes[whole] & mask).count_ones() as usize;
        }
        ones
    }

    /// Bits set to 0 (among the first `len`).
    pub fn count_zeros(&self) -> usize {
        self.len - self.count_ones()
    }

    /// The underlying bytes (at least `ceil(len / 8)`; bits past `len` are
    /// meaningless).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bits in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + 'a {
        let bytes = self.bytes;
        (0..self.len).map(move |i| bytes[i / 8] & (1 << (i % 8)) != 0)
    }

    /// An owned copy.
    pub fn to_bitmap(&self) -> Bitmap {
        Bitmap::from_bytes(self.bytes[..self.len.div_ceil(8)].to_vec(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsb_first_layout() {
        let bitmap: Bitmap = [true, false, true, true, false, false, false, false, true]
            .into_iter()
            .collect();
        assert_eq!(bitmap.len(), 9);
        assert_eq!(bitmap.as_bytes(), &[0b0000_1101, 0b0000_0001]);
        assert_eq!(bitmap.count_ones(), 4);
        assert_eq!(bitmap.count_zeros(), 5);
        assert!(bitmap.get(0) && !bitmap.get(1) && bitmap.get(8));
    }

    #[test]
    fn new_clears_unused_bits() {
        let ones = Bitmap::new(10, true);
        assert_eq!(ones.as_bytes(), &[0xFF, 0b11]);
        assert_eq!(ones.count_ones(), 10);
        let zeros = Bitmap::new(10, false);
        assert_eq!(zeros.as_bytes(), &[0, 0]);
        assert_eq!(Bitmap::new(0, true).as_bytes(), &[] as &[u8]);
    }

    #[test]
    fn set_and_get() {
        let mut bitmap = Bitmap::new(17, true);
        bitmap.set(3, false);
        bitmap.set(16, false);
        assert!(!bitmap.get(3) && !bitmap.get(16) && bitmap.get(15));
        assert_eq!(bitmap.count_zeros(), 2);
        bitmap.set(3, true);
        assert_eq!(bitmap.count_zeros(), 1);
    }

    #[test]
    fn extend_constant_matches_push() {
        for start in 0..10 {
            for count in 0..20 {
                for value in [true, false] {
                    let mut fast = Bitmap::new(start, true);
                    let mut slow = fast.clone();
                    fast.extend_constant(count, value);
                    for _ in 0..count {
                        slow.push(value);
                    }
                    assert_eq!(fast, slow, "start {start} count {count} value {value}");
                }
            }
        }
    }

    #[test]
    fn counts_ignore_bits_past_len() {
        let view = BitmapRef::new(&[0xFF, 0xFF], 11);
        assert_eq!(view.count_ones(), 11);
        assert_eq!(view.count_zeros(), 0);
        let view = BitmapRef::new(&[0b1010_1010], 4);
        assert_eq!(view.count_ones(), 2);
        assert_eq!(view.iter().collect::<Vec<_>>(), [false, true, false, true]);
        assert_eq!(view.to_bitmap().as_bytes(), &[0b1010]);
    }

    #[test]
    fn and_keeps_common_bits() {
        let mut a: Bitmap = [true, true, false, true].into_iter().collect();
        a.and(BitmapRef::new(&[0b1111_0101], 4));
        assert_eq!(a.as_bytes(), &[0b0001]);
    }

    #[test]
    #[should_panic(expected = "cannot hold")]
    fn short_bytes_are_refused() {
        BitmapRef::new(&[0], 9);
    }
}
