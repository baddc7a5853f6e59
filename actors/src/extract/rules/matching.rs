//! Matching: runs each clause of each sentence against the pattern table (pattern words,
//! fillers, flags), resolves the kind of the facts a rule produced, and removes duplicates.
//! It must never accept a rule whose value parser failed, nor look past the clause.

use super::super::gazetteer;
use super::super::lexicon::{self as lx, class};
use super::super::text::{self, CaseMode, Doc};
use super::super::values::{self as v, w, R};
use super::super::{Cardinality, ExtractedFact, FactKind, Predicate};
use super::apply::apply;
use super::cues::*;
use super::kin::my_np;
use super::sink::{Clause, Sink};
use super::table::*;

// ---------------------------------------------------------------- matching

/// Adverbs that may sit inside a pattern without changing its meaning: the number of
/// tokens to skip at `i` (0 if none).
pub(super) fn filler(doc: &Doc<'_>, i: usize, end: usize) -> usize {
    if i >= end {
        return 0;
    }
    let t = &doc.toks[i];
    if t.class & class::FILLER != 0 {
        return 1;
    }
    if t.class & class::FILLER2 == 0 {
        return 0;
    }
    match (doc.n(i), w(doc, i + 1, end)) {
        ("a", "bit" | "little") | ("kind" | "sort", "of") | ("pretty", "much") => 2,
        ("pretty", "into") => 1,
        _ => 0,
    }
}

/// Whether `tok` equals one of the `|`-separated alternatives (`is` also takes `'s`).
pub(super) fn alt_match(tok: &str, alts: &str) -> bool {
    let t = tok.as_bytes();
    let mut rest = alts.as_bytes();
    loop {
        let cut = rest.iter().position(|&b| b == b'|').unwrap_or(rest.len());
        let alt = &rest[..cut];
        if alt == t || (alt == b"is" && t == b"'s") {
            return true;
        }
        if cut == rest.len() {
            return false;
        }
        rest = &rest[cut + 1..];
    }
}

/// Matches the pattern words from token `i`, skipping fillers; returns the token after.
pub(super) fn seq(doc: &Doc<'_>, mut i: usize, end: usize, pat: &[&str]) -> Option<usize> {
    for word in pat {
        let (optional, alts) = match word.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (false, *word),
        };
        loop {
            if i < end && doc.toks[i].is_word() && alt_match(doc.n(i), alts) {
                i += 1;
                break;
            }
            // Form style: "my email: bob@example.com".
            if alts == "is" && i < end && doc.toks[i].is_punct(':') {
                i += 1;
                break;
            }
            let f = filler(doc, i, end);
            if f > 0 {
                i += f;
                continue;
            }
            if optional {
                break;
            }
            return None;
        }
    }
    // "my email is ACTUALLY ana@..." : an adverb may also sit right before the value.
    loop {
        let f = filler(doc, i, end);
        if f != 1 || doc.n(i) == "do" {
            break;
        }
        i += f;
    }
    Some(i)
}

pub(super) fn changeable(p: Predicate) -> bool {
    p.cardinality() == Cardinality::One || p == Predicate::Diet
}

pub(super) fn resolve(base: FactKind, pred: Predicate, correction: bool, change: bool) -> FactKind {
    match base {
        FactKind::Assert if correction => FactKind::Correction,
        FactKind::Assert if change && changeable(pred) => FactKind::Change,
        k => k,
    }
}

pub(super) fn has_anymore(doc: &Doc<'_>, from: usize, end: usize) -> bool {
    (from..end).any(|k| {
        let n = w(doc, k, end);
        n == "anymore" || (n == "any" && matches!(w(doc, k + 1, end), "more" | "longer"))
    })
}

pub(super) fn trailing_now(doc: &Doc<'_>, from: usize, end: usize) -> bool {
    (from..end).any(|k| {
        w(doc, k, end) == "now"
            && !matches!(
                w(doc, k.wrapping_sub(1), end),
                "right" | "for" | "until" | "till" | "by"
            )
            && w(doc, k + 1, end) != "that"
    })
}

