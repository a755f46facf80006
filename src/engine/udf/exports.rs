//! The functions a module exports for the host to call, with their wasm
//! signatures (udfs/ABI.md §1, §3, §8, §9), in one table: registration
//! checks modules against it, and the host's calls take their types from it.

use wasmtime::{FuncType, TypedFunc, ValType, WasmParams, WasmResults};

pub use wasql_abi::export;

/// How many values a parameter or result tuple of `i32`s holds.
pub trait Arity {
    const COUNT: usize;
}

macro_rules! arity {
    ($($tuple:ty => $count:expr),* $(,)?) => {
        $(impl Arity for $tuple {
            const COUNT: usize = $count;
        })*
    };
}

arity!(
    () => 0,
    i32 => 1,
    (i32, i32) => 2,
    (i32, i32, i32) => 3,
    (i32, i32, i32, i32) => 4,
    (i32, i32, i32, i32, i32) => 5,
    (i32, i32, i32, i32, i32, i32) => 6,
    (i32, i32, i32, i32, i32, i32, i32) => 7,
);

/// An export the host calls: its signature `Params -> Results` (every value
/// an `i32`) and the section of udfs/ABI.md defining it.
pub trait Export {
    type Params: WasmParams + Arity;
    type Results: WasmResults + Arity;
    const SECTION: &'static str;
}

/// A typed handle on an export of kind `E`.
pub type Typed<E> = TypedFunc<<E as Export>::Params, <E as Export>::Results>;

macro_rules! exports {
    ($($(#[$doc:meta])* $name:ident: $params:ty => $results:ty, $section:literal;)*) => {
        $($(#[$doc])* pub struct $name;
        impl Export for $name {
            type Params = $params;
            type Results = $results;
            const SECTION: &'static str = $section;
        })*
    };
}

exports! {
    /// `wasql_alloc(size, align) -> ptr`.
    Alloc: (i32, i32) => i32, "§1";
    /// `wasql_free(ptr, size, align)`.
    Free: (i32, i32, i32) => (), "§1";
    /// `wasql_release(array)`.
    Release: i32 => (), "§1";
    /// A scalar function: `(args, nargs, nrows, out, err) -> status`.
    Scalar: (i32, i32, i32, i32, i32) => i32, "§3";
    /// `E_new() -> acc`.
    AggregateNew: () => i32, "§8";
    /// `E_update(acc, args, nargs, nrows, groups, ngroups, err) -> status`.
    AggregateUpdate: (i32, i32, i32, i32, i32, i32, i32) => i32, "§8";
    /// `E_merge(acc, states, nrows, groups, ngroups, err) -> status`.
    AggregateMerge: (i32, i32, i32, i32, i32, i32) => i32, "§8";
    /// `E_state` and `E_finish`: `(acc, n, out, err) -> status`.
    AggregateEmit: (i32, i32, i32, i32) => i32, "§8";
    /// `E_drop(acc)`.
    AggregateDrop: i32 => (), "§8";
    /// A table function: `(args, nargs, nrows, bounds, nparts, out, err) -> status`.
    Table: (i32, i32, i32, i32, i32, i32, i32) => i32, "§9";
}

/// An export's signature as data, for checking a module before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    params: usize,
    results: usize,
    /// Where udfs/ABI.md defines it.
    pub section: &'static str,
}

impl Signature {
    /// The signature of exports of kind `E`.
    pub const fn of<E: Export>() -> Signature {
        Signature {
            params: <E::Params as Arity>::COUNT,
            results: <E::Results as Arity>::COUNT,
            section: E::SECTION,
        }
    }

    /// Whether a function of type `ty` has this signature.
    pub fn matches(&self, ty: &FuncType) -> bool {
        ty.params().len() == self.params
            && ty.results().len() == self.results
            && ty.params().chain(ty.results()).all(|t| t.is_i32())
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i32s = |n| vec![ValType::I32; n];
        f.write_str(&show(i32s(self.params), i32s(self.results)))
    }
}

/// A function type as udfs/ABI.md writes it: `(i32, i32) -> i32`, or
/// `(i32)` when it returns nothing.
pub fn show_type(ty: &FuncType) -> String {
    show(ty.params().collect(), ty.results().collect())
}

fn show(params: Vec<ValType>, results: Vec<ValType>) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match results.as_slice() {
        [] => format!("({})", list(&params)),
        [one] => format!("({}) -> {one}", list(&params)),
        many => format!("({}) -> ({})", list(&params), list(many)),
    }
}

/// The allocator every module exports (udfs/ABI.md §1).
pub const ALLOCATOR: [(&str, Signature); 3] = [
    (export::ALLOC, Signature::of::<Alloc>()),
    (export::FREE, Signature::of::<Free>()),
    (export::RELEASE, Signature::of::<Release>()),
];

/// An aggregate's six exports, by the suffix after its `export` prefix
/// (udfs/ABI.md §8), in the order the host keeps them.
pub const AGGREGATE: [(&str, Signature); 6] = {
    let [new, update, merge, state, finish, drop] = export::AGGREGATE_SUFFIXES;
    [
        (new, Signature::of::<AggregateNew>()),
        (update, Signature::of::<AggregateUpdate>()),
        (merge, Signature::of::<AggregateMerge>()),
        (state, Signature::of::<AggregateEmit>()),
        (finish, Signature::of::<AggregateEmit>()),
        (drop, Signature::of::<AggregateDrop>()),
    ]
};

/// The names of one aggregate's six exports (udfs/ABI.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateExports {
    /// `E_new`, an [`AggregateNew`].
    pub new: String,
    /// `E_update`, an [`AggregateUpdate`].
    pub update: String,
    /// `E_merge`, an [`AggregateMerge`].
    pub merge: String,
    /// `E_state`, an [`AggregateEmit`].
    pub state: String,
    /// `E_finish`, an [`AggregateEmit`].
    pub finish: String,
    /// `E_drop`, an [`AggregateDrop`].
    pub drop: String,
}

