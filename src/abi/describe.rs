//! The description schema (udfs/ABI.md §2): the custom section a module
//! describes its functions in, the values of its `abi`, `kind` and
//! `volatility` keys and the rule for names; and the names of the exports
//! the host calls (§1, §8).

/// The ABI version this crate defines: the `abi` key of every description
/// line.
pub const ABI_VERSION: u32 = 1;

/// The custom section holding a module's description: JSON lines, one per
/// function.
pub const SECTION: &str = crate::literal!(section);

/// The ABI's fixed names as string literals, for the attributes that take
/// only a literal: `#[link_section = wasql_abi::literal!(section)]`,
/// `#[export_name = wasql_abi::literal!(alloc)]`. The constants [`SECTION`],
/// [`export::ALLOC`], [`export::FREE`] and [`export::RELEASE`] are these
/// same literals; a guest SDK names its section and exports with this
/// macro so that the names are written once.
///
/// `section` is the custom section's name; `alloc`, `free` and `release`
/// the exports every module has.
#[macro_export]
macro_rules! literal {
    (section) => {
        "wasql.udfs"
    };
    (alloc) => {
        "wasql_alloc"
    };
    (free) => {
        "wasql_free"
    };
    (release) => {
        "wasql_release"
    };
}

/// What kind of function a description line declares: its `kind` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `scalar`: one value per row (§3).
    Scalar,
    /// `aggregate`: one value per group (§8).
    Aggregate,
    /// `table`: rows per input row or per partition (§9).
    Table,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Scalar, Kind::Aggregate, Kind::Table];

    /// The `kind` value.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Aggregate => "aggregate",
            Kind::Table => "table",
        }
    }

    /// The kind named `name`, exactly.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// When a function returns the same result for the same arguments: its
/// `volatility` key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Volatility {
    /// `immutable` (the default): same inputs, same output.
    #[default]
    Immutable,
    /// `stable`: the same within one query.
    Stable,
    /// `volatile`: may differ on every call.
    Volatile,
}

impl Volatility {
    /// Every volatility.
    pub const ALL: [Volatility; 3] = [
        Volatility::Immutable,
        Volatility::Stable,
        Volatility::Volatile,
    ];

    /// The `volatility` value.
    pub const fn name(self) -> &'static str {
        match self {
            Volatility::Immutable => "immutable",
            Volatility::Stable => "stable",
            Volatility::Volatile => "volatile",
        }
    }

    /// The volatility named `name`, exactly.
    pub fn parse(name: &str) -> Option<Volatility> {
        Volatility::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Whether `name` is a valid function or column name: `[a-z_][a-z0-9_]*`.
pub fn is_valid_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The names of the exports the host calls (udfs/ABI.md §1, §8); their
/// signatures are in §1 (and, for the host, in its `exports` table).
pub mod export {
    /// `wasql_alloc(size, align) -> ptr`, which every module exports.
    pub const ALLOC: &str = crate::literal!(alloc);
    /// `wasql_free(ptr, size, align)`, which every module exports.
    pub const FREE: &str = crate::literal!(free);
    /// `wasql_release(array)`, which every module exports.
    pub const RELEASE: &str = crate::literal!(release);
    /// The memory every module exports.
    pub const MEMORY: &str = "memory";

    /// The suffixes of an aggregate's six exports, after its `export`
    /// prefix, in the order the host keeps them: `E_new`, `E_update`,
    /// `E_merge`, `E_state`, `E_finish`, `E_drop`.
    pub const AGGREGATE_SUFFIXES: [&str; 6] =
        ["_new", "_update", "_merge", "_state", "_finish", "_drop"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for valid in ["a", "_", "slugify", "geo_mean2", "_x9"] {
            assert!(is_valid_name(valid), "{valid}");
        }
        for invalid in ["", "9a", "A", "drop table", "é", "a-b", "a\u{0}"] {
            assert!(!is_valid_name(invalid), "{invalid}");
        }
    }

    #[test]
    fn literals_are_the_constants() {
        assert_eq!(SECTION, "wasql.udfs");
        assert_eq!(crate::literal!(section), SECTION);
        assert_eq!(crate::literal!(alloc), export::ALLOC);
        assert_eq!(crate::literal!(free), export::FREE);
        assert_eq!(crate::literal!(release), export::RELEASE);
        assert_eq!(
            [export::ALLOC, export::FREE, export::RELEASE],
            ["wasql_alloc", "wasql_free", "wasql_release"]
        );
    }

    #[test]
    fn kinds_and_volatilities_parse_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
        }
        for volatility in Volatility::ALL {
            assert_eq!(Volatility::parse(volatility.name()), Some(volatility));
        }
        assert_eq!(Kind::parse("Scalar"), None);
        assert_eq!(Volatility::parse("Volatile"), None);
        assert_eq!(Volatility::default(), Volatility::Immutable);
    }
}