pub(crate) fn run(doc: &Doc<'_>) -> Vec<ExtractedFact> {
    let mut out = Vec::new();
    let mut clauses = Vec::new();
    let mut scratch = Vec::new();
    let mut pending_correction = false;
    let mut pending_change = false;
    let mut seen_content = false;
    let mut prev_like: Option<Predicate> = None;
    for s in doc.sentences() {
        doc.clauses(s, &mut clauses);
        let before_sentence = out.len();
        let like = prev_like.take();
        if let Some(pred) = like {
            // "I also like Mendelssohn. And Telemann. And Hayden.": a bare "And X." goes on
            // with the list the sentence before it began.
            if and_more(doc, s, pred, &mut out, &mut scratch) {
                prev_like = Some(pred);
                seen_content = true;
                continue;
            }
        }
        if reported(doc, s) {
            seen_content = true;
            pending_correction = false;
            pending_change = false;
            continue;
        }
        let hypo = hypothetical_at(doc, s);
        let mut prev_first_person = false;
        let mut prev_liking = false;
        let mut quote_pos = s.start;
        let mut quote_open = false;
        let mut keep = if s.question {
            question_keep(doc, &clauses)
        } else {
            clauses.len()
        };
        // A question glued to the statement without a comma: keep what comes before it.
        let mut q_end = usize::MAX;
        if s.question && keep == 0 {
            if let Some(q) = question_tail(doc, s) {
                keep = clauses.iter().take_while(|&&(a, _)| a < q).count();
                q_end = q;
            }
        }
        for (ci, &(a, b)) in clauses.iter().enumerate() {
            let lead = strip_lead(doc, a, b);
            if lead.c >= b {
                // A cue on its own ("Sorry!", "Actually,") colours the next clause.
                pending_correction |= lead.correction;
                pending_change |= lead.change;
                continue;
            }
            if ci >= keep || hypo <= lead.c {
                seen_content = true;
                pending_correction = false;
                pending_change = false;
                continue;
            }
            let end = b.min(hypo).min(q_end);
            // Quote state is carried along the sentence so long sentences stay linear.
            quote_open = quote_state(doc, quote_pos, lead.c, quote_open);
            quote_pos = lead.c;
            let quoted = quote_open;
            let mut c = lead.c;
            let first = doc.n(c);
            let mut implicit_i = ci > 0 && prev_first_person && text::is_elided_subject_verb(first);
            // "I'm always fixing his car and like dragging ...", "customer service and like
            // mentoring", "not dangerous but like annoyed": a bare "like" before a gerund or
            // participle, after a clause whose verb was no liking, is chat filler; "I love
            // hiking and like swimming" goes on with the same verb.
            let next = w(doc, c + 1, b);
            if implicit_i
                && first == "like"
                && !prev_liking
                && (next.ends_with("ing") || next.ends_with("ed"))
            {
                implicit_i = false;
            }
            // "Me and my partner live in Oslo", "My partner and me live in Oslo".
            if let Some(verb) = colloquial_we(doc, c, end) {
                c = verb;
                implicit_i = true;
            }
            prev_first_person = implicit_i || matches!(first, "i" | "we");
            prev_liking = liking_clause(doc, c, end, implicit_i);
            let cl = Clause {
                a,
                c,
                end,
                correction: lead.correction || pending_correction,
                change: lead.change || pending_change,
                msg_start: !seen_content,
                implicit_i,
            };
            pending_correction = false;
            pending_change = false;
            seen_content = true;
            if !quoted {
                match_clause(doc, &cl, &mut out, &mut scratch);
            }
        }
        prev_like = out[before_sentence..]
            .iter()
            .rev()
            .find(|f| {
                matches!(f.predicate, Predicate::Likes | Predicate::Dislikes)
                    && f.kind == FactKind::Assert
            })
            .map(|f| f.predicate);
    }
    postprocess(&mut out);
    out
}

/// Whether the clause at `c` says the user likes or hates something: "I (really) love ...",
/// or an understood "I" before such a verb.
fn liking_clause(doc: &Doc<'_>, c: usize, end: usize, implicit_i: bool) -> bool {
    let mut k = if implicit_i { c } else { c + 1 };
    if !implicit_i && w(doc, c, end) != "i" {
        return false;
    }
    for _ in 0..4 {
        let f = filler(doc, k, end);
        if f == 0 {
            break;
        }
        k += f;
    }
    matches!(
        w(doc, k, end),
        "like" | "love" | "enjoy" | "adore" | "hate" | "dislike" | "liked" | "loved" | "enjoyed"
    )
}

