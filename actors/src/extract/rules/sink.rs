//! What a matched clause is (its token range, its cues) and where its facts go (the sink
//! that stamps each fact with the clause's span and the message's confidence scale). Shared
//! by the matcher, the value slots and the pets-and-family scan; it must never match or
//! parse anything itself.

use super::super::{ExtractedFact, FactKind, Predicate};

#[derive(Clone, Copy)]
pub(super) struct Clause {
    /// First token, cues included (for the span).
    pub(super) a: usize,
    /// First content token.
    pub(super) c: usize,
    pub(super) end: usize,
    pub(super) correction: bool,
    pub(super) change: bool,
    pub(super) msg_start: bool,
    /// "... and live in Porto": the subject "I" of the previous clause is understood.
    pub(super) implicit_i: bool,
}

pub(super) struct Sink<'o> {
    pub(super) out: &'o mut Vec<ExtractedFact>,
    pub(super) span: (usize, usize),
    pub(super) conf_scale: f32,
}

impl Sink<'_> {
    pub(super) fn push(
        &mut self,
        pred: Predicate,
        object: String,
        rule_id: &'static str,
        conf: f32,
        attributes: Vec<(&'static str, String)>,
    ) {
        if object.is_empty() {
            return;
        }
        self.out.push(ExtractedFact {
            predicate: pred,
            object,
            kind: FactKind::Assert,
            span: self.span,
            rule_id,
            confidence: (conf * self.conf_scale).clamp(0.0, 1.0),
            attributes,
        });
    }
}
