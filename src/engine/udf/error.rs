//! What goes wrong with WASM functions, as types: loading and registering a
//! module ([`UdfError`]) and calling one of its functions ([`CallError`]).
//!
//! They reach a caller inside `DataFusionError::External`; `crate::error`
//! finds them again by type, so nobody has to read meaning back out of a
//! message. Their `Display` is the one-line message a person sees.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use datafusion::common::DataFusionError;

use super::limiter::LimitExceeded;

/// A WASM module or function could not be loaded, registered or called.
pub enum UdfError {
    /// A UDF directory could not be listed.
    Directory {
        /// The directory.
        dir: PathBuf,
        /// Why, in words.
        cause: String,
    },
    /// A module was refused: unreadable, not WebAssembly, a bad description,
    /// a forbidden import or export, a failed compile.
    Load {
        /// The module file.
        module: PathBuf,
        /// Why, in words.
        cause: String,
    },
    /// Loading was stopped before it finished; nothing was registered.
    Cancelled,
    /// A module's function would take a name already in use.
    NameTaken {
        /// The module that offers the function.
        module: PathBuf,
        /// The function's name.
        function: String,
        /// What has the name already.
        owner: NameOwner,
    },
    /// `CREATE FUNCTION` named a function the module does not offer.
    NoSuchFunction {
        /// The module file.
        module: PathBuf,
        /// The name or export asked for.
        wanted: String,
        /// The functions the module offers.
        offered: Vec<String>,
    },
    /// A call of a function failed.
    Call {
        /// The function, by its SQL name.
        function: String,
        /// The module file.
        module: PathBuf,
        /// What went wrong.
        error: Box<CallError>,
        /// The last lines the guest wrote to stderr before it failed, on
        /// one line, escaped (empty if none).
        stderr: String,
    },
}

/// What already has a name a module's function wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOwner {
    /// A function of another module.
    Module(PathBuf),
    /// A function built into the engine.
    BuiltIn,
}

impl UdfError {
    /// The sandbox limit a failed call ran into, if that is why it failed.
    pub fn limit(&self) -> Option<&LimitExceeded> {
        match self {
            UdfError::Call { error, .. } => error.limit(),
            _ => None,
        }
    }
}