pub(super) fn postprocess(out: &mut Vec<ExtractedFact>) {
    let conditional = |f: &ExtractedFact| {
        RULES
            .iter()
            .any(|r| r.flags & IF_NAMED != 0 && r.id == f.rule_id)
    };
    let named = out.iter().any(|f| {
        (f.predicate == Predicate::Name || f.predicate == Predicate::PreferredName)
            && !conditional(f)
    });
    if !named {
        out.retain(|f| !conditional(f));
    }
    // The same fact stated twice in one message is one fact; keep the first.
    if out.len() <= 32 {
        let mut i = 0;
        while i < out.len() {
            let dup = out[..i].iter().any(|g| same_fact(g, &out[i]));
            if dup {
                out.remove(i);
            } else {
                i += 1;
            }
        }
    } else {
        // Long pastes can hold thousands of facts: stay linear.
        let mut seen = std::collections::HashSet::with_capacity(out.len());
        out.retain(|f| seen.insert((f.predicate, f.kind.as_str(), f.object.to_ascii_lowercase())));
    }
}

/// A sentence that is only "And <thing>." (up to four words) after a like or dislike.
fn and_more(
    doc: &Doc<'_>,
    s: text::Sentence,
    pred: Predicate,
    out: &mut Vec<ExtractedFact>,
    scratch: &mut Vec<R>,
) -> bool {
    // "I like fiction. Especially adventure fantasy.": the same like, narrowed.
    if s.question
        || !matches!(
            w(doc, s.start, s.end),
            "and" | "especially" | "particularly"
        )
    {
        return false;
    }
    let mut a = s.start + 1;
    if w(doc, a, s.end) == "also" {
        a += 1;
    }
    let last = (a..s.end).rev().find(|&k| doc.toks[k].is_word());
    let Some(last) = last else {
        return false;
    };
    let words = last + 1 - a;
    let plain = (a..=last).all(|k| {
        doc.toks[k].is_word()
            && !matches!(
                doc.n(k),
                "then"
                    | "so"
                    | "that"
                    | "it"
                    | "this"
                    | "i"
                    | "you"
                    | "he"
                    | "she"
                    | "they"
                    | "we"
                    | "there"
                    | "yes"
                    | "no"
                    | "not"
                    | "is"
                    | "are"
                    | "was"
                    | "too"
                    | "me"
                    | "my"
                    | "what"
                    | "how"
                    | "why"
                    | "now"
                    | "yeah"
                    | "lol"
                    | "haha"
            )
    });
    if words == 0
        || words > 4
        || !plain
        || (last + 1..s.end).any(|k| !doc.toks[k].is_punct('.') && !doc.toks[k].is_punct('!'))
    {
        return false;
    }
    v::phrases(doc, a, last + 1, scratch);
    if scratch.is_empty()
        || scratch.iter().any(|r| r.b > last + 1)
        || scratch.last().is_some_and(|r| r.b != last + 1)
    {
        return false;
    }
    let mut sink = Sink {
        out,
        span: (doc.toks[s.start].start, doc.toks[last].end),
        conf_scale: if doc.case == CaseMode::Flat { 0.9 } else { 1.0 },
    };
    for &r in scratch.iter() {
        sink.push(
            pred,
            v::item_text(doc, r),
            "likes.and_more",
            0.7,
            Vec::new(),
        );
    }
    true
}

pub(super) fn same_fact(a: &ExtractedFact, b: &ExtractedFact) -> bool {
    // "I love math ... Math and physics are ...": the same thing in another case.
    a.predicate == b.predicate && a.kind == b.kind && a.object.eq_ignore_ascii_case(&b.object)
}

