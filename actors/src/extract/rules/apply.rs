//! Value slots: turns the value a rule expects into facts (a name with its introduction tail,
//! a place, an employer with "as <job>", a job with "at <employer>", lists of likes or
//! languages, ...). It must never push a fact whose value failed validation.

use super::super::lexicon as lx;
use super::super::text::Doc;
use super::super::values::{self as v, w, R};
use super::super::{FactKind, Predicate};
use super::kin::have_np;
use super::sink::{Clause, Sink};
use super::table::*;

/// Runs a rule's value parser; pushes facts and returns the token after the value.
pub(super) fn apply(
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
            // "I grew up just north of Denver": the place after a direction.
            if matches!(
                w(doc, i, end),
                "north" | "south" | "east" | "west" | "outside" | "near" | "around"
            ) {
                let r = v::place(doc, i, end)?;
                sink.push(pred, v::join(doc, r), id, conf, Vec::new());
                return Some(r.b);
            }
            // "I live with my girlfriend in Brooklyn": a short companion phrase, then "in".
            let at = (i..end.min(i + 6))
                .take_while(|&k| doc.toks[k].is_word())
                .find(|&k| w(doc, k, end) == "in")?;
            let r = v::place(doc, at + 1, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::Org | Val::OrgNotPlace => {
            let Some(r) = v::org(doc, i, end) else {
                // "I work for a dealership as a receptionist": no name, but a job.
                if rule.kind != FactKind::Assert || rule.val != Val::Org {
                    return None;
                }
                let as_at = (i..end.min(i + 5))
                    .take_while(|&k| doc.toks[k].is_word())
                    .find(|&k| w(doc, k, end) == "as")?;
                let j = v::job_lex(doc, as_at + 1, end)?;
                sink.push(
                    Predicate::JobTitle,
                    v::join(doc, j),
                    "job_title.work_at_as",
                    conf,
                    Vec::new(),
                );
                return Some(j.b);
            };
            if rule.val == Val::OrgNotPlace && lx::is_well_known_place(doc.n(r.a)) {
                return None;
            }
            // "SO I quit kind of soon", "i quit soccer": after a bare "left|quit" only a
            // capitalised name reads as an employer.
            let head = if doc.n(r.a) == "the" { r.a + 1 } else { r.a };
            if rule.val == Val::OrgNotPlace && !doc.toks.get(head).is_some_and(|t| t.has_upper) {
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
            // "a photographer and web developer": a second known occupation.
            if w(doc, e, end) == "and" {
                if let Some(r2) = v::job_lex(doc, e + 1, end) {
                    sink.push(pred, v::join(doc, r2), id, conf, Vec::new());
                    e = r2.b;
                }
            }
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
            // "a teacher from Ohio"; "a transfer student from Weber State University" names a
            // school, not a hometown.
            if w(doc, e, end) == "from" && !matches!(w(doc, e + 1, end), "the" | "a" | "an") {
                let school = |p: &R| {
                    (p.a..p.b).any(|k| {
                        matches!(
                            doc.n(k),
                            "university" | "college" | "school" | "academy" | "institute"
                        )
                    })
                };
                if let Some(p) = v::place(doc, e + 1, end).filter(|p| !school(p)) {
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
        Val::Hobby => {
            // "my hobby would be painting".
            let i = if w(doc, i, end) == "be" { i + 1 } else { i };
            phrase_list(doc, i, end, rule, sink, scratch)
        }
        Val::Play => {
            v::phrases(doc, i, end, scratch);
            let mut e = None;
            for &r in scratch.iter() {
                // "the guitar", "video games", "soccer and tennis".
                let a = if doc.n(r.a) == "the" { r.a + 1 } else { r.a };
                if a >= r.b || !lx::is_played(doc.n(r.b - 1)) {
                    break;
                }
                let text = format!("playing {}", v::join(doc, R { a, b: r.b }));
                sink.push(pred, text, id, conf, Vec::new());
                e = Some(r.b);
            }
            e
        }
        Val::GoDoing => {
            // "i go hiking on weekends"; "i go shopping tomorrow" is a plan, not a habit.
            let n = w(doc, i, end);
            if !lx::is_go_pastime(n) || is_occasion(w(doc, i + 1, end)) {
                return None;
            }
            sink.push(pred, doc.s(i).to_lowercase(), id, conf, Vec::new());
            Some(i + 1)
        }
        Val::SpendTime => {
            // "i spend my weekends hiking", "I spend most of my free time reading".
            let mut k = i;
            if matches!(w(doc, k, end), "most" | "all" | "much") && w(doc, k + 1, end) == "of" {
                k += 2;
            } else if w(doc, k, end) == "all" {
                k += 1;
            }
            if w(doc, k, end) != "my" {
                return None;
            }
            k += 1;
            if matches!(w(doc, k, end), "free" | "spare" | "down" | "off") {
                k += 1;
            }
            if !matches!(
                w(doc, k, end),
                "time"
                    | "weekends"
                    | "weekend"
                    | "evenings"
                    | "nights"
                    | "summers"
                    | "days"
                    | "mornings"
                    | "afternoons"
                    | "downtime"
                    | "winters"
            ) {
                return None;
            }
            k += 1;
            let g = w(doc, k, end);
            if g.len() < 5
                || !g.ends_with("ing")
                || matches!(g, "thing" | "nothing" | "something" | "morning" | "evening")
            {
                return None;
            }
            phrase_list(doc, k, end, rule, sink, scratch)
        }
        Val::ParentOf => {
            // "a mom of two", "a father of 3 boys", "a proud mother of four kids".
            if !matches!(
                w(doc, i, end),
                "mom" | "mum" | "mother" | "dad" | "father" | "parent" | "mommy" | "momma"
            ) || w(doc, i + 1, end) != "of"
            {
                return None;
            }
            let n = w(doc, i + 2, end);
            let count = lx::number_word(n)
                .or_else(|| n.parse::<u32>().ok())
                .filter(|c| (2..=20).contains(c))?;
            let (object, after) = match w(doc, i + 3, end) {
                o @ ("kids" | "children" | "boys" | "girls" | "sons" | "daughters") => {
                    (o.to_owned(), i + 4)
                }
                _ => ("kids".to_owned(), i + 3),
            };
            let attrs = vec![("relation", object.clone()), ("count", count.to_string())];
            sink.push(pred, object, id, conf, attrs);
            Some(after)
        }
        Val::Collect => {
            v::phrases(doc, i, end, scratch);
            let r = *scratch.first()?;
            let text = format!("collecting {}", v::item_text(doc, r));
            sink.push(pred, text, id, conf, Vec::new());
            Some(r.b)
        }
        Val::ALot => {
            // "i read a lot", "i cook alot": the verb before the slot is the pastime.
            let verb = doc.n(i.checked_sub(1)?);
            let after = match (w(doc, i, end), w(doc, i + 1, end)) {
                ("a", "lot") => i + 2,
                ("alot", _) => i + 1,
                _ => return None,
            };
            if v::is_word(doc, after, end)
                && !matches!(
                    w(doc, after, end),
                    "and" | "so" | "but" | "too" | "lol" | "haha"
                )
            {
                return None;
            }
            sink.push(pred, v::gerund(verb), id, conf, Vec::new());
            Some(after)
        }
        Val::ALotOf => {
            // "i drink a lot of coffee", "i listen to a lot of jazz": plenty of it, by choice.
            let mut k = i;
            if doc.n(i.checked_sub(1)?) == "listen" && w(doc, k, end) == "to" {
                k += 1;
            }
            let q = match (w(doc, k, end), w(doc, k + 1, end), w(doc, k + 2, end)) {
                ("a", "lot", "of") => k + 3,
                ("lots" | "tons", "of", _) => k + 2,
                _ => return None,
            };
            phrase_list(doc, q, end, rule, sink, scratch)
        }
        Val::Phrases | Val::Allergens => phrase_list(doc, i, end, rule, sink, scratch),
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
        Val::FanNoun | Val::NotFanNoun => {
            // "a huge music guy" says as much as "a music fan"; "a nice guy" says nothing.
            let keen = matches!(
                doc.n(i.saturating_sub(1)),
                "big"
                    | "huge"
                    | "massive"
                    | "great"
                    | "giant"
                    | "total"
                    | "true"
                    | "die-hard"
                    | "diehard"
                    | "biggest"
            );
            let strict = rule.val == Val::NotFanNoun;
            // "an avid reader", "a huge gamer": a keen doer of a pastime likes it.
            if !strict {
                // Keenness, not skill: "a great writer" may be a job well done.
                let avid = |n: &str| {
                    matches!(
                        n,
                        "avid"
                            | "big"
                            | "huge"
                            | "massive"
                            | "keen"
                            | "voracious"
                            | "passionate"
                            | "enthusiastic"
                            | "hardcore"
                            | "die-hard"
                            | "diehard"
                            | "obsessive"
                    )
                };
                let mut a = i;
                while a < end
                    && (avid(doc.n(a)) || matches!(doc.n(a), "really" | "very" | "pretty"))
                {
                    a += 1;
                }
                let said_keen = (i.saturating_sub(1)..a).any(|k| avid(doc.n(k)));
                // "I'm a gamer", "a bookworm": a word that is a pastime's doer and no job.
                let plain = matches!(w(doc, a, end), "gamer" | "bookworm" | "foodie" | "hiker");
                let pastime = (said_keen || plain)
                    .then(|| pastime_of_doer(w(doc, a, end)))
                    .flatten();
                let ends = a + 1 >= end
                    || !doc.toks[a + 1].is_word()
                    || matches!(
                        doc.n(a + 1),
                        "and" | "too" | "also" | "so" | "but" | "lol" | "haha"
                    );
                if let (Some(p), true) = (pastime, ends) {
                    sink.push(pred, p.to_string(), id, conf, Vec::new());
                    return Some(a + 1);
                }
            }
            // "a pretty big Harry Potter and Percy Jackson fan", "a big basketball, soccer, and
            // football fan": a list before the noun may reach past five words when it is only
            // words, commas and "and".
            let list_ok = |k: usize| {
                k < end
                    && (doc.toks[k].is_punct(',')
                        || (doc.toks[k].is_word()
                            && !v::phrase_stop(doc.n(k))
                            && !matches!(doc.n(k), "a" | "an" | "the" | "of" | "who" | "to")))
            };
            let reach = (i..end.min(i + 10))
                .take_while(|&k| k < i + 5 || list_ok(k))
                .last()
                .map_or(i, |k| k + 1);
            let fan = (i..reach).find(|&k| {
                matches!(w(doc, k, end), "fan" | "fanatic" | "lover")
                    || (!strict
                        && matches!(
                            w(doc, k, end),
                            "geek" | "nerd" | "junkie" | "addict" | "buff"
                        ))
                    || (!strict
                        && keen
                        && matches!(
                            w(doc, k, end),
                            "guy"
                                | "girl"
                                | "person"
                                | "drinker"
                                | "eater"
                                | "watcher"
                                | "listener"
                        ))
                    || (pred == Predicate::Likes
                        && w(doc, k, end) == "person"
                        && k > i
                        && is_person_noun(doc.n(k - 1)))
            })?;
            let mut a = i;
            if w(doc, a, end) == "the" {
                a += 1;
            }
            // "a bit of a computer nerd": the hedge is no part of what is liked.
            if w(doc, a, end) == "bit" && w(doc, a + 1, end) == "of" {
                a += 2;
                if matches!(w(doc, a, end), "a" | "an") {
                    a += 1;
                }
            }
            // "an avid fan", "a decently big Disney fan": words that say how keen, not what of.
            while a < fan && is_keenness(doc.n(a)) {
                a += 1;
            }
            // "a die hard fan": keenness written as two words.
            if a + 2 == fan && doc.n(a) == "die" && doc.n(a + 1) == "hard" {
                a += 2;
            }
            let long = fan > i + 5;
            if fan <= a
                || !(a..fan).all(|k| doc.toks[k].is_word() || (long && doc.toks[k].is_punct(',')))
            {
                return None;
            }
            if w(doc, fan + 1, end) == "of" {
                return None;
            }
            // "a huge Marvel and Iron Man fan": two things liked.
            let mut s = a;
            for k in a..=fan {
                if k == fan || w(doc, k, end) == "and" || doc.toks[k].is_punct(',') {
                    if k > s {
                        sink.push(pred, v::join(doc, R { a: s, b: k }), id, conf, Vec::new());
                    }
                    s = k + 1;
                }
            }
            Some(fan + 1)
        }
        Val::Favorite => {
            // "my favorite movie of all time would for sure have to be Nacho Libre", "my
            // favorite class so far has been physics": a modal or perfect "be" reads as "is".
            let is = (i..end.min(i + 11)).find(|&k| {
                (k < i + 8 && matches!(w(doc, k, end), "is" | "'s" | "are"))
                    || (matches!(w(doc, k, end), "be" | "been")
                        && k > i
                        && matches!(
                            doc.n(k - 1),
                            "to" | "would" | "will" | "has" | "have" | "must" | "gotta" | "be"
                        ))
            })?;
            let mut start = is + 1;
            while matches!(
                w(doc, start, end),
                "definitely"
                    | "probably"
                    | "honestly"
                    | "easily"
                    | "totally"
                    | "still"
                    | "just"
                    | "actually"
                    | "currently"
                    | "now"
                    | "always"
            ) {
                start += 1;
            }
            // "my favorite anime is hands down Naruto".
            if w(doc, start, end) == "hands" && w(doc, start + 1, end) == "down" {
                start += 2;
            }
            v::phrases(doc, start, end, scratch);
            // "a Mushroom, onion, and Swiss cheese smothered chicken": one thing after "a".
            if scratch.len() > 1 && matches!(w(doc, start, end), "a" | "an") {
                let whole = R {
                    a: scratch[0].a,
                    b: scratch[scratch.len() - 1].b,
                };
                scratch.clear();
                scratch.push(whole);
            }
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
        Val::WorkFor => {
            let at = (i..end.min(i + 6))
                .take_while(|&k| doc.toks[k].is_word())
                .find(|&k| {
                    w(doc, k, end) == "work" && matches!(w(doc, k + 1, end), "for" | "at")
                })?;
            let r = v::org(doc, at + 2, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::Decade => {
            let mut a = i;
            if matches!(w(doc, a, end), "early" | "mid" | "late") {
                a += 1;
            }
            let n = w(doc, a, end);
            let decade = n.strip_suffix('s').is_some_and(|d| {
                d.len() == 2 && d.ends_with('0') && matches!(d.as_bytes()[0], b'1'..=b'9')
            }) || matches!(
                n,
                "teens"
                    | "twenties"
                    | "thirties"
                    | "forties"
                    | "fifties"
                    | "sixties"
                    | "seventies"
                    | "eighties"
                    | "nineties"
            );
            if !decade {
                return None;
            }
            sink.push(
                pred,
                v::join(doc, R { a: i, b: a + 1 }),
                id,
                conf,
                Vec::new(),
            );
            Some(a + 1)
        }
        Val::Teach => {
            // "I teach myself guitar", "I teach my kids": no job.
            let first = w(doc, i, end);
            if first.is_empty()
                || matches!(
                    first,
                    "myself"
                        | "me"
                        | "my"
                        | "him"
                        | "her"
                        | "them"
                        | "you"
                        | "u"
                        | "people"
                        | "it"
                        | "that"
                        | "this"
                        | "how"
                        | "what"
                        // "I tutor around 4:30": when, not whom or what.
                        | "around"
                        | "until"
                        | "till"
                        | "every"
                        | "once"
                        | "twice"
                        | "sometimes"
                        | "after"
                        | "before"
                        | "during"
                        | "when"
                        | "on"
                )
            {
                return None;
            }
            sink.push(pred, "teacher".to_owned(), id, conf, Vec::new());
            let at = (i..end.min(i + 6))
                .take_while(|&k| doc.toks[k].is_word())
                .find(|&k| w(doc, k, end) == "at");
            let mut e = i + 1;
            if let Some(o) = at.and_then(|k| v::org(doc, k + 1, end)) {
                sink.push(
                    Predicate::Employer,
                    v::join(doc, o),
                    "employer.teach_at",
                    conf,
                    Vec::new(),
                );
                e = o.b;
            }
            Some(e)
        }
        Val::Date => {
            let r = v::date(doc, i, end)?;
            sink.push(pred, v::join(doc, r), id, conf, Vec::new());
            Some(r.b)
        }
        Val::HaveNp => have_np(doc, i, end, id, conf, !cl.implicit_i, sink),
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
pub(super) fn age_phrase(doc: &Doc<'_>, i: usize, end: usize) -> Option<(u32, usize)> {
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

/// A list of things liked (or disliked, or allergens) from `i`: each item a fact, a verb
/// list read as activities, a narrowing after "especially" added.
fn phrase_list(
    doc: &Doc<'_>,
    i: usize,
    end: usize,
    rule: &Rule,
    sink: &mut Sink<'_>,
    scratch: &mut Vec<R>,
) -> Option<usize> {
    let (pred, id, conf) = (rule.pred, rule.id, rule.conf);
    v::phrases(doc, i, end, scratch);
    let mut e = i;
    // "I like to read and hike": every verb of the list is an activity.
    // Also when the first item ("to run") was dropped: the rest are still verbs.
    let infinitive = scratch.first().is_some_and(|r| doc.n(r.a) == "to")
        || w(doc, v::skip_open(doc, i, end), end) == "to";
    for &r in scratch.iter() {
        let verb_last =
            r.b - r.a == 2 && doc.n(r.a) != "to" && lx::is_activity_verb(doc.n(r.a + 1));
        let text = if infinitive && (lx::is_activity_verb(doc.n(r.a)) || verb_last) {
            v::gerund_phrase(doc, r)
        } else {
            v::item_text(doc, r)
        };
        sink.push(pred, text, id, conf, Vec::new());
        e = e.max(r.b);
    }
    // "I love all movies, but especially horror movies": the narrowing is liked too.
    if pred != Predicate::Allergy && !scratch.is_empty() {
        let mut k = e;
        if k < end && doc.toks[k].is_punct(',') {
            k += 1;
        }
        if matches!(w(doc, k, end), "but" | "and") {
            k += 1;
        }
        if matches!(w(doc, k, end), "especially" | "particularly") {
            v::phrases(doc, k + 1, end, scratch);
            for &r in scratch.iter() {
                sink.push(pred, v::item_text(doc, r), id, conf, Vec::new());
                e = e.max(r.b);
            }
        }
    }
    Some(e)
}

/// Words after "i go hiking" that make it a plan, not a habit.
fn is_occasion(n: &str) -> bool {
    matches!(
        n,
        "tomorrow" | "tonight" | "today" | "later" | "soon" | "next" | "this" | "now" | "again"
    )
}

/// Words before "fan" that say how keen the fan is, not what they are a fan of.
#[rustfmt::skip]
fn is_keenness(n: &str) -> bool {
    matches!(
        n,
        "avid" | "big" | "bigger" | "biggest" | "huge" | "massive" | "great" | "giant" | "total"
            | "die-hard" | "diehard" | "crazy" | "super" | "long-time" | "longtime"
            | "lifelong" | "loyal" | "devoted" | "absolute" | "decently" | "pretty" | "really"
            | "very" | "fairly" | "kind" | "sort" | "of" | "hardcore" | "serious" | "obsessive" | "rabid" | "proud" | "definite" | "definitely"
            | "bit" | "ginormous" | "mega" | "extreme" | "keen" | "voracious" | "passionate"
            | "enthusiastic"
    )
}

/// "reader" → "reading": the pastime of a keen doer ("an avid reader").
#[rustfmt::skip]
fn pastime_of_doer(n: &str) -> Option<&'static str> {
    Some(match n {
        "reader" | "bookworm" => "reading", "foodie" => "food", "runner" => "running", "gamer" => "gaming", "hiker" => "hiking",
        "cyclist" | "biker" => "cycling", "swimmer" => "swimming", "golfer" => "golf",
        "skier" => "skiing", "snowboarder" => "snowboarding", "surfer" => "surfing",
        "traveler" | "traveller" => "traveling", "cook" => "cooking", "baker" => "baking",
        "knitter" => "knitting", "gardener" => "gardening", "camper" => "camping",
        "fisherman" | "angler" | "fisher" => "fishing", "hunter" => "hunting",
        "climber" => "climbing", "dancer" => "dancing", "writer" => "writing",
        "photographer" => "photography", "painter" => "painting", "skater" => "skating",
        "collector" => "collecting", "moviegoer" => "movies", "shopper" => "shopping",
        "walker" => "walking", "crafter" => "crafting", "jogger" => "jogging",
        "bowler" => "bowling", "sailor" => "sailing", "boater" => "boating",
        "kayaker" => "kayaking", "birder" | "birdwatcher" => "birdwatching",
        _ => return None,
    })
}

/// Nouns of "a morning person", "a cat person": what the person likes.
#[rustfmt::skip]
fn is_person_noun(n: &str) -> bool {
    matches!(
        n,
        "morning" | "night" | "cat" | "dog" | "people" | "coffee" | "tea" | "beach" | "mountain"
            | "outdoors" | "outdoor" | "summer" | "winter" | "book" | "movie" | "music" | "sports"
            | "math" | "numbers" | "city" | "country" | "water" | "animal" | "party" | "gym"
            | "computer" | "tech" | "car" | "food" | "dessert" | "chocolate" | "pizza" | "sweets"
    )
}

#[rustfmt::skip]
pub(super) fn is_go_by_non_name(n: &str) -> bool {
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
pub(super) fn intro_tail(doc: &Doc<'_>, mut k: usize, end: usize, sink: &mut Sink<'_>) -> usize {
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
