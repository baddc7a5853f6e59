//! The operator's side of memlink, apart from the adapters: what a process reports about
//! itself ([`heartbeat`]), the self-diagnosis every status surface shares ([`diagnose`]), and
//! the commands an operator runs (`memlink doctor`, `verify`, `dlq`, `reextract`,
//! `eval-extractor`).
//!
//! These modules mostly read the pipeline's state and report it. The heartbeat writes only
//! its own row; `verify` writes one synthetic message and removes it; `dlq` and `reextract`
//! change state only through the same store functions as the admin API. The pipeline never
//! depends on anything here to decide what to do.

pub mod diagnose;
pub mod dlq;
pub mod doctor;
pub mod eval_extractor;
pub mod heartbeat;
pub mod reextract;
pub mod verify;