pub(super) fn match_clause(
    doc: &Doc<'_>,
    cl: &Clause,
    out: &mut Vec<ExtractedFact>,
    scratch: &mut Vec<R>,
) {
    let span = (
        doc.toks[cl.a].start,
        doc.toks[cl.end.saturating_sub(1).max(cl.a)].end,
    );
    let conf_scale = if doc.case == CaseMode::Flat { 0.9 } else { 1.0 };
    // "I think my least favorite is Chinese food", "I think that summer is my favorite":
    // the hedge is dropped and the clause read from the subject after it.
    let hedge_to = if doc.n(cl.c) == "i"
        && !cl.implicit_i
        && matches!(w(doc, cl.c + 1, cl.end), "think" | "guess" | "believe")
    {
        let mut at = cl.c + 2;
        if w(doc, at, cl.end) == "that"
            && !matches!(
                w(doc, at + 1, cl.end),
                "i" | "my" | "it" | "you" | "that" | "this" | "is" | "'s" | ""
            )
        {
            at += 1;
        }
        let favorite_after = (at + 1..cl.end.min(at + 4)).any(|k| {
            matches!(
                w(doc, k, cl.end),
                "favorite" | "favourite" | "fave" | "fav" | "least"
            )
        });
        (favorite_after && (at > cl.c + 2 || w(doc, at, cl.end) == "my")).then_some(at)
    } else {
        None
    };
    let shifted_cl;
    let cl = match hedge_to {
        Some(at) => {
            shifted_cl = Clause { c: at, ..*cl };
            &shifted_cl
        }
        None => cl,
    };
    let first = doc.n(cl.c);
    let first_is_filler = filler(doc, cl.c, cl.end) > 0;
    let mut sink = Sink {
        out,
        span,
        conf_scale,
    };
    if cl.msg_start && name_here(doc, cl, &mut sink) {
        return;
    }
    // "I think I like naps", "i guess i really love baking": a hedge on a liking is still
    // the user's taste. Only a liking verb is read through it: "I think I'm a nurse" and
    // "I think I live in Ohio" stay guesses.
    if let Some(at) = hedged_liking(doc, cl) {
        let shifted = Clause { c: at, ..*cl };
        match_clause(doc, &shifted, &mut *sink.out, scratch);
        return;
    }
    // "I think Indian or Thai is my favorite": a hedge before a subject that is not "I".
    let hedged = first == "i"
        && matches!(
            w(doc, cl.c + 1, cl.end),
            "think" | "guess" | "believe" | "mean" | "know"
        )
        && !matches!(w(doc, cl.c + 2, cl.end), "i" | "my" | "that" | "it" | "you");
    // "my one problem is that I love chocolate", "the thing is, I hate ...": the clause is
    // read from the "I" after the frame.
    if let Some(at) = frame_then_i(doc, cl).or_else(|| time_frame_then_i(doc, cl)) {
        let shifted = Clause {
            c: at,
            implicit_i: false,
            ..*cl
        };
        match_clause(doc, &shifted, &mut *sink.out, scratch);
        return;
    }
    if !cl.implicit_i && !hedged && cleft(doc, cl, &mut sink, scratch) {
        return;
    }
    if !cl.implicit_i && (hedged || !matches!(first, "i" | "my" | "we" | "our")) {
        let at = if hedged { cl.c + 2 } else { cl.c };
        let shifted = Clause { c: at, ..*cl };
        if at < cl.end && subject_is_mine(doc, &shifted, &mut sink, scratch) {
            return;
        }
    } else if let Some(at) = later_subject(doc, cl) {
        // "I love Sanderson, but Tamora Pierce is my favorite author".
        let shifted = Clause { c: at, ..*cl };
        subject_is_mine(doc, &shifted, &mut sink, scratch);
    }
    // The words that a rule's second pattern word could meet: the fillers after the first
    // token and the first non-filler. Their masks let most rules be skipped with one AND.
    // With an understood "I", the clause's own first word plays the second pattern word.
    let mut m1 = 0u64;
    let mut k = if cl.implicit_i { cl.c } else { cl.c + 1 };
    for _ in 0..4 {
        if k >= cl.end {
            break;
        }
        m1 |= tok_mask(doc.n(k));
        let f = filler(doc, k, cl.end);
        if f == 0 {
            break;
        }
        k += f;
    }
    if k >= cl.end {
        // Nothing after the first word: only single-word patterns can still match.
        m1 = u64::MAX;
    }
    let m0 = if cl.implicit_i {
        tok_mask("i")
    } else if first_is_filler {
        u64::MAX
    } else {
        tok_mask(first)
    };
    for rule in RULES {
        // The second-word test only lines up when both first words are literal.
        if rule.m0 & m0 == 0 || (m0 != u64::MAX && rule.m0 != u64::MAX && rule.m1 & m1 == 0) {
            continue;
        }
        if rule.flags & MSG_START != 0 && !cl.msg_start {
            continue;
        }
        let matched = if cl.implicit_i {
            if rule.m0 == u64::MAX || !alt_match("i", rule.pat[0]) {
                continue;
            }
            seq(doc, cl.c, cl.end, &rule.pat[1..])
        } else {
            seq(doc, cl.c, cl.end, rule.pat)
        };
        let Some(after) = matched else {
            continue;
        };
        let before = sink.out.len();
        let vend = apply(doc, cl, rule, after, &mut sink, scratch);
        let ok = match vend {
            Some(e) => {
                sink.out.len() > before
                    && (rule.flags & NEED_ANYMORE == 0 || has_anymore(doc, e, cl.end))
            }
            None => false,
        };
        if !ok {
            sink.out.truncate(before);
            continue;
        }
        let vend = vend.unwrap_or(cl.end);
        // "I moved to Arkansas in high school": where the user lived or worked back then.
        if rule.kind != FactKind::Retraction
            && (matches!(
                rule.pred,
                Predicate::Location | Predicate::Employer | Predicate::JobTitle
            ) || rule.id == "language.learned")
            && back_then(doc, vend, cl.end)
        {
            sink.out.truncate(before);
            break;
        }
        let prefix = cl.c..after;
        let correction = cl.correction || prefix.clone().any(|k| doc.n(k) == "actually");
        let change = cl.change
            || prefix.clone().any(|k| doc.n(k) == "now")
            || trailing_now(doc, vend, cl.end);
        for f in &mut sink.out[before..] {
            f.kind = resolve(rule.kind, f.predicate, correction, change);
        }
        break;
    }
    my_np(doc, cl, &mut sink);
    my_language(doc, cl, &mut sink);
}