impl fmt::Display for UdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdfError::Directory { dir, cause } => {
                write!(f, "cannot read UDF directory '{}': {cause}", dir.display())
            }
            UdfError::Load { module, cause } => {
                write!(f, "UDF module '{}': {cause}", module.display())
            }
            UdfError::Cancelled => f.write_str("loading the UDF modules was cancelled"),
            UdfError::NameTaken {
                module,
                function,
                owner,
            } => {
                write!(
                    f,
                    "UDF module '{}': function '{function}' ",
                    module.display()
                )?;
                match owner {
                    NameOwner::Module(other) => {
                        write!(f, "is already defined by module '{}'", other.display())
                    }
                    NameOwner::BuiltIn => f.write_str("has the name of a built-in function"),
                }
            }
            UdfError::NoSuchFunction {
                module,
                wanted,
                offered,
            } => write!(
                f,
                "UDF module '{}' has no function '{wanted}' (it has: {})",
                module.display(),
                offered.join(", ")
            ),
            UdfError::Call {
                function,
                module,
                error,
                stderr,
            } => {
                write!(
                    f,
                    "function {function} (module {}): {error}",
                    module.display()
                )?;
                if !stderr.is_empty() {
                    write!(f, " [guest stderr: {stderr}]")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for UdfError {}

crate::error::debug_as_display!(UdfError);

impl From<UdfError> for DataFusionError {
    fn from(error: UdfError) -> Self {
        DataFusionError::External(Box::new(error))
    }
}

/// Why one call into a guest failed.
#[derive(Debug)]
pub enum CallError {
    /// The guest asked for more than a sandbox limit allows.
    Limit(LimitExceeded),
    /// The call ran past the per-call deadline.
    Timeout(Duration),
    /// The guest trapped — perhaps after running into a limit it could not
    /// recover from (`after`).
    Trap {
        /// The trap, in words.
        trap: String,
        /// The limit refused just before, if any.
        after: Option<LimitExceeded>,
    },
    /// The module's instance or one of its exports could not be used.
    Host(String),
    /// A step of the call (`step` names it: instantiating, `wasql_alloc`,
    /// ...) failed with `error`.
    During {
        /// The step, in words.
        step: &'static str,
        /// How it failed.
        error: Box<CallError>,
    },
    /// The guest reported an error of its own.
    Guest(String),
    /// The host refused the call's arguments or the guest's result (invalid
    /// data, over a cap).
    Refused(String),
}

impl CallError {
    /// `error` as the failure of `step`.
    pub fn during(step: &'static str, error: CallError) -> CallError {
        CallError::During {
            step,
            error: Box::new(error),
        }
    }

    /// Whether the instance must not be used again: it trapped, timed out,
    /// ran into a limit or could not be called. A guest's own error or a
    /// refused result leaves it usable.
    pub fn breaks_instance(&self) -> bool {
        match self {
            CallError::Guest(_) | CallError::Refused(_) => false,
            CallError::During { error, .. } => error.breaks_instance(),
            _ => true,
        }
    }

    /// The sandbox limit behind the failure, if any.
    pub fn limit(&self) -> Option<&LimitExceeded> {
        match self {
            CallError::Limit(limit) => Some(limit),
            CallError::Trap { after, .. } => after.as_ref(),
            CallError::During { error, .. } => error.limit(),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Limit(limit) => write!(f, "{limit}"),
            CallError::Timeout(after) => write!(
                f,
                "timed out after {:.1} s (the per-call deadline; [udf] timeout_seconds)",
                after.as_secs_f64()
            ),
            CallError::Trap { trap, after: None } => f.write_str(trap),
            CallError::Trap {
                trap,
                after: Some(limit),
            } => write!(f, "{limit}; the guest then failed: {trap}"),
            CallError::Host(cause) | CallError::Guest(cause) | CallError::Refused(cause) => {
                f.write_str(cause)
            }
            CallError::During { step, error } => write!(f, "{step}: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_found_through_steps_and_traps() {
        let memory = LimitExceeded::Memory {
            cap: 1 << 20,
            requested: 2 << 20,
        };
        let during = CallError::during("cannot instantiate", CallError::Limit(memory.clone()));
        assert_eq!(during.limit(), Some(&memory));
        assert!(during.breaks_instance());
        let trap = CallError::Trap {
            trap: "trapped: unreachable".into(),
            after: Some(memory.clone()),
        };
        let error = UdfError::Call {
            function: "f".into(),
            module: "m.wasm".into(),
            error: Box::new(trap),
            stderr: String::new(),
        };
        assert_eq!(error.limit(), Some(&memory));
        assert!(
            error
                .to_string()
                .starts_with("function f (module m.wasm): memory limit of 1 MiB"),
            "{error}"
        );
    }

    #[test]
    fn guest_errors_leave_the_instance_usable() {
        assert!(!CallError::Guest("bad input".into()).breaks_instance());
        assert!(!CallError::Refused("invalid result".into()).breaks_instance());
        assert!(CallError::Timeout(Duration::from_secs(1)).breaks_instance());
        assert_eq!(CallError::Guest("x".into()).limit(), None);
    }

    #[test]
    fn stderr_follows_the_cause() {
        let error = UdfError::Call {
            function: "boom".into(),
            module: "boom.wasm".into(),
            error: Box::new(CallError::Guest("no".into())),
            stderr: "panicked at src/lib.rs:3".into(),
        };
        assert_eq!(
            error.to_string(),
            "function boom (module boom.wasm): no [guest stderr: panicked at src/lib.rs:3]"
        );
    }
}
