//! Pets and family: "I have two dogs and a cat", "a daughter named Zoe", "my cat Miso", "my
//! wife is Marie". A possessive anchors a pet or relative to the user; a relative's own
//! doings ("my dad works for UPS") must never become facts about the user.

use super::super::gazetteer;
use super::super::lexicon as lx;
use super::super::text::Doc;
use super::super::values::{self as v, w, R};
use super::super::{FactKind, Predicate};
use super::sink::{Clause, Sink};

// ---------------------------------------------------------------- pets and family

pub(super) fn species_word(n: &str) -> bool {
    lx::is_species(n)
        || gazetteer::is_animal(n)
        || n.strip_suffix('s')
            .is_some_and(|s| lx::is_species(s) || gazetteer::is_animal(s))
        || matches!(
            n,
            "puppies" | "bunnies" | "kitties" | "ponies" | "mice" | "fishes" | "guppies"
        )
}

pub(super) fn is_plural_head(n: &str) -> bool {
    n.ends_with('s') && !lx::is_species(n) || matches!(n, "mice" | "children")
}

/// A head noun for a pet or a family member at `k`, with its end ("guinea pig" is two).
pub(super) fn kin_head(doc: &Doc<'_>, k: usize, end: usize) -> Option<(usize, bool)> {
    let n = w(doc, k, end);
    if n == "guinea" && matches!(w(doc, k + 1, end), "pig" | "pigs") {
        return Some((k + 2, true));
    }
    // "I have a lab" (class), "my mouse has problems" (computer): only "a black lab", "a
    // pet mouse" are animals.
    if matches!(n, "lab" | "labs" | "mouse" | "mice") {
        let prev = if k > 0 { doc.n(k - 1) } else { "" };
        if !matches!(
            prev,
            "black" | "yellow" | "chocolate" | "golden" | "white" | "brown" | "pet" | "baby"
        ) {
            return None;
        }
    }
    if species_word(n) {
        return Some((k + 1, true));
    }
    if lx::is_relation(n) || n.strip_suffix('s').is_some_and(lx::is_relation) {
        return Some((k + 1, false));
    }
    None
}

/// What a pet does right after "my dog": its own verb, not more of a noun phrase.
#[rustfmt::skip]
fn is_pet_verb(n: &str) -> bool {
    matches!(
        n,
        "has" | "had" | "loves" | "likes" | "hates" | "gets" | "got" | "does" | "did" | "can"
            | "will" | "would" | "always" | "still" | "just" | "sleeps" | "eats" | "barks"
            | "went" | "goes" | "needs" | "wants" | "knows" | "thinks" | "never" | "even"
            | "back" | "home" | "in" | "out" | "to" | "for" | "on" | "too" | "and" | "so"
    )
}

/// Whether "my <relative>" at `k..hb` says the user has that relative, not something the
/// relative did: "I live with my parents", "my sister and I are twins", "me and my dad".
fn kin_of_user(doc: &Doc<'_>, cl: &Clause, k: usize, hb: usize) -> bool {
    let end = cl.end;
    let before = |d: usize| {
        if k >= cl.a + d {
            w(doc, k - d, end)
        } else {
            ""
        }
    };
    let lives_with = before(1) == "with"
        && matches!(
            before(2),
            "live" | "living" | "lives" | "stay" | "staying" | "home"
        );
    let and_i = w(doc, hb, end) == "and" && matches!(w(doc, hb + 1, end), "i" | "me");
    let me_and = before(1) == "and" && matches!(before(2), "me" | "i") && k == cl.a + 2;
    // "My older sister and I once sat ...", "the schools my husband and I applied to": the
    // clause may end at "and" where "I" starts the next one, and "my X and I" need not lead.
    let and_i_next = hb <= end
        && hb + 1 < doc.toks.len()
        && doc.toks[hb].is_word()
        && doc.n(hb) == "and"
        && doc.toks[hb + 1].is_word()
        && doc.n(hb + 1) == "i";
    let and_i_later = (and_i || and_i_next) && before(1) != "'s" && !is_prep(before(1));
    lives_with || ((k == cl.a || k == cl.c) && and_i) || and_i_later || me_and
}

/// A preposition before "my X and I" ("for my sister and I") makes the pair an object.
fn is_prep(n: &str) -> bool {
    matches!(
        n,
        "for" | "to" | "with" | "about" | "of" | "from" | "like" | "than"
    )
}

#[rustfmt::skip]
pub(super) fn np_follow_ok(n: &str) -> bool {
    matches!(
        n,
        "named" | "called" | "and" | "or" | "but" | "who" | "that" | "which" | "whose" | "with"
            | "at" | "in" | "too" | "also" | "now" | "as" | "so" | "because" | "since" | "lol"
            | "haha" | "plus" | "i" | "both" | "back" | "here" | "there" | "from" | "for"
            | "whom" | "already" | "btw" | "though" | "is" | "are" | "was" | "were" | "when"
            | "they" | "he" | "she" | "it" | "we" | "they're" | "currently" | "tho" | "rn"
            | "atm" | "actually" | "honestly" | "last" | "yesterday" | "recently" | "today"
    )
}