/// "I think I like ...": where the second "I" stands, when a hedge ("think", "guess",
/// "believe", "feel like") sits before a liking or disliking verb.
fn hedged_liking(doc: &Doc<'_>, cl: &Clause) -> Option<usize> {
    if cl.implicit_i || doc.n(cl.c) != "i" {
        return None;
    }
    let mut k = cl.c + 1;
    match w(doc, k, cl.end) {
        "think" | "guess" | "believe" => k += 1,
        "feel" if w(doc, k + 1, cl.end) == "like" => k += 2,
        _ => return None,
    }
    if w(doc, k, cl.end) == "that" {
        k += 1;
    }
    if w(doc, k, cl.end) != "i" {
        return None;
    }
    let mut v = k + 1;
    for _ in 0..3 {
        let f = filler(doc, v, cl.end);
        if f == 0 {
            break;
        }
        v += f;
    }
    matches!(
        w(doc, v, cl.end),
        "like" | "love" | "enjoy" | "adore" | "hate" | "dislike" | "detest" | "loathe"
    )
    .then_some(k)
}

/// "in my free time I like to read", "on weekends, I go hiking", "these days I'm into
/// pottery": when the user does it, then the "I" the clause is read from.
fn time_frame_then_i(doc: &Doc<'_>, cl: &Clause) -> Option<usize> {
    let end = cl.end;
    if cl.implicit_i {
        return None;
    }
    let mut k = cl.c;
    match (w(doc, k, end), w(doc, k + 1, end)) {
        ("in", "my") => {
            k += 2;
            if matches!(w(doc, k, end), "free" | "spare" | "down" | "off") {
                k += 1;
            }
            if !matches!(w(doc, k, end), "time" | "downtime") {
                return None;
            }
            k += 1;
        }
        ("on", _) => {
            k += 1;
            if w(doc, k, end) == "the" {
                k += 1;
            }
            if !matches!(w(doc, k, end), "weekends" | "weekend") {
                return None;
            }
            k += 1;
        }
        ("these", "days") => k += 2,
        ("nowadays" | "lately", _) => k += 1,
        _ => return None,
    }
    if k < end && doc.toks[k].is_punct(',') {
        k += 1;
    }
    (w(doc, k, end) == "i" && k + 1 < end).then_some(k)
}

/// Nouns of a frame that introduces what the user says next: "my one problem is that I ...".
fn is_frame_noun(n: &str) -> bool {
    matches!(
        n,
        "problem" | "issue" | "thing" | "weakness" | "secret" | "confession" | "truth" | "catch"
    )
}

/// "my (one|only|biggest) problem is (that) I ...", "the thing is I ...": where the "I" is.
fn frame_then_i(doc: &Doc<'_>, cl: &Clause) -> Option<usize> {
    let end = cl.end;
    if cl.implicit_i || !matches!(w(doc, cl.c, end), "my" | "the") {
        return None;
    }
    let mut k = cl.c + 1;
    if matches!(
        w(doc, k, end),
        "one" | "only" | "biggest" | "main" | "real" | "big" | "little" | "dirty" | "funny"
    ) {
        k += 1;
    }
    if !is_frame_noun(w(doc, k, end)) || !matches!(w(doc, k + 1, end), "is" | "'s" | "was") {
        return None;
    }
    k += 2;
    if k < end && doc.toks[k].is_punct(',') {
        k += 1;
    }
    if w(doc, k, end) == "that" {
        k += 1;
    }
    (w(doc, k, end) == "i" && k + 1 < end).then_some(k)
}

