//! Re-extraction: what a message's statements become when the current extractor reads it
//! again. A statement said again (same identity) is kept, under its stored id and place,
//! with the new extractor's metadata; one no longer said goes; a new one comes.
//!
//! Pure: the caller supplies the stored statements and the new extraction (with fresh ids).

use std::collections::{HashMap, HashSet};

use super::model::Statement;
use super::window::Changes;

/// What re-extracting one message changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageDiff {
    pub added: Vec<Statement>,
    /// Stored statements that go, in their order in the message.
    pub removed: Vec<Statement>,
    /// (the stored statement, as restamped): same id, place and identity, new metadata.
    pub restamped: Vec<(Statement, Statement)>,
    /// Statements said again exactly as stored.
    pub unchanged: usize,
}

impl MessageDiff {
    /// Adds this message's changes to a change set.
    pub fn into_changes(self, changes: &mut Changes) {
        changes.added.extend(self.added);
        changes.removed.extend(self.removed);
        changes
            .restamped
            .extend(self.restamped.into_iter().map(|(_, new)| new));
    }
}

/// Diffs a message's stored statements against what the extractor now says of it.
pub fn diff_message(stored: Vec<Statement>, extracted: Vec<Statement>) -> MessageDiff {
    let mut old: HashMap<_, Statement> = stored.into_iter().map(|s| (s.identity(), s)).collect();
    let mut seen = HashSet::new();
    let mut out = MessageDiff::default();
    for new in extracted {
        if !seen.insert(new.identity()) {
            continue;
        }
        match old.remove(&new.identity()) {
            Some(prev) if prev.same_metadata(&new) => out.unchanged += 1,
            Some(prev) => {
                // Its place in the timeline (said_at, ordinal) and its fact stay the stored
                // ones: a restamp rewrites what the extractor says about it, nothing else.
                let restamped = Statement {
                    object: new.object,
                    attributes: new.attributes,
                    span_start: new.span_start,
                    span_end: new.span_end,
                    rule_id: new.rule_id,
                    extractor: new.extractor,
                    extractor_version: new.extractor_version,
                    confidence: new.confidence,
                    ..prev.clone()
                };
                out.restamped.push((prev, restamped));
            }
            None => out.added.push(new),
        }
    }
    let mut gone: Vec<Statement> = old.into_values().collect();
    gone.sort_by_key(|s| (s.ordinal, s.id));
    out.removed = gone;
    out
}
