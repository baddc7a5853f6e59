//! The rules: which clauses may carry facts about the user, which discourse cues change a
//! fact's kind, and the table of first-person patterns with the value each one expects.
//!
//! A pattern only matches at the start of a clause (after greetings and cues), with its
//! subject in the first person ("I", "my", "we", "call me"). That anchoring is what keeps
//! third parties ("My brother lives in Rome"), hedges ("I think I'm ...") and most
//! hypotheticals ("I'd love to live in Rome") out; the sentence-level filters below catch
//! the rest. This module must never emit a fact whose value failed validation, and never
//! look past the clause a pattern matched in.

use super::lexicon::{self as lx, class};
use super::text::{self, CaseMode, Doc, Quote, Sentence};
use super::values::{self as v, w, R};
use super::{Cardinality, ExtractedFact, FactKind, Predicate};

/// The value a pattern expects after its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    NameLoose,
    NameStrict,
    GoBy,
    Place,
    PlaceAfterTo,
    PlaceAfterIn,
    Org,
    OrgNotPlace,
    JobLex,
    JobFree,
    Phrases,
    Langs,
    NativeSpeaker,
    FanNoun,
    Favorite,
    Email,
    Tz,
    TzLoose,
    Diet,
    DietNoun,
    Allergens,
    AllergyNoun,
    Age,
    Date,
    HaveNp,
    Spouse,
}

/// The fact only holds with "anymore" / "any longer" after the value.
const NEED_ANYMORE: u8 = 1;
/// Only in the first clause of the message ("This is Ana").
const MSG_START: u8 = 2;
/// Kept only if the same message also states a name ("... but I prefer Kate").
const IF_NAMED: u8 = 4;
/// A name pattern after which ", 34, from Lisbon" may follow.
const INTRO: u8 = 8;

struct Rule {
    id: &'static str,
    pat: &'static [&'static str],
    pred: Predicate,
    kind: FactKind,
    val: Val,
    conf: f32,
    flags: u8,
    /// Bloom masks of the first and second pattern words (all ones when optional or
    /// absent): a clause whose words share no bit with them cannot match.
    m0: u64,
    m1: u64,
}

/// One bit per word, from an FNV-1a hash; `const` so the masks are built at compile time.
const fn word_bit(b: &[u8], start: usize, end: usize) -> u64 {
    let (_, tail) = b.split_at(start);
    let (word, _) = tail.split_at(end - start);
    1u64 << (lx::fnv1a(word) % 64)
}

/// Mask of a pattern word's alternatives; all ones for an optional or missing word.
const fn pat_mask(pat: &[&str], idx: usize) -> u64 {
    if idx >= pat.len() {
        return u64::MAX;
    }
    let b = pat[idx].as_bytes();
    if b.is_empty() || b[0] == b'?' {
        return u64::MAX;
    }
    let mut mask = 0;
    let mut start = 0;
    let mut i = 0;
    while i <= b.len() {
        if i == b.len() || b[i] == b'|' {
            mask |= word_bit(b, start, i);
            start = i + 1;
        }
        i += 1;
    }
    mask
}

/// Mask of a clause token, as [`pat_mask`] would see it (`'s` also stands for `is`).
fn tok_mask(n: &str) -> u64 {
    let bit = word_bit(n.as_bytes(), 0, n.len());
    if n == "'s" {
        bit | word_bit(b"is", 0, 2)
    } else {
        bit
    }
}

macro_rules! rule {
    ($id:literal, [$($w:literal),*], $pred:ident, $kind:ident, $val:ident, $conf:literal) => {
        rule!($id, [$($w),*], $pred, $kind, $val, $conf, 0)
    };
    ($id:literal, [$($w:literal),*], $pred:ident, $kind:ident, $val:ident, $conf:literal, $flags:expr) => {
        Rule {
            id: $id,
            pat: &[$($w),*],
            pred: Predicate::$pred,
            kind: FactKind::$kind,
            val: Val::$val,
            conf: $conf,
            flags: $flags,
            m0: pat_mask(&[$($w),*], 0),
            m1: pat_mask(&[$($w),*], 1),
        }
    };
}