/// The liking verb of a cleft at `k`: "(really) like|love|enjoy|hate", "do not like",
/// "can not stand"; the predicate and the token after the verb.
fn cleft_verb(doc: &Doc<'_>, mut k: usize, end: usize) -> Option<(Predicate, usize)> {
    while (filler(doc, k, end) == 1 && w(doc, k, end) != "do")
        || matches!(w(doc, k, end), "still" | "most" | "also")
    {
        k += 1;
    }
    let neg = w(doc, k, end) == "do" && w(doc, k + 1, end) == "not";
    if neg {
        k += 2;
        while filler(doc, k, end) == 1 {
            k += 1;
        }
        return matches!(w(doc, k, end), "like" | "enjoy" | "love")
            .then_some((Predicate::Dislikes, k + 1));
    }
    if w(doc, k, end) == "can" && w(doc, k + 1, end) == "not" && w(doc, k + 2, end) == "stand" {
        return Some((Predicate::Dislikes, k + 3));
    }
    match w(doc, k, end) {
        "like" | "love" | "enjoy" | "adore" => Some((Predicate::Likes, k + 1)),
        "hate" | "dislike" | "detest" | "loathe" => Some((Predicate::Dislikes, k + 1)),
        _ => None,
    }
}

/// "the only thing I still really don't like is peaches", "what I love most is hiking",
/// "it's mostly getting wet that I hate": a like or dislike said in a cleft sentence.
fn cleft(doc: &Doc<'_>, cl: &Clause, sink: &mut Sink<'_>, scratch: &mut Vec<R>) -> bool {
    let end = cl.end;
    let mut k = cl.c;
    let first = w(doc, k, end);
    let it_is = first == "it" && matches!(w(doc, k + 1, end), "is" | "'s" | "was");
    if it_is || first == "its" {
        // "it's X that I hate": X runs up to "that I <verb>", which ends the clause.
        let mut x = if it_is { k + 2 } else { k + 1 };
        while is_hedge(w(doc, x, end)) || matches!(w(doc, x, end), "mostly" | "mainly" | "only") {
            x += 1;
        }
        let Some(that) = (x + 1..end.min(x + 9))
            .find(|&j| w(doc, j, end) == "that" && w(doc, j + 1, end) == "i")
        else {
            return false;
        };
        let Some((pred, after)) = cleft_verb(doc, that + 2, end) else {
            return false;
        };
        if v::is_word(doc, after, end) && !matches!(w(doc, after, end), "most" | "the") {
            return false;
        }
        v::phrases(doc, x, that, scratch);
        if scratch.last().is_none_or(|r| r.b != that) {
            return false;
        }
        let id = if pred == Predicate::Likes {
            "likes.cleft"
        } else {
            "dislikes.cleft"
        };
        for &r in scratch.iter() {
            sink.push(pred, v::item_text(doc, r), id, 0.7, Vec::new());
        }
        return !scratch.is_empty();
    }
    // "the (only|one) thing (that) I ... is X", "what I ... is X", "one thing I ... is X".
    if first == "what" {
        k += 1;
    } else {
        if matches!(first, "the" | "one" | "another" | "something") {
            k += 1;
        }
        if matches!(w(doc, k, end), "only" | "one" | "main" | "first" | "other") {
            k += 1;
        }
        if k == cl.c || !matches!(w(doc, k, end), "thing" | "things" | "one") {
            return false;
        }
        k += 1;
        if w(doc, k, end) == "that" {
            k += 1;
        }
    }
    if w(doc, k, end) != "i" {
        return false;
    }
    let Some((pred, mut j)) = cleft_verb(doc, k + 1, end) else {
        return false;
    };
    // "... like most", "... like the most", "... like best".
    if w(doc, j, end) == "the" && matches!(w(doc, j + 1, end), "most" | "best") {
        j += 2;
    } else if matches!(w(doc, j, end), "most" | "best") {
        j += 1;
    }
    if !matches!(w(doc, j, end), "is" | "'s" | "are" | "was") {
        return false;
    }
    j += 1;
    while is_hedge(w(doc, j, end)) {
        j += 1;
    }
    v::phrases(doc, j, end, scratch);
    let id = if pred == Predicate::Likes {
        "likes.cleft"
    } else {
        "dislikes.cleft"
    };
    let before = sink.out.len();
    for &r in scratch.iter() {
        sink.push(pred, v::item_text(doc, r), id, 0.7, Vec::new());
    }
    sink.out.len() > before
}

