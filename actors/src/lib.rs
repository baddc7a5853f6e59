//! memlink's engine: the supervision tree, the round actor and its works (relay, worker, watermark,
//! reconciler, retention), the domain types, boundary decoding and the pure logic (extraction,
//! titles, checksums, backoff).
//!
//! The engine reaches storage, the broker, time, ids and randomness only through the traits
//! in [`ports`]; it never opens a connection, reads the system clock, draws a random number
//! or spawns a thread itself, so the whole tree can run under a seeded simulator.
//!
//! # Layout
//! - [`domain`]: validated value types (`ChatId`, `UserId`, `Content`, `MessageCreated`).
//! - [`decode`]: the boundary: raw stream entries and outbox rows → `Event` or `Rejection`
//!   with a machine-readable [`decode::Reason`].
//! - [`extract`], [`title`], [`checksum`]: pure logic applied per message and per chat.
//! - [`plan`]: one message → its effects (facts, title candidate, digest) or a dead letter;
//!   [`batch`]: the data a worker round commits (planned messages, dead letters).
//! - [`backoff`], [`pace`], [`lifecycle`]: validated exponential backoff, restart budget,
//!   round pacing, and what every round actor does when it (re)starts.
//! - [`ports`]: the traits `src/` implements (outbox, stream, effects, watermarks, the LLM
//!   enricher's store and language model, clock, ids).
//! - [`round`]: the one round actor, `RoundActor<W: RoundWork>`: start, rounds, pacing,
//!   wake-ups, the panic boundary's restart, drain, shared by every actor below; the
//!   `RoundWork` is what differs (the round, what it logs and counts, what it carries into
//!   the next round, its last step on drain).
//! - [`relay`], [`worker`], [`watermark`], [`reconciler`], [`retention`], [`enrich`] (the
//!   optional LLM enricher): the actors, each `{mod.rs: the rounds' logic, actor.rs: its
//!   RoundWork}`.
//! - [`supervisor`]: the root of the tree; [`status`]: the read model of actor states.
//! - [`memory`]: the memory model (statements, facts with history) and its incremental
//!   derivation; the store reads and writes what it plans.
//! - [`forget`]: what survives a forget outside the memory graph (outbox payloads, dead
//!   letters, their audit rows: ids and metadata only) and which stream entries go.
//! - [`dlq`]: dead-letter replay planning (JSON merge patch, which outbox row and event id),
//!   validated by [`decode`]; pure, the store writes what it plans.
//! - [`settle`]: how a batch's messages settle against what the store already holds
//!   (duplicates, conflicts, titles, watermarks), shared by the store and the simulator.
//! - [`testkit`]: in-memory ports for tests, and [`testkit::sim`], the seeded simulator's
//!   world (docs/simulation.md); `mutants` (feature `sim-mutants`): bugs planted to prove
//!   the simulator catches them, in no daemon build.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod batch;
pub mod checksum;
pub mod decode;
pub mod dlq;
pub mod domain;
pub mod enrich;
pub mod extract;
pub mod forget;
pub mod lifecycle;
pub mod memory;
pub mod messages;
#[cfg(feature = "sim-mutants")]
pub mod mutants;
pub mod observe;
pub mod pace;
pub mod plan;
pub mod ports;
pub mod reconciler;
pub mod relay;
pub mod retention;
pub mod round;
pub mod settle;
pub mod status;
pub mod supervisor;
pub mod testkit;
pub mod title;
pub mod watermark;
pub mod worker;