/// Pattern words: `a|b` are alternatives, a leading `?` makes a word optional, `is` also
/// matches a contracted `'s`. Adverbs like "really", "just", "now" may sit between words.
/// Order matters: the first rule whose pattern and value both match wins, so negated and
/// more specific patterns come before the general ones that share their prefix.
#[rustfmt::skip]
static RULES: &[Rule] = &[
    // ---- name / preferred name
    rule!("name.my_name_is", ["my", "?full|first|real|actual|given", "name", "is"], Name, Assert, NameLoose, 0.95, INTRO),
    rule!("name.name_is", ["?the", "name", "is"], Name, Assert, NameLoose, 0.85),
    rule!("name.i_am_called", ["i", "am", "called|named"], Name, Assert, NameLoose, 0.9),
    rule!("preferred_name.please_call_me", ["please", "call", "me"], PreferredName, Assert, NameLoose, 0.9),
    rule!("preferred_name.you_can_call_me", ["you", "can|may|could", "call", "me"], PreferredName, Assert, NameLoose, 0.85),
    rule!("preferred_name.feel_free", ["feel", "free", "to", "call", "me"], PreferredName, Assert, NameLoose, 0.85),
    rule!("preferred_name.everyone_calls_me", ["everyone|everybody|people|friends|most", "?people|folks", "call|calls", "me"], PreferredName, Assert, NameLoose, 0.8),
    rule!("preferred_name.my_friends_call_me", ["my", "friends|family|colleagues|kids|students", "call", "me"], PreferredName, Assert, NameLoose, 0.8),
    rule!("preferred_name.go_by", ["i", "go", "by"], PreferredName, Assert, GoBy, 0.85),
    rule!("preferred_name.prefer_to_be_called", ["i", "?would", "prefer|like", "to", "be", "called"], PreferredName, Assert, NameLoose, 0.9),
    rule!("preferred_name.prefer_to_go_by", ["i", "?would", "prefer", "to", "go", "by"], PreferredName, Assert, NameLoose, 0.9),
    rule!("preferred_name.nickname_is", ["my", "nickname|nick", "is"], PreferredName, Assert, NameLoose, 0.85),
    rule!("preferred_name.i_prefer", ["i", "prefer"], PreferredName, Assert, NameStrict, 0.7, IF_NAMED),
    rule!("name.call_me", ["call", "me"], Name, Assert, NameLoose, 0.85),
    rule!("name.this_is", ["this", "is"], Name, Assert, NameStrict, 0.75, MSG_START),
    // ---- age, birthday
    rule!("age.my_age_is", ["my", "age", "is"], Age, Assert, Age, 0.95),
    rule!("age.turned", ["i", "?have", "turned"], Age, Change, Age, 0.9),
    rule!("birthday.my_birthday_is", ["my", "birthday|bday|b-day|birthdate|dob", "is"], Birthday, Assert, Date, 0.95),
    rule!("birthday.my_date_of_birth_is", ["my", "date", "of", "birth", "is"], Birthday, Assert, Date, 0.95),
    rule!("birthday.born_on", ["i", "was", "born", "?on"], Birthday, Assert, Date, 0.9),
    rule!("birthday.born_on_fragment", ["born", "on"], Birthday, Assert, Date, 0.8),
    // ---- location
    rule!("location.no_longer_live_in", ["i|we", "no", "longer", "live|reside", "in"], Location, Retraction, Place, 0.9),
    rule!("location.not_live_in_anymore", ["i|we", "do", "not", "live|reside", "in"], Location, Retraction, Place, 0.9, NEED_ANYMORE),
    rule!("location.used_to_live_in", ["i|we", "used", "to", "live", "in"], Location, Retraction, Place, 0.85),
    rule!("location.no_longer_based_in", ["i|we", "am|are", "no", "longer", "based|living|located", "in"], Location, Retraction, Place, 0.9),
    rule!("location.not_based_in_anymore", ["i|we", "am|are", "not", "based|living|located", "in"], Location, Retraction, Place, 0.85, NEED_ANYMORE),
    rule!("location.moved_away_from", ["i|we", "?have", "moved", "away|out", "from|of"], Location, Retraction, Place, 0.8),
    rule!("location.moved_from_to", ["i|we", "?have", "moved|relocated", "from"], Location, Change, PlaceAfterTo, 0.9),
    rule!("location.moved_to", ["i|we", "?have", "moved|relocated", "?back", "to"], Location, Change, Place, 0.9),
    rule!("location.live_with_in", ["i|we", "?am|are", "live|living", "with"], Location, Assert, PlaceAfterIn, 0.85),
    rule!("location.live_in", ["i|we", "live|reside", "in"], Location, Assert, Place, 0.95),
    rule!("location.living_in", ["i|we", "am|are", "living|residing", "in"], Location, Assert, Place, 0.9),
    rule!("location.have_lived_in", ["i|we", "have", "?been", "lived|living", "in"], Location, Assert, Place, 0.9),
    rule!("location.based_in", ["i|we", "am|are", "based|located", "in"], Location, Assert, Place, 0.95),
    rule!("location.based_out_of", ["i|we", "am|are", "based", "out", "of"], Location, Assert, Place, 0.9),
    rule!("location.have_been_based_in", ["i|we", "have", "been", "based", "in"], Location, Assert, Place, 0.9),
    // ---- hometown
    rule!("hometown.i_am_from", ["i", "am", "from"], Hometown, Assert, Place, 0.9),
    rule!("hometown.come_from", ["i", "come|hail", "from"], Hometown, Assert, Place, 0.9),
    rule!("hometown.grew_up_in", ["i", "grew", "up", "in"], Hometown, Assert, Place, 0.9),
    rule!("hometown.born_and_raised_in", ["i", "was", "born", "and", "raised", "in"], Hometown, Assert, Place, 0.9),
    rule!("hometown.born_and_raised_fragment", ["born", "and", "raised", "in"], Hometown, Assert, Place, 0.8),
    rule!("hometown.raised_in", ["i", "was", "raised", "in"], Hometown, Assert, Place, 0.85),
    rule!("hometown.born_in", ["i", "was", "born", "in"], Hometown, Assert, Place, 0.9),
    rule!("hometown.my_hometown_is", ["my", "hometown", "is"], Hometown, Assert, Place, 0.95),
    // ---- employer
    rule!("employer.no_longer_work", ["i", "no", "longer", "work", "at|for"], Employer, Retraction, Org, 0.9),
    rule!("employer.not_work_anymore", ["i", "do", "not", "work", "at|for"], Employer, Retraction, Org, 0.9, NEED_ANYMORE),
    rule!("employer.used_to_work", ["i", "used", "to", "work", "at|for"], Employer, Retraction, Org, 0.85),
    rule!("employer.stopped_working", ["i", "stopped", "working", "at|for"], Employer, Retraction, Org, 0.85),
    rule!("employer.quit_job_at", ["i", "?have", "quit|left", "my", "?old|previous", "job|position|role", "at|with"], Employer, Retraction, Org, 0.9),
    rule!("employer.left", ["i", "?have", "left|quit"], Employer, Retraction, OrgNotPlace, 0.8),
    rule!("employer.fired_from", ["i", "was|got", "fired|laid", "?off", "from|by"], Employer, Retraction, Org, 0.85),
    rule!("employer.resigned_from", ["i", "?have", "resigned|retired", "from"], Employer, Retraction, Org, 0.85),
    rule!("employer.joined", ["i", "?have", "joined"], Employer, Change, OrgNotPlace, 0.85),
    rule!("employer.got_job_at", ["i", "?have", "got|landed", "a", "?new", "job|position|role", "at|with"], Employer, Change, Org, 0.9),
    rule!("employer.started_new_job", ["i", "?have", "started", "a", "new", "job|position|role", "at|with"], Employer, Change, Org, 0.9),
    rule!("employer.started_at", ["i", "?have", "started", "?working", "at|with|for"], Employer, Change, Org, 0.85),
    rule!("employer.hired_by", ["i", "was|got", "hired", "by|at"], Employer, Change, Org, 0.85),
    rule!("job_title.work_as", ["i", "work", "as"], JobTitle, Assert, JobFree, 0.9),
    rule!("employer.work_at", ["i|we", "work", "at|for"], Employer, Assert, Org, 0.95),
    rule!("employer.working_at", ["i", "am", "working", "at|for"], Employer, Assert, Org, 0.9),
    rule!("employer.have_worked_at", ["i", "have", "?been", "worked|working", "at|for"], Employer, Assert, Org, 0.85),
    rule!("employer.employed_by", ["i", "am", "employed", "by|at"], Employer, Assert, Org, 0.9),
    rule!("employer.my_employer_is", ["my", "employer", "is"], Employer, Assert, Org, 0.95),
    // ---- job title
    rule!("job_title.no_longer_a", ["i", "am", "no", "longer", "a|an"], JobTitle, Retraction, JobLex, 0.9),
    rule!("job_title.not_a_anymore", ["i", "am", "not", "a|an"], JobTitle, Retraction, JobLex, 0.85, NEED_ANYMORE),
    rule!("diet.used_to_be", ["i", "used", "to", "be"], Diet, Retraction, Diet, 0.9),
    rule!("job_title.used_to_be", ["i", "used", "to", "be", "a|an"], JobTitle, Retraction, JobLex, 0.85),
    rule!("diet.stopped_being", ["i", "?have", "stopped|quit", "being"], Diet, Retraction, Diet, 0.9),
    rule!("job_title.stopped_being", ["i", "?have", "stopped|quit", "being", "a|an"], JobTitle, Retraction, JobLex, 0.85),
    rule!("diet.became", ["i", "?have", "went|gone|became|become|turned"], Diet, Change, Diet, 0.9),
    rule!("job_title.became", ["i", "?have", "became|become", "a|an"], JobTitle, Change, JobLex, 0.85),
    rule!("job_title.promoted_to", ["i", "?have", "?been", "got|was|been", "promoted", "to"], JobTitle, Change, JobFree, 0.85),
    rule!("diet.have_been", ["i", "have", "been"], Diet, Assert, Diet, 0.9),
    rule!("job_title.have_been_a", ["i", "have", "been", "a|an"], JobTitle, Assert, JobLex, 0.8),
    rule!("job_title.working_as", ["i", "am", "working", "as"], JobTitle, Assert, JobFree, 0.9),
    rule!("job_title.my_title_is", ["my", "?job", "title", "is"], JobTitle, Assert, JobFree, 0.95),
    rule!("job_title.my_job_is", ["my", "job|profession|occupation", "is"], JobTitle, Assert, JobLex, 0.9),
    // ---- likes / dislikes
    rule!("likes.not_like_anymore", ["i", "do", "not", "like|love|enjoy"], Likes, Retraction, Phrases, 0.85, NEED_ANYMORE),
    rule!("likes.no_longer_like", ["i", "no", "longer", "like|love|enjoy"], Likes, Retraction, Phrases, 0.85),
    rule!("likes.used_to_like", ["i", "used", "to", "like|love|enjoy"], Likes, Retraction, Phrases, 0.8),
    rule!("likes.not_fan_anymore", ["i", "am", "not", "a", "?big|huge|great", "fan", "of"], Likes, Retraction, Phrases, 0.8, NEED_ANYMORE),
    rule!("likes.no_longer_fan", ["i", "am", "no", "longer", "a", "?big|huge|great", "fan", "of"], Likes, Retraction, Phrases, 0.85),
    rule!("likes.no_longer_into", ["i", "am", "no", "longer", "into"], Likes, Retraction, Phrases, 0.8),
    rule!("dislikes.do_not_like", ["i", "do", "not", "like|enjoy"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.not_fan_of", ["i", "am", "not", "a", "?big|huge|great", "fan", "of"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.hate", ["i", "hate|dislike|detest|loathe|despise|abhor"], Dislikes, Assert, Phrases, 0.85),
    rule!("dislikes.cant_stand", ["i", "can", "not", "stand|bear"], Dislikes, Assert, Phrases, 0.85),
    rule!("likes.fan_of", ["i", "am", "a", "?big|huge|massive|great|giant|total|true", "fan", "of"], Likes, Assert, Phrases, 0.85),
    rule!("likes.fan_noun", ["i", "am", "a", "?big|huge|massive|great|giant|total|true|die-hard|diehard"], Likes, Assert, FanNoun, 0.8),
    rule!("likes.into", ["i", "am", "into"], Likes, Assert, Phrases, 0.8),
    rule!("likes.passionate_about", ["i", "am", "passionate|crazy|nuts", "about"], Likes, Assert, Phrases, 0.8),
    rule!("likes.obsessed_with", ["i", "am", "obsessed", "with"], Likes, Assert, Phrases, 0.75),
    rule!("likes.fond_of", ["i", "am", "fond", "of"], Likes, Assert, Phrases, 0.8),
    rule!("likes.like", ["i", "like|love|enjoy|adore"], Likes, Assert, Phrases, 0.85),
    rule!("likes.favorite", ["my", "?all-time", "favorite|favourite|fave"], Likes, Assert, Favorite, 0.85),
    // ---- pets and family (possession); "my cat Miso" is handled outside the table
    rule!("allergy.have_allergy_to", ["i", "have", "?a|an", "?severe|bad|mild|serious", "allergy|allergies", "to"], Allergy, Assert, Allergens, 0.9),
    rule!("pet.no_longer_have", ["i|we", "no", "longer", "have|own"], Pet, Retraction, HaveNp, 0.8),
    rule!("pet.have_got", ["i|we", "have", "got"], Pet, Assert, HaveNp, 0.85),
    rule!("pet.have", ["i|we", "have|own|adopted|got|rescued|bought"], Pet, Assert, HaveNp, 0.85),
    rule!("allergy.have_x_allergy", ["i", "have"], Allergy, Assert, AllergyNoun, 0.85),
    rule!("family.married_to", ["i", "am", "married|engaged", "to"], Family, Assert, Spouse, 0.85),
    // ---- language
    rule!("language.speak", ["i", "?can", "speak"], Language, Assert, Langs, 0.9),
    rule!("language.fluent_in", ["i", "am", "fluent|bilingual|trilingual|conversational", "in"], Language, Assert, Langs, 0.9),
    rule!("language.native_speaker", ["i", "am", "a", "native"], Language, Assert, NativeSpeaker, 0.9),
    rule!("language.native_language", ["my", "native|first|mother|home|primary", "language|tongue", "is|are"], Language, Assert, Langs, 0.95),
    rule!("language.grew_up_speaking", ["i", "grew", "up", "speaking"], Language, Assert, Langs, 0.85),
    // ---- email
    rule!("email.my_email_is", ["my", "?work|personal|private|main|primary", "email|e-mail|mail|gmail", "?address", "is"], Email, Assert, Email, 0.95),
    rule!("email.reach_me_at", ["?you", "?can", "reach|contact|email|e-mail|mail", "me", "at|on|via"], Email, Assert, Email, 0.9),
    rule!("email.my_address_is", ["my", "address", "is"], Email, Assert, Email, 0.85),
    // ---- time zone
    rule!("timezone.my_timezone_is", ["my", "?local", "timezone|time-zone|tz", "is"], Timezone, Assert, TzLoose, 0.95),
    rule!("timezone.my_time_zone_is", ["my", "?local", "time", "zone", "is"], Timezone, Assert, TzLoose, 0.95),
    rule!("timezone.i_am_in", ["i", "am", "in|on"], Timezone, Assert, Tz, 0.85),
    // ---- diet and allergy
    rule!("diet.not_anymore", ["i", "am", "not"], Diet, Retraction, Diet, 0.85, NEED_ANYMORE),
    rule!("diet.no_longer", ["i", "am", "no", "longer"], Diet, Retraction, Diet, 0.9),
    rule!("diet.on_a_diet", ["i", "am", "on", "a|an"], Diet, Assert, DietNoun, 0.85),
    rule!("diet.follow_a_diet", ["i", "follow|eat|have", "a|an"], Diet, Assert, DietNoun, 0.85),
    rule!("diet.keep", ["i", "keep|eat"], Diet, Assert, Diet, 0.8),
    rule!("allergy.no_longer_allergic", ["i", "am", "no", "longer", "allergic", "to"], Allergy, Retraction, Allergens, 0.85),
    rule!("allergy.allergic_to", ["i", "am", "allergic", "to"], Allergy, Assert, Allergens, 0.95),
    rule!("diet.i_am", ["i", "am"], Diet, Assert, Diet, 0.9),
    // ---- "I'm a nurse", "I'm 34", "I'm Ana": the most general "I am" patterns last
    rule!("job_title.i_am_a", ["i", "am", "a|an"], JobTitle, Assert, JobLex, 0.85),
    rule!("job_title.i_am_the", ["i", "am", "the"], JobTitle, Assert, JobLex, 0.8),
    rule!("age.i_am", ["i", "am"], Age, Assert, Age, 0.9),
    rule!("name.i_am", ["i", "am"], Name, Assert, NameStrict, 0.8, INTRO),
];

// ---------------------------------------------------------------- clause preparation

/// Where a clause's content starts after greetings and discourse cues, and what the cues
/// said about the kind of statement that follows.
struct Lead {
    c: usize,
    correction: bool,
    change: bool,
}

fn strip_lead(doc: &Doc<'_>, a: usize, b: usize) -> Lead {
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
            ("just", "so", "you") if w(doc, k + 3, b) == "know" => 4,
            ("fun", "fact", _)
            | ("thank", "you", _)
            | ("good", "morning" | "afternoon" | "evening" | "day", _) => 2,
            (
                "hi" | "hello" | "hey",
                "there" | "all" | "everyone" | "guys" | "folks" | "again" | "team",
                _,
            ) => 2,
            ("as" | "like", "i", "said" | "mentioned" | "told" | "wrote") => {
                if w(doc, k + 3, b) == "you" {
                    4
                } else {
                    3
                }
            }
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
                | "lmao" | "lmfao" | "rofl" | "hah" | "heh" | "ahh" => 1,
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
fn is_question_start(n: &str) -> bool {
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
fn question_keep(doc: &Doc<'_>, clauses: &[(usize, usize)]) -> usize {
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

fn is_hypothetical(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    let c = doc.toks[k].class;
    // "If you must know, I live in Porto": a condition on the listener, not on the user.
    if doc.n(k) == "if" && matches!(w(doc, k + 1, end), "you" | "u" | "anyone" | "anybody") {
        return false;
    }
    c & class::HYPO != 0 || (c & class::HYPO_LET != 0 && matches!(w(doc, k + 1, end), "'s" | "us"))
}

/// First token of the sentence that opens a hypothetical or wish; `s.end` if none.
fn hypothetical_at(doc: &Doc<'_>, s: Sentence) -> usize {
    (s.start..s.end)
        .find(|&k| doc.toks[k].is_word() && is_hypothetical(doc, k, s.end))
        .unwrap_or(s.end)
}

/// Someone other than the user is being reported ("He said ...", "My mom says I'm ...").
fn reported(doc: &Doc<'_>, s: Sentence) -> bool {
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
fn colloquial_we(doc: &Doc<'_>, c: usize, end: usize) -> Option<usize> {
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
fn quote_state(doc: &Doc<'_>, from: usize, to: usize, mut open: bool) -> bool {
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

// ---------------------------------------------------------------- matching

/// Adverbs that may sit inside a pattern without changing its meaning: the number of
/// tokens to skip at `i` (0 if none).
fn filler(doc: &Doc<'_>, i: usize, end: usize) -> usize {
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
        _ => 0,
    }
}

/// Whether `tok` equals one of the `|`-separated alternatives (`is` also takes `'s`).
fn alt_match(tok: &str, alts: &str) -> bool {
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
fn seq(doc: &Doc<'_>, mut i: usize, end: usize, pat: &[&str]) -> Option<usize> {
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

struct Clause {
    /// First token, cues included (for the span).
    a: usize,
    /// First content token.
    c: usize,
    end: usize,
    correction: bool,
    change: bool,
    msg_start: bool,
    /// "... and live in Porto": the subject "I" of the previous clause is understood.
    implicit_i: bool,
}

struct Sink<'o> {
    out: &'o mut Vec<ExtractedFact>,
    span: (usize, usize),
    conf_scale: f32,
}

impl Sink<'_> {
    fn push(
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

fn changeable(p: Predicate) -> bool {
    p.cardinality() == Cardinality::One || p == Predicate::Diet
}

fn resolve(base: FactKind, pred: Predicate, correction: bool, change: bool) -> FactKind {
    match base {
        FactKind::Assert if correction => FactKind::Correction,
        FactKind::Assert if change && changeable(pred) => FactKind::Change,
        k => k,
    }
}

fn has_anymore(doc: &Doc<'_>, from: usize, end: usize) -> bool {
    (from..end).any(|k| {
        let n = w(doc, k, end);
        n == "anymore" || (n == "any" && matches!(w(doc, k + 1, end), "more" | "longer"))
    })
}

fn trailing_now(doc: &Doc<'_>, from: usize, end: usize) -> bool {
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
    for s in doc.sentences() {
        doc.clauses(s, &mut clauses);
        if reported(doc, s) {
            seen_content = true;
            pending_correction = false;
            pending_change = false;
            continue;
        }
        let hypo = hypothetical_at(doc, s);
        let mut prev_first_person = false;
        let mut quote_pos = s.start;
        let mut quote_open = false;
        let keep = if s.question {
            question_keep(doc, &clauses)
        } else {
            clauses.len()
        };
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
            let end = b.min(hypo);
            // Quote state is carried along the sentence so long sentences stay linear.
            quote_open = quote_state(doc, quote_pos, lead.c, quote_open);
            quote_pos = lead.c;
            let quoted = quote_open;
            let mut c = lead.c;
            let first = doc.n(c);
            let mut implicit_i = ci > 0 && prev_first_person && text::is_elided_subject_verb(first);
            // "Me and my partner live in Oslo", "My partner and me live in Oslo".
            if let Some(verb) = colloquial_we(doc, c, end) {
                c = verb;
                implicit_i = true;
            }
            prev_first_person = implicit_i || matches!(first, "i" | "we");
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
    }
    postprocess(&mut out);
    out
}

fn postprocess(out: &mut Vec<ExtractedFact>) {
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
        out.retain(|f| seen.insert((f.predicate, f.kind.as_str(), f.object.clone())));
    }
}

fn same_fact(a: &ExtractedFact, b: &ExtractedFact) -> bool {
    a.predicate == b.predicate && a.kind == b.kind && a.object == b.object
}

fn match_clause(doc: &Doc<'_>, cl: &Clause, out: &mut Vec<ExtractedFact>, scratch: &mut Vec<R>) {
    let span = (
        doc.toks[cl.a].start,
        doc.toks[cl.end.saturating_sub(1).max(cl.a)].end,
    );
    let conf_scale = if doc.case == CaseMode::Flat { 0.9 } else { 1.0 };
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
}

/// "Priya here." as the opening of a message.
fn name_here(doc: &Doc<'_>, cl: &Clause, sink: &mut Sink<'_>) -> bool {
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

/// Runs a rule's value parser; pushes facts and returns the token after the value.
fn apply(
    doc: &Doc<'_>,
    cl: &Clause,
    rule: &Rule,
    i: usize,
    sink: &mut Sink<'_>,
    scratch: &mut Vec<R>,
) -> Option<usize> {
    let end = cl.end;
    let pred = rule.pred;
    let id = rule.id;
    let conf = rule.conf;
    match rule.val {
        Val::NameLoose | Val::NameStrict | Val::GoBy => {
            let r = v::name(doc, i, end, rule.val == Val::NameStrict)?;
            if rule.val == Val::GoBy && (is_go_by_non_name(doc.n(r.a)) || doc.s(r.a).contains('/'))
            {
                return None;
            }
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            if rule.flags & INTRO != 0 {
                return Some(intro_tail(doc, r.b, end, sink));
            }
            Some(r.b)
        }
        Val::Place => {
            let r = v::place(doc, i, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::PlaceAfterTo => {
            let to = (i..end.min(i + 8)).find(|&k| w(doc, k, end) == "to")?;
            let r = v::place(doc, to + 1, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::PlaceAfterIn => {
            // "I live with my girlfriend in Brooklyn": a short companion phrase, then "in".
            let at = (i..end.min(i + 6))
                .take_while(|&k| doc.toks[k].is_word())
                .find(|&k| w(doc, k, end) == "in")?;
            let r = v::place(doc, at + 1, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::Org | Val::OrgNotPlace => {
            let r = v::org(doc, i, end)?;
            if rule.val == Val::OrgNotPlace && lx::is_well_known_place(doc.n(r.a)) {
                return None;
            }
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            let mut e = r.b;
            // "I work at Acme as a designer"
            if w(doc, e, end) == "as" {
                if let Some(j) = v::job_free(doc, e + 1, end) {
                    sink.push(
                        Predicate::JobTitle,
                        v::join(doc, j),
                        "job_title.work_at_as",
                        conf,
                        Vec::new(),
                    );
                    e = j.b;
                }
            }
            Some(e)
        }
        Val::JobLex | Val::JobFree => {
            // "I'm a 35 year old teacher": the age is a fact of its own, not part of the job.
            let mut i = i;
            if let Some((age, after)) = age_phrase(doc, i, end) {
                sink.push(
                    Predicate::Age,
                    age.to_string(),
                    "age.job_phrase",
                    0.8,
                    Vec::new(),
                );
                i = after;
            }
            let r = if rule.val == Val::JobLex {
                v::job_lex(doc, i, end)?
            } else {
                v::job_free(doc, i, end)?
            };
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            let mut e = r.b;
            let student = doc.n(r.b - 1) == "student";
            let of_ok =
                doc.n(i.saturating_sub(1)) == "the" || doc.n(r.a.saturating_sub(1)) == "the";
            let prep = w(doc, e, end);
            if !student && (matches!(prep, "at" | "for") || (of_ok && prep == "of")) {
                if let Some(o) = v::org(doc, e + 1, end) {
                    sink.push(
                        Predicate::Employer,
                        v::join(doc, o),
                        "employer.job_at",
                        conf,
                        Vec::new(),
                    );
                    e = o.b;
                }
            }
            // "a teacher from Ohio"
            if w(doc, e, end) == "from" && !matches!(w(doc, e + 1, end), "the" | "a" | "an") {
                if let Some(p) = v::place(doc, e + 1, end) {
                    sink.push(
                        Predicate::Hometown,
                        v::join(doc, p),
                        "hometown.job_from",
                        0.8,
                        Vec::new(),
                    );
                    e = p.b;
                }
            }
            Some(e)
        }
        Val::Phrases | Val::Allergens => {
            v::phrases(doc, i, end, scratch);
            let mut e = i;
            for &r in scratch.iter() {
                sink.push(pred, v::item_text(doc, r), id, conf, Vec::new());
                e = e.max(r.b);
            }
            Some(e)
        }
        Val::Langs => {
            v::languages(doc, i, end, scratch);
            let mut e = i;
            for &r in scratch.iter() {
                sink.push(pred, v::join(doc, r), id, conf, Vec::new());
                e = e.max(r.b);
            }
            Some(e)
        }
        Val::NativeSpeaker => {
            let sp = (i..end.min(i + 4)).find(|&k| w(doc, k, end) == "speaker")?;
            v::languages(doc, i, sp, scratch);
            let r = *scratch.first()?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(sp + 1)
        }
        Val::FanNoun => {
            let fan = (i..end.min(i + 5)).find(|&k| matches!(w(doc, k, end), "fan" | "fanatic"))?;
            let mut a = i;
            if w(doc, a, end) == "the" {
                a += 1;
            }
            if fan <= a || !(a..fan).all(|k| doc.toks[k].is_word()) {
                return None;
            }
            if w(doc, fan + 1, end) == "of" {
                return None;
            }
            sink.push(pred, v::join(doc, R { a, b: fan }), id, conf, Vec::new());
            Some(fan + 1)
        }
        Val::Favorite => {
            let is =
                (i..end.min(i + 4)).find(|&k| matches!(w(doc, k, end), "is" | "'s" | "are"))?;
            v::phrases(doc, is + 1, end, scratch);
            let mut e = is + 1;
            for &r in scratch.iter() {
                sink.push(pred, v::item_text(doc, r), id, conf, Vec::new());
                e = e.max(r.b);
            }
            Some(e)
        }
        Val::Email => {
            let r = v::email(doc, i, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::Tz | Val::TzLoose => {
            let r = v::timezone(doc, i, end, rule.val == Val::TzLoose)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::Diet => {
            let r = v::diet(doc, i, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::DietNoun => {
            let r = v::diet(doc, i, end)?;
            if w(doc, r.b, end) != "diet" {
                return None;
            }
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b + 1)
        }
        Val::AllergyNoun => {
            let mut a = i;
            if matches!(w(doc, a, end), "a" | "an") {
                a += 1;
            }
            let k =
                (a..end.min(a + 4)).find(|&k| matches!(w(doc, k, end), "allergy" | "allergies"))?;
            if k == a
                || !(a..k).all(|j| {
                    doc.toks[j].is_word()
                        && !matches!(
                            doc.n(j),
                            "severe" | "bad" | "mild" | "serious" | "slight" | "no"
                        )
                })
            {
                return None;
            }
            sink.push(pred, v::join(doc, R { a, b: k }), id, conf, Vec::new());
            Some(k + 1)
        }
        Val::Age => {
            let (age, e) = v::age(doc, i, end)?;
            sink.push(pred, age.to_string(), id, conf, Vec::new());
            Some(e)
        }
        Val::Date => {
            let r = v::date(doc, i, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::HaveNp => have_np(doc, i, end, id, conf, sink),
        Val::Spouse => {
            let r = v::name(doc, i, end, false)?;
            let engaged = (cl.c..i).any(|k| doc.n(k) == "engaged");
            let relation = if engaged { "fiancé" } else { "spouse" };
            sink.push(
                pred,
                v::join(doc, r),
                id,
                conf,
                vec![("relation", relation.to_string())],
            );
            Some(r.b)
        }
    }
}

/// "35 year old", "35-year-old", "a 35 yo" inside a noun phrase (article optional).
fn age_phrase(doc: &Doc<'_>, i: usize, end: usize) -> Option<(u32, usize)> {
    let k = if matches!(w(doc, i, end), "a" | "an") {
        i + 1
    } else {
        i
    };
    let n = w(doc, k, end);
    // "35-year-old" is one token.
    if let Some(num) = n.strip_suffix("-year-old") {
        let v: u32 = num.parse().ok()?;
        return (1..=120).contains(&v).then_some((v, k + 1));
    }
    let v: u32 = n.parse().ok().or_else(|| lx::number_word(n))?;
    if !(1..=120).contains(&v) {
        return None;
    }
    let after = match (w(doc, k + 1, end), w(doc, k + 2, end)) {
        ("year" | "yr", "old") => k + 3,
        ("yo" | "y/o" | "year-old", _) => k + 2,
        _ => return None,
    };
    Some((v, after))
}

#[rustfmt::skip]
fn is_go_by_non_name(n: &str) -> bool {
    matches!(
        n,
        "bus" | "car" | "train" | "bike" | "foot" | "plane" | "taxi" | "subway" | "metro"
            | "boat" | "tram" | "ferry" | "uber" | "bicycle" | "instinct" | "feel" | "ear"
            | "rules" | "gut" | "day" | "night" | "email" | "phone" | "mail" | "he" | "she"
            | "they" | "them" | "him" | "her" | "xe" | "ze" | "any" | "pronouns"
    )
}

/// After "I'm Ana" / "My name is Ana": ", 34", ", from Lisbon", ", based in Porto",
/// ", a nurse". Returns the token after the last part it understood.
fn intro_tail(doc: &Doc<'_>, mut k: usize, end: usize, sink: &mut Sink<'_>) -> usize {
    loop {
        let mut j = k;
        let comma = j < end && doc.toks[j].is_punct(',');
        if comma {
            j += 1;
        }
        let n = w(doc, j, end);
        if comma {
            if let Some((age, e)) = v::age(doc, j, end) {
                sink.push(
                    Predicate::Age,
                    age.to_string(),
                    "age.intro_tail",
                    0.8,
                    Vec::new(),
                );
                k = e;
                continue;
            }
        }
        let (from, loc) = match (n, w(doc, j + 1, end)) {
            ("from", _) => (Some(j + 1), false),
            ("originally", "from") => (Some(j + 2), false),
            ("based" | "living", "in") => (Some(j + 2), true),
            _ => (None, false),
        };
        if let Some(p) = from {
            if matches!(w(doc, p, end), "the" | "a" | "an") {
                break;
            }
            let Some(r) = v::place(doc, p, end) else {
                break;
            };
            let (pred, id) = if loc {
                (Predicate::Location, "location.intro_tail")
            } else {
                (Predicate::Hometown, "hometown.intro_tail")
            };
            sink.push(pred, v::join(doc, r), id, 0.8, Vec::new());
            k = r.b;
            continue;
        }
        if comma && matches!(n, "a" | "an") {
            if let Some(r) = v::job_lex(doc, j, end) {
                sink.push(
                    Predicate::JobTitle,
                    v::join(doc, r),
                    "job_title.intro_tail",
                    0.75,
                    Vec::new(),
                );
                k = r.b;
                continue;
            }
        }
        break;
    }
    k
}

// ---------------------------------------------------------------- pets and family

fn species_word(n: &str) -> bool {
    lx::is_species(n)
        || n.strip_suffix('s').is_some_and(lx::is_species)
        || matches!(
            n,
            "puppies" | "bunnies" | "kitties" | "ponies" | "mice" | "fishes" | "guppies"
        )
}

fn is_plural_head(n: &str) -> bool {
    n.ends_with('s') && !lx::is_species(n) || matches!(n, "mice" | "children")
}

/// A head noun for a pet or a family member at `k`, with its end ("guinea pig" is two).
fn kin_head(doc: &Doc<'_>, k: usize, end: usize) -> Option<(usize, bool)> {
    let n = w(doc, k, end);
    if n == "guinea" && matches!(w(doc, k + 1, end), "pig" | "pigs") {
        return Some((k + 2, true));
    }
    if species_word(n) {
        return Some((k + 1, true));
    }
    if lx::is_relation(n) {
        return Some((k + 1, false));
    }
    None
}

#[rustfmt::skip]
fn np_follow_ok(n: &str) -> bool {
    matches!(
        n,
        "named" | "called" | "and" | "or" | "but" | "who" | "that" | "which" | "whose" | "with"
            | "at" | "in" | "too" | "also" | "now" | "as" | "so" | "because" | "since" | "lol"
            | "haha" | "plus" | "i" | "both" | "back" | "here" | "there" | "from" | "for"
            | "whom" | "already" | "btw" | "though" | "is" | "are" | "was" | "were"
    )
}

fn determiner(doc: &Doc<'_>, k: usize, end: usize) -> Option<(u32, usize)> {
    let n = w(doc, k, end);
    let single = match n {
        "a" | "an" | "one" | "another" => Some(1),
        "couple" => None,
        _ => lx::number_word(n)
            .filter(|&v| (2..=20).contains(&v))
            .or_else(|| n.parse::<u32>().ok().filter(|v| (2..=20).contains(v))),
    };
    if let Some(c) = single {
        return Some((c, k + 1));
    }
    if n == "a" && w(doc, k + 1, end) == "couple" && w(doc, k + 2, end) == "of" {
        return Some((2, k + 3));
    }
    None
}

/// Modifiers that say nothing about the pet or person and are dropped from the object.
#[rustfmt::skip]
fn subjective(n: &str) -> bool {
    matches!(
        n,
        "little" | "small" | "tiny" | "big" | "huge" | "cute" | "sweet" | "lovely" | "adorable"
            | "beautiful" | "wonderful" | "amazing" | "old" | "new" | "young" | "fluffy"
            | "lazy" | "rescue" | "pet" | "crazy" | "fat" | "gorgeous" | "wee"
    )
}

/// "I have a cat named Miso", "two dogs and a rabbit", "a daughter named Zoe and a son
/// named Eli", "a son".
fn have_np(
    doc: &Doc<'_>,
    i: usize,
    end: usize,
    id: &'static str,
    conf: f32,
    sink: &mut Sink<'_>,
) -> Option<usize> {
    let mut k = i;
    let mut last = None;
    loop {
        let (count, k2) = determiner(doc, k, end)?;
        let mut h = k2;
        let mut head = None;
        while h < end && h < k2 + 4 && doc.toks[h].is_word() {
            if let Some((hb, pet)) = kin_head(doc, h, end) {
                // "a german shepherd": take the last of adjacent head words.
                if kin_head(doc, hb, end).is_none() {
                    head = Some((h, hb, pet));
                    break;
                }
            }
            if matches!(
                doc.n(h),
                "named" | "called" | "and" | "who" | "of" | "for" | "with"
            ) {
                break;
            }
            h += 1;
        }
        let (ha, hb, pet) = head?;
        if hb < end && doc.toks[hb].is_word() && !np_follow_ok(doc.n(hb)) {
            break;
        }
        if ha > k2
            && matches!(
                doc.n(ha - 1),
                "hot" | "corn" | "top" | "sea" | "prairie" | "lap"
            )
        {
            break;
        }
        let mut np_a = k2;
        while np_a < ha && subjective(doc.n(np_a)) {
            np_a += 1;
        }
        let np = R { a: np_a, b: hb };
        let np_text = v::join(doc, np).to_lowercase();
        let (pred, attr) = if pet {
            (Predicate::Pet, "species")
        } else {
            (Predicate::Family, "relation")
        };
        let rule_id = if pet { id } else { family_id(id) };
        let mut m = hb;
        let mut named = false;
        if matches!(w(doc, m, end), "named" | "called") {
            m += 1;
            while let Some(r) = v::name(doc, m, end, false) {
                if kin_head(doc, r.a, end).is_some() || determiner(doc, r.a, end).is_some() {
                    break;
                }
                named = true;
                let attrs = vec![(attr, np_text.clone())];
                sink.push(pred, v::join(doc, r), rule_id, conf, attrs);
                m = r.b;
                let mut j = m;
                if j < end && doc.toks[j].is_punct(',') {
                    j += 1;
                }
                if w(doc, j, end) == "and" {
                    j += 1;
                }
                if j == m || determiner(doc, j, end).is_some() {
                    break;
                }
                m = j;
            }
            if !named {
                m = hb;
            }
        }
        if !named {
            let mut attrs = vec![(attr, np_text)];
            if count > 1 {
                attrs.push(("count", count.to_string()));
            }
            sink.push(pred, v::join(doc, np), rule_id, conf, attrs);
        }
        last = Some(m);
        // Another item: "and a rabbit", ", a cat", "plus two fish".
        let mut j = m;
        if j < end && doc.toks[j].is_punct(',') {
            j += 1;
        }
        if matches!(w(doc, j, end), "and" | "plus") {
            j += 1;
        }
        if j > m && determiner(doc, j, end).is_some() {
            k = j;
            continue;
        }
        break;
    }
    last
}

fn family_id(pet_id: &'static str) -> &'static str {
    match pet_id {
        "pet.no_longer_have" => "family.no_longer_have",
        "pet.have_got" => "family.have_got",
        _ => "family.have",
    }
}

/// "my cat Miso", "my wife is Marie", "my daughter's name is Lily", "my son, Leo,":
/// anywhere in an accepted clause, since the possessive already anchors it to the user.
fn my_np(doc: &Doc<'_>, cl: &Clause, sink: &mut Sink<'_>) {
    let end = cl.end;
    let mut k = cl.c;
    while k < end {
        // "our cat", "our son": the household includes the user.
        if !matches!(w(doc, k, end), "my" | "our") {
            k += 1;
            continue;
        }
        let mut h = k + 1;
        let mut head = None;
        while h < end && h < k + 5 {
            if let Some((hb, pet)) = kin_head(doc, h, end) {
                if kin_head(doc, hb, end).is_none() {
                    head = Some((hb, pet));
                    break;
                }
                h += 1;
                continue;
            }
            let n = w(doc, h, end);
            if !lx::is_kin_modifier(n) {
                break;
            }
            h += 1;
        }
        let Some((hb, pet)) = head else {
            k += 1;
            continue;
        };
        let mut np_a = k + 1;
        while np_a < hb - 1 && subjective(doc.n(np_a)) {
            np_a += 1;
        }
        let np_text = v::join(doc, R { a: np_a, b: hb }).to_lowercase();
        let (pred, attr, base_id) = if pet {
            (Predicate::Pet, "species", "pet.my")
        } else {
            (Predicate::Family, "relation", "family.my")
        };
        let plural = is_plural_head(doc.n(hb - 1));
        let mut names: Vec<R> = Vec::new();
        let n0 = w(doc, hb, end);
        let (rule_id, conf) = if n0 == "'s"
            && w(doc, hb + 1, end) == "name"
            && matches!(w(doc, hb + 2, end), "is" | "'s")
        {
            if let Some(r) = v::name(doc, hb + 3, end, false) {
                names.push(r);
            }
            (
                if pet {
                    "pet.my_x_name_is"
                } else {
                    "family.my_x_name_is"
                },
                0.9,
            )
        } else if matches!(n0, "is" | "are" | "'s")
            && matches!(w(doc, hb + 1, end), "named" | "called")
        {
            if let Some(r) = v::name(doc, hb + 2, end, false) {
                names.push(r);
            }
            (
                if pet {
                    "pet.my_x_is_named"
                } else {
                    "family.my_x_is_named"
                },
                0.9,
            )
        } else if matches!(n0, "named" | "called") {
            if let Some(r) = v::name(doc, hb + 1, end, false) {
                names.push(r);
            }
            (
                if pet {
                    "pet.my_x_named"
                } else {
                    "family.my_x_named"
                },
                0.85,
            )
        } else if (n0 == "is" && !plural) || (n0 == "are" && plural) {
            let mut m = hb + 1;
            while let Some(r) = v::name(doc, m, end, true) {
                names.push(r);
                if !plural || w(doc, r.b, end) != "and" {
                    // "my brother is Carlos and he ..." ends at the first name.
                    break;
                }
                m = r.b + 1;
            }
            (if pet { "pet.my_x_is" } else { "family.my_x_is" }, 0.85)
        } else if hb < end && doc.toks[hb].is_punct(',') {
            if let Some(r) = v::name(doc, hb + 1, end, true) {
                let closes = r.b >= end || doc.toks[r.b].is_punct(',') || !doc.toks[r.b].is_word();
                if closes {
                    names.push(r);
                }
            }
            (base_id, 0.75)
        } else {
            if let Some(r) = v::name(doc, hb, end, true) {
                names.push(r);
            }
            (base_id, 0.8)
        };
        for r in &names {
            sink.push(
                pred,
                v::join(doc, *r),
                rule_id,
                conf,
                vec![(attr, np_text.clone())],
            );
            if let Some(f) = sink.out.last_mut() {
                f.kind = if cl.correction {
                    FactKind::Correction
                } else {
                    FactKind::Assert
                };
            }
        }
        k = hb;
    }
}
