//! Clause preparation: greetings and discourse cues stripped from a clause's start (and what
//! they say about correction or change), and the sentence-level filters that keep questions,
//! hypotheticals, reported speech and quotations out. It must never emit a fact itself.

use super::super::lexicon::class;
use super::super::text::{self, Doc, Quote, Sentence};
use super::super::values::w;

// ---------------------------------------------------------------- clause preparation

/// Where a clause's content starts after greetings and discourse cues, and what the cues
/// said about the kind of statement that follows.
pub(super) struct Lead {
    pub(super) c: usize,
    pub(super) correction: bool,
    pub(super) change: bool,
}

pub(super) fn strip_lead(doc: &Doc<'_>, a: usize, b: usize) -> Lead {
    let mut k = a;
    let mut correction = false;
    let mut change = false;
    while k < b {
        if !doc.toks[k].is_word() {
            k += 1;
            continue;
        }
        let n = doc.n(k);
        let n1 = w(doc, k + 1, b);
        let n2 = w(doc, k + 2, b);
        let step = match (n, n1, n2) {
            ("by", "the", "way") | ("for", "the", "record") | ("to", "be", "honest") => 3,
            ("for", "the", "most") if w(doc, k + 3, b) == "part" => 4,
            ("just", "so", "you") if w(doc, k + 3, b) == "know" => 4,
            ("i", "agree", _) if !n2.is_empty() && n2 != "with" => 2,
            ("that", "'s" | "is", "why") => 3,
            ("thats", "why", _) | ("for", "work", _) | ("of", "course", _) => 2,
            // "pretty good I actually love the cold": an answer before the statement.
            (
                "pretty" | "very" | "so" | "really" | "not",
                "good" | "well" | "bad" | "cool" | "nice" | "fun" | "great" | "interesting",
                "i",
            ) => 2,
            ("where", "i", _) => 1,
            ("fun", "fact", _)
            | ("thank", "you", _)
            | ("good", "morning" | "afternoon" | "evening" | "day", _) => 2,
            (
                "hi" | "hello" | "hey",
                "there" | "all" | "everyone" | "guys" | "folks" | "again" | "team",
                _,
            ) => 2,
            ("as" | "like", "i", "said" | "mentioned" | "told" | "wrote") => {
                let mut step = if w(doc, k + 3, b) == "you" { 4 } else { 3 };
                // "Like I said above, I ...".
                if matches!(
                    w(doc, k + step, b),
                    "above" | "before" | "earlier" | "already" | "previously"
                ) {
                    step += 1;
                }
                step
            }
            // "like ive always loved ...": chat filler before the subject.
            ("like", "i", _) if !n2.is_empty() => 1,
            // "Same I'm a chocolate addict!", "same here, I ...": agreement before the statement.
            ("same", "here" | "too", _) => 2,
            ("same", "i", _) => 1,
            ("i", "meant" | "mean", _) if k + 2 < b => {
                correction = true;
                2
            }
            ("i", "am", "sorry") => {
                correction = true;
                3
            }
            ("my", "bad" | "mistake", _) | ("scratch", "that", _) | ("oh" | "no", "wait", _) => {
                correction = true;
                2
            }
            ("let", "me", "correct") => {
                correction = true;
                if matches!(w(doc, k + 3, b), "myself" | "that") {
                    4
                } else {
                    3
                }
            }
            ("from", "now", "on") => {
                change = true;
                3
            }
            ("as", "of", _) if !n2.is_empty() => {
                change = true;
                if matches!(n2, "this" | "last" | "next") {
                    4
                } else {
                    3
                }
            }
            ("sorry", "for" | "about" | "to" | "if" | "that", _) => break,
            ("no" | "nope", "longer", _) => break,
            (
                "last" | "this",
                "week" | "month" | "year" | "summer" | "spring" | "fall" | "winter",
                _,
            ) => 2,
            _ => match n {
                "hi" | "hello" | "hey" | "heya" | "hiya" | "yo" | "howdy" | "greetings"
                | "dear" | "hola" | "ciao" | "well" | "so" | "oh" | "also" | "and" | "but"
                | "btw" | "anyway" | "anyways" | "ok" | "okay" | "um" | "uh" | "umm" | "hmm"
                | "yes" | "yeah" | "yep" | "yup" | "sure" | "plus" | "lol" | "haha" | "hehe"
                | "fyi" | "basically" | "ah" | "alright" | "right" | "thanks" | "cool"
                | "great" | "nice" | "awesome" | "recently" | "today" | "yesterday" | "finally"
                | "officially" | "ps" | "p.s" | "p.s." | "update" | "fwiw" | "tbh" | "honestly"
                | "just" | "ugh" | "argh" | "meh" | "welp" | "oof" | "aww" | "omg" | "wow"
                | "lmao" | "lmfao" | "rofl" | "hah" | "heh" | "ahh" | "ha" | "nah" | "ya"
                | "yah" | "while" | "since" | "because" | "cause" | "cuz" | "although"
                | "though" | "sometimes" | "usually" | "generally" | "mostly" | "ooh" | "oooh"
                | "ohh" | "ohhh" | "aw" | "hm" | "dang" | "yay" | "aha" | "personally" | "dude"
                | "man" | "bro" | "mmm" | "mm" | "hey," => 1,
                "actually" | "sorry" | "oops" | "whoops" | "correction" | "wait" | "no"
                | "nope" | "rather" | "erm" | "err" => {
                    correction = true;
                    1
                }
                "now" if n1 != "that" => {
                    change = true;
                    1
                }
                _ => break,
            },
        };
        k += step;
    }
    Lead {
        c: k.min(b),
        correction,
        change,
    }
}

