//! Aggregate functions (udfs/ABI.md §8): the [`Aggregate`] trait, written by
//! the author, and the [`Accumulator`] of many groups that the exports drive.

use std::mem;

use crate::__private::{IntoRet, RetBuilder};
use crate::array::{ArrayData, ArrayView, BinaryBuilder};
use crate::types::DataType;

/// The state of one group of an aggregate function, and how rows and other
/// groups' states fold into it. Mark the impl block `#[udf]`:
///
/// ```ignore
/// #[derive(Default)]
/// struct Total(f64);
///
/// /// The sum of the positive values.
/// #[udf(name = "positive_sum")]
/// impl Aggregate for Total {
///     type Args<'a> = f64;
///     type Output = f64;
///     fn update(&mut self, x: f64) { if x > 0.0 { self.0 += x } }
///     fn merge(&mut self, other: Self) { self.0 += other.0 }
///     fn finish(self) -> f64 { self.0 }
///     fn save(&self) -> impl AsRef<[u8]> { self.0.to_le_bytes() }
///     fn load(state: &[u8]) -> Result<Self, String> { /* ... */ }
/// }
/// ```
///
/// `Default` is the state of a group that has seen no rows.
pub trait Aggregate: Default {
    /// The arguments of one row: a `#[udf]` argument type (`f64`,
    /// `Option<&'a str>`, ...) or a tuple of them. A row where an argument
    /// of a non-`Option` type is null is skipped.
    type Args<'a>;
    /// The result: any `#[udf]` result type.
    type Output: IntoRet;
    /// Folds one row into the group.
    fn update(&mut self, args: Self::Args<'_>);
    /// Folds another group's state (from [`Aggregate::load`]) into this one.
    fn merge(&mut self, other: Self);
    /// The group's result.
    fn finish(self) -> Self::Output;
    /// The state as self-contained bytes, readable by any instance of the
    /// module (states cross threads and machines).
    fn save(&self) -> impl AsRef<[u8]>;
    /// A state written by [`Aggregate::save`]; `Err` for malformed bytes
    /// (the query then fails with the message).
    fn load(state: &[u8]) -> Result<Self, String>;
}

/// The row loop of an aggregate, written by `#[udf]`.
#[doc(hidden)]
pub trait FoldRows: Aggregate {
    /// The argument types.
    const ARG_TYPES: &'static [DataType];
    /// Folds row `i` of `args` into group `ids[i]`.
    ///
    /// # Safety
    /// Every id is below `groups.len()`: the implementation indexes `groups`
    /// without bounds checks. (The views are checked: their readers accept
    /// only `ids.len()` rows or one.)
    unsafe fn fold_rows<'a>(
        groups: &mut [Self],
        args: &'a [ArrayView<'a>],
        ids: &[u32],
    ) -> Result<(), String>;
}

/// The groups of one accumulator (one `E_new` handle), numbered from 0.
/// The exports call its methods; tests on the host can too.
#[derive(Debug)]
pub struct Accumulator<A> {
    groups: Vec<A>,
}

impl<A: Aggregate> Default for Accumulator<A> {
    fn default() -> Self {
        Accumulator { groups: Vec::new() }
    }
}

impl<A: Aggregate> Accumulator<A> {
    /// The groups so far.
    pub fn groups(&self) -> &[A] {
        &self.groups
    }

    /// Grows to `ngroups` groups (new ones empty) and checks that every id
    /// names one.
    fn prepare(&mut self, ngroups: usize, ids: &[u32]) -> Result<(), String> {
        if ngroups > self.groups.len() {
            self.groups.resize_with(ngroups, A::default);
        }
        match ids.iter().copied().max() {
            Some(max) if max as usize >= self.groups.len() => Err(format!(
                "group {max} in a call with {} groups",
                self.groups.len()
            )),
            _ => Ok(()),
        }
    }