/// "I practice my Spanish", "my English is rusty": the user speaks it, however well.
fn my_language(doc: &Doc<'_>, cl: &Clause, sink: &mut Sink<'_>) {
    let end = cl.end;
    for k in cl.c..end {
        if w(doc, k, end) != "my" {
            continue;
        }
        let n = w(doc, k + 1, end);
        if n.is_empty() || !(lx::is_language(n) || gazetteer::is_language(n)) {
            continue;
        }
        // "my Spanish class", "my English teacher": something else.
        let next = w(doc, k + 2, end);
        let ends = next.is_empty()
            || matches!(
                next,
                "is" | "'s"
                    | "was"
                    | "but"
                    | "and"
                    | "so"
                    | "too"
                    | "skills"
                    | "though"
                    | "up"
                    | "isn't"
                    | "lol"
                    | "haha"
                    | "a"
                    | "because"
                    | "since"
                    | "more"
                    | "again"
                    | "at"
                    | "in"
                    | "with"
                    | "on"
                    | "by"
                    | "every"
                    | "when"
                    | "now"
                    | "while"
            );
        if ends {
            sink.push(
                Predicate::Language,
                v::join(doc, R { a: k + 1, b: k + 2 }),
                "language.my_language",
                0.7,
                Vec::new(),
            );
        }
    }
}

/// A time in the past after the value: "ago", "in high school", "as a kid", "when I was".
fn back_then(doc: &Doc<'_>, from: usize, end: usize) -> bool {
    (from..end).any(|k| match (w(doc, k, end), w(doc, k + 1, end)) {
        ("ago", _) | ("back", "then") | ("when", "i") => true,
        ("in", "high" | "middle" | "elementary" | "junior" | "grade") => true,
        ("my" | "that" | "our", "senior" | "junior" | "freshman" | "sophomore" | "first") => {
            w(doc, k + 2, end) == "year"
        }
        ("senior" | "junior" | "freshman" | "sophomore", "year") => true,
        ("as", "a" | "kids") => matches!(
            w(doc, k + 2, end),
            "kid" | "child" | "teen" | "teenager" | "boy" | "girl" | "baby" | ""
        ),
        _ => false,
    })
}

/// Where a second subject starts inside a clause that opened with "I": after the last
/// comma or "but" before an "is ... my favorite".
fn later_subject(doc: &Doc<'_>, cl: &Clause) -> Option<usize> {
    let end = cl.end;
    let fav = (cl.c + 2..end).find(|&k| {
        w(doc, k, end) == "my"
            && matches!(
                w(doc, k + 1, end),
                "favorite" | "favourite" | "fave" | "fav" | "least" | "favorites" | "favourites"
            )
    })?;
    let sep = (cl.c + 1..fav)
        .rev()
        .find(|&k| doc.toks[k].is_punct(',') || matches!(w(doc, k, end), "but" | "and"))?;
    let mut at = sep + 1;
    if matches!(w(doc, at, end), "but" | "and") {
        at += 1;
    }
    (at < fav).then_some(at)
}

/// Words that may sit between "is" and "my" without changing what is said.
fn is_hedge(n: &str) -> bool {
    matches!(
        n,
        "probably"
            | "definitely"
            | "honestly"
            | "easily"
            | "totally"
            | "still"
            | "really"
            | "just"
            | "actually"
            | "always"
            | "currently"
            | "now"
            | "also"
            | "officially"
    )
}

