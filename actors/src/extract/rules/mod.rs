//! The rules: which clauses may carry facts about the user, which discourse cues change a
//! fact's kind, and the table of first-person patterns with the value each one expects.
//!
//! A pattern only matches at the start of a clause (after greetings and cues), with its
//! subject in the first person ("I", "my", "we", "call me"). That anchoring is what keeps
//! third parties ("My brother lives in Rome"), hedges ("I think I'm ...") and most
//! hypotheticals ("I'd love to live in Rome") out; the sentence-level filters below catch
//! the rest. This module must never emit a fact whose value failed validation, and never
//! look past the clause a pattern matched in.
//!
//! # Layout
//! - [`table`]: the patterns, in the order they are tried.
//! - [`cues`]: discourse cues and the question, hypothetical and reported-speech filters.
//! - [`matching`]: the clause loop and the pattern matcher.
//! - [`apply`]: the value slots of the patterns.
//! - [`kin`]: pets and family.
//! - [`sink`]: the clause and the sink its facts go to.

mod apply;
mod cues;
mod kin;
mod matching;
mod sink;
mod table;

pub(crate) use matching::run;