#[rustfmt::skip]
pub(super) fn is_question_start(n: &str) -> bool {
    matches!(
        n,
        "what" | "whats" | "where" | "who" | "whom" | "whose" | "why" | "when" | "which" | "how"
            | "do" | "does" | "did" | "is" | "am" | "are" | "was" | "were" | "can" | "could"
            | "would" | "should" | "will" | "shall" | "may" | "might" | "have" | "has" | "had"
            | "you" | "u" | "hbu" | "wbu" | "wby" | "right" | "correct" | "true" | "yes" | "no"
            | "ok" | "okay" | "eh" | "huh" | "yeah" | "innit"
    )
}

/// In a sentence ending with '?', the number of leading clauses that are plain statements
/// before a question addressed to the listener ("I live in Porto, what about you?"). A
/// tag question ("..., right?") or a question first makes the whole sentence a question.
pub(super) fn question_keep(doc: &Doc<'_>, clauses: &[(usize, usize)]) -> usize {
    for (ci, &(a, b)) in clauses.iter().enumerate() {
        let mut c = a;
        while c < b && (!doc.toks[c].is_word() || matches!(doc.n(c), "and" | "so" | "but")) {
            c += 1;
        }
        if c >= b || !is_question_start(doc.n(c)) {
            continue;
        }
        if ci == 0 {
            return 0;
        }
        let to_listener = (c..b).any(|k| {
            matches!(
                doc.n(k),
                "you" | "your" | "yours" | "u" | "ur" | "yourself" | "hbu" | "wbu" | "wby"
            )
        });
        return if to_listener { ci } else { 0 };
    }
    0
}