/// "cats", "kids" with no article before them: a plural pet or child word, then the end of
/// the phrase. "friends" and "parents" are no such thing to have.
fn bare_plural(doc: &Doc<'_>, k: usize, end: usize) -> bool {
    let n = w(doc, k, end);
    let kin = matches!(
        n,
        "kids"
            | "children"
            | "siblings"
            | "sisters"
            | "brothers"
            | "sons"
            | "daughters"
            | "grandkids"
            | "grandchildren"
            | "twins"
    );
    let pets =
        n.len() > 3 && n.ends_with('s') && species_word(n) && kin_head(doc, k, end).is_some();
    (kin || pets) && (!v::is_word(doc, k + 1, end) || np_follow_ok(w(doc, k + 1, end)))
}

pub(super) fn determiner(doc: &Doc<'_>, k: usize, end: usize) -> Option<(u32, usize)> {
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
pub(super) fn subjective(n: &str) -> bool {
    matches!(
        n,
        "little" | "small" | "tiny" | "big" | "huge" | "cute" | "sweet" | "lovely" | "adorable"
            | "beautiful" | "wonderful" | "amazing" | "old" | "new" | "young" | "fluffy"
            | "lazy" | "rescue" | "pet" | "crazy" | "fat" | "gorgeous" | "wee"
    )
}

/// "I have a cat named Miso", "two dogs and a rabbit", "a daughter named Zoe and a son
/// named Eli", "a son"; with `bare_ok` (a subject said, not understood) also "cats".
pub(super) fn have_np(
    doc: &Doc<'_>,
    i: usize,
    end: usize,
    id: &'static str,
    conf: f32,
    bare_ok: bool,
    sink: &mut Sink<'_>,
) -> Option<usize> {
    let mut k = i;
    let mut last = None;
    // "a twin brother and younger sister": after "and", a relative without its own article.
    let mut bare: Option<bool> = None;
    loop {
        let (count, k2) = match bare {
            Some(_) => (1, k),
            None => match determiner(doc, k, end) {
                Some(d) => d,
                // "i have cats", "I have kids": a bare plural that ends the phrase.
                None if bare_ok && last.is_none() && bare_plural(doc, k, end) => (1, k),
                None => return None,
            },
        };
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
        // "a cousin and a childhood friend": the list ends, what came before stands.
        let Some((ha, hb, pet)) = head else {
            if last.is_some() {
                break;
            }
            return None;
        };
        // "an older sister to show me the ropes": a purpose after a relative leaves the
        // relative standing; "a dog to walk" may be someone else's dog.
        let purpose = !pet && w(doc, hb, end) == "to";
        // The bare item must be of the same kind as the one before it and end the clause or
        // the list, or say what the relative is for ("and son to feed").
        if bare.is_some_and(|p| p != pet)
            || (bare.is_some()
                && (k2..ha).any(|j| {
                    v::phrase_stop(doc.n(j))
                        || matches!(
                            doc.n(j),
                            "then"
                                | "my"
                                | "his"
                                | "her"
                                | "their"
                                | "our"
                                | "your"
                                | "the"
                                | "we"
                                | "you"
                                | "he"
                                | "she"
                                | "they"
                                | "it"
                                | "have"
                                | "has"
                                | "had"
                                | "am"
                                | "be"
                                | "not"
                                | "no"
                        )
                }))
        {
            break;
        }
        if bare.is_some()
            && hb < end
            && doc.toks[hb].is_word()
            && !matches!(doc.n(hb), "and" | "too" | "also" | "who" | "whos" | "that")
            && !purpose
        {
            break;
        }
        if hb < end && doc.toks[hb].is_word() && !np_follow_ok(doc.n(hb)) && !purpose {
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
            bare = None;
            continue;
        }
        // Only after "and", and only up to three words to a relative or pet.
        if j > m && doc.n(j - 1) == "and" && !named {
            k = j;
            bare = Some(pet);
            continue;
        }
        break;
    }
    last
}

pub(super) fn family_id(pet_id: &'static str) -> &'static str {
    match pet_id {
        "pet.no_longer_have" => "family.no_longer_have",
        "pet.have_got" => "family.have_got",
        _ => "family.have",
    }
}

/// "my cat Miso", "my wife is Marie", "my daughter's name is Lily", "my son, Leo,":
/// anywhere in an accepted clause, since the possessive already anchors it to the user.
pub(super) fn my_np(doc: &Doc<'_>, cl: &Clause, sink: &mut Sink<'_>) {
    let end = cl.end;
    let mut k = cl.a;
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
        let unnamed = names.is_empty() && !matches!(n0, "named" | "called");
        let np_ends = !v::is_word(doc, hb, end) || np_follow_ok(n0) || is_pet_verb(n0);
        if unnamed && np_ends && (pet || kin_of_user(doc, cl, k, hb)) {
            // "I love my cat", "I live with my parents": the animal or relation itself.
            let id = if pet {
                "pet.my_x_mention"
            } else {
                "family.my_x_mention"
            };
            let np = v::join(doc, R { a: np_a, b: hb });
            sink.push(pred, np, id, 0.7, vec![(attr, np_text.clone())]);
        }
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
