//! The memory model: statements (what each message said about its user) and the facts with
//! history derived from them, and how a change to the statements changes the facts.
//!
//! Domain logic only: the store adapter reads what [`window::requests`] asks for, calls
//! [`window::plan`] and writes the [`window::Writes`] it returns, in the worker's (or a
//! forget's, or a re-extraction's) transaction. This module must never do I/O, read the clock
//! or draw ids.
//!
//! Every memory row belongs to one user and every read and write here is per user
//! ([`model::Scope`] starts with the user), so the store can be distributed by `user_id`.
//!
//! - [`model`]: the value types and the said order.
//! - [`timeline`]: the fold from statements to facts, and the full derivation.
//! - [`window`]: the incremental derivation, which reads only around a change.
//! - [`reextract`]: what re-extraction changes in a message's statements.

pub mod model;
pub mod reextract;
pub mod timeline;
pub mod window;

pub use model::{value_key, Ending, Fact, SaidKey, Scope, Statement, StatementKind};
pub use window::{Changes, Loaded, Neighbourhood, Outcome, Request, Writes};