impl AggregateExports {
    /// The exports of the aggregate whose `export` prefix is `prefix`.
    pub fn new(prefix: &str) -> AggregateExports {
        let [new, update, merge, state, finish, drop] =
            AGGREGATE.map(|(suffix, _)| format!("{prefix}{suffix}"));
        AggregateExports {
            new,
            update,
            merge,
            state,
            finish,
            drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_like_the_abi() {
        assert_eq!(
            Signature::of::<AggregateUpdate>().to_string(),
            "(i32, i32, i32, i32, i32, i32, i32) -> i32"
        );
        assert_eq!(Signature::of::<Free>().to_string(), "(i32, i32, i32)");
        assert_eq!(Signature::of::<AggregateNew>().to_string(), "() -> i32");
        let engine = wasmtime::Engine::default();
        let wide = FuncType::new(&engine, [ValType::I64, ValType::I32], [ValType::I32]);
        assert_eq!(show_type(&wide), "(i64, i32) -> i32");
        assert!(!Signature::of::<Alloc>().matches(&wide));
        let alloc = FuncType::new(&engine, [ValType::I32, ValType::I32], [ValType::I32]);
        assert!(Signature::of::<Alloc>().matches(&alloc));
        assert!(!Signature::of::<Free>().matches(&alloc));
    }

    #[test]
    fn aggregate_exports_are_named_after_the_prefix() {
        let names = AggregateExports::new("wasql_agg_mean");
        assert_eq!(names.new, "wasql_agg_mean_new");
        assert_eq!(names.update, "wasql_agg_mean_update");
        assert_eq!(names.merge, "wasql_agg_mean_merge");
        assert_eq!(names.state, "wasql_agg_mean_state");
        assert_eq!(names.finish, "wasql_agg_mean_finish");
        assert_eq!(names.drop, "wasql_agg_mean_drop");
    }
}
