//! The functions a module exports for the host to call, with their wasm
//! signatures (udfs/ABI.md §1, §3, §8, §9), in one table: registration
//! checks modules against it, and the host's calls take their types from it.

use wasmtime::{FuncType, TypedFunc, ValType, WasmParams, WasmResults};

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
    ("wasql_alloc", Signature::of::<Alloc>()),
    ("wasql_free", Signature::of::<Free>()),
    ("wasql_release", Signature::of::<Release>()),
];

/// An aggregate's six exports, by the suffix after its `export` prefix
/// (udfs/ABI.md §8), in the order the host keeps them.
pub const AGGREGATE: [(&str, Signature); 6] = [
    ("_new", Signature::of::<AggregateNew>()),
    ("_update", Signature::of::<AggregateUpdate>()),
    ("_merge", Signature::of::<AggregateMerge>()),
    ("_state", Signature::of::<AggregateEmit>()),
    ("_finish", Signature::of::<AggregateEmit>()),
    ("_drop", Signature::of::<AggregateDrop>()),
];

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
}
