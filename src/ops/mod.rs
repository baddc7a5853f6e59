//! The operator's side of memlink, apart from the adapters: what a process reports about
//! itself ([`heartbeat`]), the self-diagnosis every status surface shares ([`diagnose`]), and
//! the commands an operator runs (`memlink doctor`, `verify`, `dlq`, `reextract`,
//! `eval-extractor`).
//!
//! These modules mostly read the pipeline's state and report it. The heartbeat writes only
//! its own row; `verify` writes one synthetic message and removes it; `dlq` and `reextract`
//! change state only through the same store functions as the admin API. The pipeline never
//! depends on anything here to decide what to do.
//!
//! No SQL and no Redis command is written here: every read and write goes through the
//! adapters ([`crate::postgres`], [`crate::redis`]), which return plain data and never import
//! this module.

pub mod diagnose;
pub mod dlq;
pub mod doctor;
pub mod eval_extractor;
pub mod heartbeat;
pub mod reextract;
pub mod verify;