/// "Adam is my name", "Six of Crows is my favorite", "pizza has to be one of my favorites",
/// "cilantro is my least favorite": the subject is the value, the tail says what it is.
pub(super) fn subject_is_mine(
    doc: &Doc<'_>,
    cl: &Clause,
    sink: &mut Sink<'_>,
    scratch: &mut Vec<R>,
) -> bool {
    let end = cl.end;
    // The verb: is / 's / are / was, or "has to be", "might be", "would be".
    let Some(verb) = (cl.c + 1..end.min(cl.c + 8)).find(|&k| {
        matches!(w(doc, k, end), "is" | "'s" | "are" | "was" | "were")
            || (matches!(w(doc, k, end), "has" | "have") && w(doc, k + 1, end) == "to")
            || matches!(w(doc, k, end), "might" | "would" | "could" | "must")
    }) else {
        return false;
    };
    let mut k = verb + 1;
    if matches!(w(doc, verb, end), "has" | "have") {
        k += 1;
    }
    if w(doc, k, end) == "be" {
        k += 1;
    } else if !matches!(w(doc, verb, end), "is" | "'s" | "are" | "was" | "were") {
        return false;
    }
    while is_hedge(w(doc, k, end)) {
        k += 1;
    }
    // "one of my favorites", "some of my favorite units", "two of my favorite things",
    // "a few of my favorites".
    if w(doc, k, end) == "a" && matches!(w(doc, k + 1, end), "few" | "couple") {
        k += 1;
    }
    let one_of = matches!(
        w(doc, k, end),
        "one" | "some" | "two" | "three" | "four" | "few" | "couple"
    ) && w(doc, k + 1, end) == "of";
    if one_of {
        k += 2;
    }
    if w(doc, k, end) != "my" {
        return false;
    }
    k += 1;
    // "one of my most favorite places".
    if w(doc, k, end) == "most" {
        k += 1;
    }
    // "my all time favorite", "my absolute favorite".
    if w(doc, k, end) == "all" && w(doc, k + 1, end) == "time" {
        k += 2;
    } else if matches!(w(doc, k, end), "all-time" | "absolute" | "very") {
        k += 1;
    }
    let tail = w(doc, k, end);
    if tail == "name" && !one_of {
        let Some(r) = v::name(doc, cl.c, verb, false) else {
            return false;
        };
        let closes = !v::is_word(doc, k + 1, end) || matches!(w(doc, k + 1, end), "and" | "but");
        if r.b != verb || !closes {
            return false;
        }
        sink.push(
            Predicate::Name,
            v::join(doc, r),
            "name.x_is_my_name",
            0.8,
            Vec::new(),
        );
        return true;
    }
    // "english is my second language", "Tagalog is my first language".
    if matches!(
        tail,
        "first" | "native" | "second" | "third" | "mother" | "home" | "primary" | "main"
    ) && matches!(w(doc, k + 1, end), "language" | "tongue" | "languages")
        && !one_of
    {
        v::languages(doc, cl.c, verb, scratch);
        if scratch.is_empty() || scratch.last().is_some_and(|r| r.b != verb) {
            return false;
        }
        for &r in scratch.iter() {
            sink.push(
                Predicate::Language,
                v::join(doc, r),
                "language.x_is_my_language",
                0.8,
                Vec::new(),
            );
        }
        return true;
    }
    let least = tail == "least";
    if least {
        k += 1;
    }
    if !matches!(
        w(doc, k, end),
        "favorite" | "favourite" | "fave" | "fav" | "favorites" | "favourites" | "faves" | "favs"
    ) {
        return false;
    }
    v::phrases(doc, cl.c, verb, scratch);
    // "hahhahahaha that was my favorite": the subject must run up to the verb, or it is not
    // the thing that is the favorite.
    if scratch
        .last()
        .is_some_and(|r| (r.b..verb).any(|k| doc.toks[k].is_word()))
    {
        return false;
    }
    let (pred, id) = if least {
        (Predicate::Dislikes, "dislikes.x_is_my_least_favorite")
    } else {
        (Predicate::Likes, "likes.x_is_my_favorite")
    };
    let before = sink.out.len();
    for &r in scratch.iter() {
        sink.push(pred, v::item_text(doc, r), id, 0.75, Vec::new());
    }
    sink.out.len() > before
}

/// "Priya here." as the opening of a message.
pub(super) fn name_here(doc: &Doc<'_>, cl: &Clause, sink: &mut Sink<'_>) -> bool {
    let Some(r) = v::name(doc, cl.c, cl.end, true) else {
        return false;
    };
    if w(doc, r.b, cl.end) != "here" {
        return false;
    }
    let rest_is_punct = (r.b + 1..cl.end).all(|k| !doc.toks[k].is_word());
    if !rest_is_punct {
        return false;
    }
    sink.push(
        Predicate::Name,
        v::join(doc, r),
        "name.x_here",
        0.75,
        Vec::new(),
    );
    let kind = if cl.correction {
        FactKind::Correction
    } else {
        FactKind::Assert
    };
    if let Some(f) = sink.out.last_mut() {
        f.kind = kind;
    }
    true
}