/// "I'm from Utah County where are you from?", "my favorite is Naruto what about you?": a
/// statement about the user, then, without a comma, a question back to the listener. Returns
/// where the question starts, when the sentence opens with a first-person statement.
pub(super) fn question_tail(doc: &Doc<'_>, s: Sentence) -> Option<usize> {
    let first = (s.start..s.end).find(|&k| doc.toks[k].is_word())?;
    if !matches!(doc.n(first), "i" | "my" | "so" | "and" | "but" | "well") {
        return None;
    }
    let q = (first + 2..s.end).find(|&k| {
        matches!(doc.n(k), "what" | "where" | "how")
            && matches!(w(doc, k + 1, s.end), "about" | "are" | "do" | "did" | "is")
            && matches!(w(doc, k + 2, s.end), "you" | "u" | "your" | "yours")
    })?;
    // The statement must be the user's own: an "I" or "my" before the question.
    (first..q)
        .any(|k| matches!(doc.n(k), "i" | "my"))
        .then_some(q)
}

pub(super) fn is_hypothetical(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    let c = doc.toks[k].class;
    // "If you must know, I live in Porto": a condition on the listener, not on the user.
    if doc.n(k) == "if" && matches!(w(doc, k + 1, end), "you" | "u" | "anyone" | "anybody") {
        return false;
    }
    c & class::HYPO != 0 || (c & class::HYPO_LET != 0 && matches!(w(doc, k + 1, end), "'s" | "us"))
}

/// First token of the sentence that opens a hypothetical or wish; `s.end` if none.
pub(super) fn hypothetical_at(doc: &Doc<'_>, s: Sentence) -> usize {
    (s.start..s.end)
        .find(|&k| {
            doc.toks[k].is_word() && is_hypothetical(doc, k, s.end) && !favorite_would(doc, s, k)
        })
        .unwrap_or(s.end)
}

/// "My favorite food would have to be sushi": a "would" that only hedges a favorite.
fn favorite_would(doc: &Doc<'_>, s: Sentence, k: usize) -> bool {
    doc.n(k) == "would"
        && (s.start.max(k.saturating_sub(8))..k).any(|j| {
            matches!(doc.n(j), "favorite" | "favourite" | "fave" | "fav")
                && matches!(
                    doc.n(j.saturating_sub(1)),
                    "my" | "all-time" | "absolute" | "least"
                )
        })
}

/// Someone other than the user is being reported ("He said ...", "My mom says I'm ...").
pub(super) fn reported(doc: &Doc<'_>, s: Sentence) -> bool {
    for k in s.start..s.end {
        let c = doc.toks[k].class;
        if c & class::REPORT_ALWAYS != 0 {
            return true;
        }
        if c & class::REPORT == 0 {
            continue;
        }
        let mut p = k;
        let mut subject = "";
        while p > s.start {
            p -= 1;
            if !doc.toks[p].is_word() {
                continue;
            }
            let m = doc.n(p);
            if matches!(
                m,
                "always"
                    | "just"
                    | "already"
                    | "once"
                    | "also"
                    | "never"
                    | "even"
                    | "have"
                    | "had"
                    | "did"
                    | "do"
            ) {
                continue;
            }
            subject = m;
            break;
        }
        if subject != "i" {
            return true;
        }
    }
    false
}

/// The verb of a "me and X" / "X and me" subject, which speaks for the user too.
pub(super) fn colloquial_we(doc: &Doc<'_>, c: usize, end: usize) -> Option<usize> {
    let start = if w(doc, c, end) == "me" && w(doc, c + 1, end) == "and" {
        c + 2
    } else {
        let and_me =
            (c..end.min(c + 6)).find(|&k| w(doc, k, end) == "and" && w(doc, k + 1, end) == "me")?;
        and_me + 2
    };
    (start..end.min(start + 5))
        .take_while(|&k| doc.toks[k].is_word())
        .find(|&k| text::is_elided_subject_verb(doc.n(k)))
}

/// Whether a quotation is open at `to`, given its state `open` at `from`.
pub(super) fn quote_state(doc: &Doc<'_>, from: usize, to: usize, mut open: bool) -> bool {
    for t in doc.toks.get(from..to).unwrap_or(&[]) {
        match t.quote {
            Quote::Open => open = true,
            Quote::Close => open = false,
            Quote::Toggle => open = !open,
            Quote::None => {}
        }
    }
    open
}
