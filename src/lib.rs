//! wasql: a SQL-first query engine. Apache DataFusion plans and runs SQL over
//! local files and object stores; user logic runs as sandboxed WebAssembly.
//!
//! Data flows one way: [`cli`] -> [`engine`] -> [`udf`] -> [`net`];
//! [`config`] is plain data read by all; [`text`] makes text from guests and
//! network callers safe to print, for all.

pub mod cli;
pub mod config;
pub mod engine;
#[cfg(test)]
mod fuzz;
pub mod net;
pub mod text;
pub mod udf;