    /// `E_update`: folds row `i` of `args` into group `ids[i]`, after
    /// growing to `ngroups` groups.
    pub fn update(
        &mut self,
        args: &[ArrayView<'_>],
        ids: &[u32],
        ngroups: usize,
    ) -> Result<(), String>
    where
        A: FoldRows,
    {
        if args.len() != A::ARG_TYPES.len() {
            return Err(format!(
                "called with {} arguments, the function takes {}",
                args.len(),
                A::ARG_TYPES.len()
            ));
        }
        self.prepare(ngroups, ids)?;
        // SAFETY: fold_rows needs every id below groups.len(): prepare just
        // grew the groups and returned an error if an id was not below.
        unsafe { A::fold_rows(&mut self.groups, args, ids) }
    }

    /// `E_merge`: folds the state in row `i` of the `binary` array `states`
    /// into group `ids[i]` (null rows skipped), after growing to `ngroups`.
    pub fn merge(
        &mut self,
        states: &ArrayView<'_>,
        ids: &[u32],
        ngroups: usize,
    ) -> Result<(), String> {
        if states.data_type() != DataType::Binary || states.len() != ids.len() {
            return Err(format!(
                "states: {} rows of {} for {} group ids",
                states.len(),
                states.data_type(),
                ids.len()
            ));
        }
        self.prepare(ngroups, ids)?;
        for (row, &id) in ids.iter().enumerate() {
            if states.is_valid(row) {
                let other = A::load(states.bytes_value(row))
                    .map_err(|e| format!("invalid state in row {row}: {e}"))?;
                self.groups[id as usize].merge(other);
            }
        }
        Ok(())
    }

    /// The first `n` groups, removed: group `n` becomes group 0.
    fn drain(&mut self, n: usize) -> Result<std::vec::Drain<'_, A>, String> {
        if n > self.groups.len() {
            return Err(format!("asked for {n} of {} groups", self.groups.len()));
        }
        Ok(self.groups.drain(..n))
    }

    /// `E_state`: the states of groups `0..n` as a `binary` array; removes
    /// those groups.
    pub fn state(&mut self, n: usize) -> Result<ArrayData, String> {
        let mut out = BinaryBuilder::with_capacity(n, n * mem::size_of::<A>());
        for group in self.drain(n)? {
            out.push(group.save().as_ref());
        }
        Ok(out.finish())
    }

    /// `E_finish`: the results of groups `0..n`; removes those groups.
    pub fn finish(&mut self, n: usize) -> Result<ArrayData, String> {
        let mut out = <A::Output as IntoRet>::Builder::with_rows(n, 0);
        for group in self.drain(n)? {
            group.finish().push(&mut out)?;
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::{ArgReader, FromArg};
    use crate::bitmap::Bitmap;

    /// Sum and count of the non-null values; NULL for no rows.
    #[derive(Default, Debug, PartialEq)]
    struct Mean {
        sum: f64,
        count: u64,
    }

    impl Aggregate for Mean {
        type Args<'a> = f64;
        type Output = Option<f64>;
        fn update(&mut self, x: f64) {
            self.sum += x;
            self.count += 1;
        }
        fn merge(&mut self, other: Self) {
            self.sum += other.sum;
            self.count += other.count;
        }
        fn finish(self) -> Option<f64> {
            (self.count > 0).then(|| self.sum / self.count as f64)
        }
        fn save(&self) -> impl AsRef<[u8]> {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&self.sum.to_le_bytes());
            bytes[8..].copy_from_slice(&self.count.to_le_bytes());
            bytes
        }
        fn load(state: &[u8]) -> Result<Self, String> {
            let bytes: [u8; 16] = state
                .try_into()
                .map_err(|_| format!("{} bytes, expected 16", state.len()))?;
            Ok(Mean {
                sum: f64::from_le_bytes(bytes[..8].try_into().unwrap()),
                count: u64::from_le_bytes(bytes[8..].try_into().unwrap()),
            })
        }
    }

    /// What `#[udf]` writes, by hand (the macro cannot run inside its crate).
    impl FoldRows for Mean {
        const ARG_TYPES: &'static [DataType] = &[DataType::Float64];
        unsafe fn fold_rows<'a>(
            groups: &mut [Self],
            args: &'a [ArrayView<'a>],
            ids: &[u32],
        ) -> Result<(), String> {
            let x = <f64 as FromArg<'a>>::Reader::new(&args[0], ids.len())?;
            for (row, &id) in ids.iter().enumerate() {
                // SAFETY: x.get needs row < nrows = ids.len() (the enumerate
                // bound); get_unchecked_mut needs id < groups.len(): the
                // contract of fold_rows.
                unsafe {
                    if let Some(x) = x.get(row) {
                        groups.get_unchecked_mut(id as usize).update(x);
                    }
                }
            }
            Ok(())
        }
    }

    fn results(data: &ArrayData) -> Vec<Option<f64>> {
        let view = data.view();
        (0..view.len())
            .map(|i| view.is_valid(i).then(|| view.values::<f64>()[i]))
            .collect()
    }

    #[test]
    fn groups_grow_fold_and_drain_from_the_front() {
        let mut acc = Accumulator::<Mean>::default();
        let validity = Bitmap::from_iter([true, true, false, true]);
        let x = [1.0, 3.0, 100.0, 10.0];
        let view = ArrayView::from_values(&x, Some(validity.as_ref()));
        acc.update(&[view], &[1, 1, 0, 2], 4).unwrap();
        assert_eq!(acc.groups().len(), 4);
        assert_eq!(acc.groups()[1], Mean { sum: 4.0, count: 2 });
        assert_eq!(acc.groups()[0], Mean::default(), "its only row was null");

        let x = [5.0];
        acc.update(&[ArrayView::from_values(&x, None)], &[5], 6)
            .unwrap();
        assert_eq!(results(&acc.finish(2).unwrap()), [None, Some(2.0)]);
        // Group 2 is now group 0.
        assert_eq!(acc.groups().len(), 4);
        assert_eq!(
            results(&acc.finish(4).unwrap()),
            [Some(10.0), None, None, Some(5.0)]
        );
        assert!(acc.groups().is_empty());
    }

    #[test]
    fn states_round_trip_and_merge() {
        let mut partial = Accumulator::<Mean>::default();
        let x = [2.0, 4.0, 6.0];
        partial
            .update(&[ArrayView::from_values(&x, None)], &[0, 1, 1], 3)
            .unwrap();
        let states = partial.state(3).unwrap();
        assert_eq!(states.data_type(), DataType::Binary);
        assert_eq!(states.view().offsets(), &[0, 16, 32, 48]);
        assert!(partial.groups().is_empty());

        let mut fin = Accumulator::<Mean>::default();
        // Each state twice, into groups 1, 0, 0 and 0, 1, 1.
        fin.merge(&states.view(), &[1, 0, 0], 2).unwrap();
        fin.merge(&states.view(), &[0, 1, 1], 2).unwrap();
        assert_eq!(
            fin.groups()[0],
            Mean {
                sum: 12.0,
                count: 3
            }
        );
        assert_eq!(
            fin.groups()[1],
            Mean {
                sum: 12.0,
                count: 3
            }
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        let mut acc = Accumulator::<Mean>::default();
        let mut bad = BinaryBuilder::with_capacity(2, 0);
        bad.push_null();
        bad.push(&[1, 2, 3]);
        let bad = bad.finish();
        let err = acc.merge(&bad.view(), &[0, 0], 1).unwrap_err();
        assert_eq!(err, "invalid state in row 1: 3 bytes, expected 16");
        let x = [1.0];
        let err = acc
            .update(&[ArrayView::from_values(&x, None)], &[3], 2)
            .unwrap_err();
        assert_eq!(err, "group 3 in a call with 2 groups");
        assert!(acc.finish(3).is_err());
        assert!(acc.update(&[], &[0], 2).is_err());
    }
}
