//! Free phrases and lists for likes, dislikes and allergens ("jazz and blues", "to swim"),
//! with the gerund of a verb. It must never keep a pronoun or a vague word as an item.

use super::super::gazetteer;
use super::super::lexicon::{self as lx, class::FILLER};
use super::super::text::{Doc, TokenKind};
use super::*;

// ---------------------------------------------------------------- free phrases and lists

pub(crate) fn phrase_stop(w: &str) -> bool {
    matches!(
        w,
        "because"
            | "since"
            | "but"
            | "though"
            | "although"
            | "when"
            | "whenever"
            | "while"
            | "especially"
            | "except"
            | "unless"
            | "if"
            | "so"
            | "which"
            | "who"
            | "whom"
            | "whose"
            | "where"
            | "lol"
            | "haha"
            | "tbh"
            | "honestly"
            | "btw"
            | "anymore"
            | "now"
            | "too"
            | "nowadays"
            | "lately"
            | "sometimes"
            | "always"
            | "often"
            | "usually"
            | "than"
            | "every"
            | "during"
            | "with"
            | "i"
            | "more"
            | "most"
            | "anyway"
            | "actually"
            | "really"
            | "instead"
            | "myself"
            | "again"
            | "either"
            | "much"
            | "is"
            | "are"
            | "was"
            | "were"
            | "better"
            | "that"
            | "like"
            | "specifically"
            | "particularly"
            | "mostly"
            | "mainly"
            | "generally"
            | "personally"
            | "basically"
            | "literally"
            | "seriously"
            | "definitely"
            | "probably"
            | "obviously"
            | "everyday"
            | "daily"
            | "constantly"
            | "regularly"
            | "regardless"
            | "anyways"
            | "over"
            | "besides"
            | "typically"
            | "also"
            | "alot"
            | "normally"
            | "occasionally"
            | "currently"
            | "recently"
            | "its"
            | "thats"
    )
}

pub(crate) fn phrase_stop_pair(a: &str, b: &str) -> bool {
    matches!(
        (a, b),
        ("to", "go" | "be" | "see" | "get" | "make" | "do" | "have")
            | ("even", "though" | "if" | "when" | "after" | "before" | "so")
            | ("of", "all")
            | ("all", "kinds" | "sorts" | "types")
            | ("a", "lot")
            | ("very", "much")
            | ("so", "much")
            | ("as", "well")
            | ("these", "days")
            | ("any", "more")
            | ("any", "longer")
            | ("at", "all")
            | ("right", "now")
            | ("at", "the")
            | ("in", "general")
            | ("for", "years")
            | ("a", "bit")
            | ("the", "most" | "best" | "least")
            | ("as", "long" | "much" | "soon" | "often" | "far")
            | ("such", "a" | "an")
            | ("from", "time")
            | ("by", "the")
            | ("other", "than")
            | ("for", "sure")
            | ("for", "fun")
            | ("once", "in")
            | ("as", "a" | "an" | "kids")
    )
}

#[rustfmt::skip]
pub(crate) fn item_reject_first(w: &str) -> bool {
    matches!(
        w,
        "it" | "this" | "that" | "these" | "those" | "them" | "him" | "her" | "you" | "u" | "me"
            | "us" | "everything" | "anything" | "nothing" | "something" | "everyone" | "anyone"
            | "someone" | "everybody" | "anybody" | "somebody" | "one" | "ones" | "how" | "what"
            | "why" | "whatever" | "my" | "your" | "his" | "our" | "their" | "its" | "here"
            | "there" | "way" | "idea" | "thing" | "things" | "stuff" | "fact" | "sound"
            | "look" | "feeling" | "plan" | "question" | "answer" | "suggestion" | "option"
            | "point" | "not" | "no" | "to" | "a" | "an" | "the" | "and" | "or" | "of" | "in"
            | "on" | "at" | "for" | "by" | "from" | "with" | "about" | "other" | "be" | "he"
            | "she" | "they" | "we" | "i" | "who"
            | "another" | "such" | "some" | "all" | "both" | "little" | "bit" | "lot" | "as"
            | "mine" | "yours" | "hers" | "ours" | "theirs" | "any" | "each" | "either"
            | "neither" | "kind" | "sort" | "type" | "yeah" | "yes" | "yep" | "ok" | "okay"
            | "too" | "also" | "avid" | "pretty" | "so" | "almost" | "nearly" | "able" | "bunch"
            | "many" | "others" | "ya" | "yall" | "y'all" | "ye" | "once" | "did" | "went"
            | "got" | "had" | "was" | "were"
    )
}

pub(crate) fn item_reject_any(w: &str) -> bool {
    matches!(
        w,
        "it" | "this"
            | "that"
            | "you"
            | "u"
            | "them"
            | "him"
            | "her"
            | "me"
            | "us"
            | "range"
            | "variety"
            | "both"
            | "those"
            | "these"
            | "mine"
            | "yours"
    ) || is_laugh(w)
}

/// "haha", "hahhahahaha", "lol", "lmao", "hehe", "xD": laughter, never a thing liked.
pub(crate) fn is_laugh(w: &str) -> bool {
    let b = w.as_bytes();
    if b.len() >= 4 && b[0] == b'h' && b.iter().all(|c| matches!(c, b'a' | b'h' | b'e')) {
        return true;
    }
    if b.len() >= 3 && b.starts_with(b"lo") && b.iter().all(|c| matches!(c, b'l' | b'o')) {
        return true;
    }
    matches!(
        w,
        "lmao" | "lmfao" | "rofl" | "xd" | "xp" | "jk" | "omg" | "hah" | "heh"
    )
}

/// Words that close a clause when they end a list item: "the relationship he and Iron Man
/// HAVE", "what I DO": the "list" was a clause whose subject the parser cut.
fn clause_verb(w: &str) -> bool {
    matches!(
        w,
        "have"
            | "has"
            | "had"
            | "do"
            | "does"
            | "did"
            | "am"
            | "can"
            | "will"
            | "would"
            | "could"
            | "should"
            | "get"
            | "got"
            | "make"
            | "makes"
            | "made"
            | "know"
            | "say"
            | "said"
            | "look"
            | "looks"
            | "seem"
            | "seems"
    )
}

/// "doing stuff", "make stuff out there", "having things": a light verb, a vague noun and
/// at most a place adverb.
fn vague_activity(doc: &Doc<'_>, r: R) -> bool {
    r.b - r.a >= 2
        && matches!(
            doc.n(r.a),
            "doing"
                | "having"
                | "getting"
                | "trying"
                | "making"
                | "do"
                | "have"
                | "get"
                | "try"
                | "make"
        )
        && matches!(
            doc.n(r.a + 1),
            "stuff" | "things" | "something" | "anything" | "everything" | "nothing"
        )
        && (r.a + 2..r.b).all(|k| {
            matches!(
                doc.n(k),
                "out" | "there" | "here" | "around" | "outside" | "together" | "too"
            )
        })
}

/// Base verbs that start a clause, not a thing: "and take classes", "and go home".
#[rustfmt::skip]
fn base_verb(w: &str) -> bool {
    matches!(
        w,
        "take" | "do" | "have" | "go" | "make" | "get" | "want" | "need" | "am" | "is" | "try"
            | "feel" | "think" | "wish" | "hope" | "use" | "thought" | "went" | "got" | "had"
            | "decided" | "started" | "wanted"
    )
}

/// Heads that say nothing alone: "I love the place", "the smell (of like the laundry)".
#[rustfmt::skip]
fn vague_head(w: &str) -> bool {
    matches!(
        w,
        "place" | "episode" | "phrase" | "combination" | "energy" | "smell" | "taste" | "feel"
            | "part" | "concept" | "moment" | "rest" | "end" | "beginning" | "time" | "times"
            | "scene" | "kind" | "type" | "sort" | "style" | "vibe" | "vibes" | "atmosphere"
            | "texture" | "challenge" | "genre" | "back" | "etc" | "effects" | "aspect"
            | "places" | "job"
    )
}

/// Nouns that, after a definite "the" and alone, point back at something the conversation
/// already named ("I like the song", "I love the movies", "I just like the topic", "my
/// favorite thing is the food"): which song or topic is in the turn before, not here. Things
/// that "the" names generically ("the beach", "the rain", "the outdoors", "the Beatles")
/// are not on the list and stay.
#[rustfmt::skip]
fn anaphoric_head(w: &str) -> bool {
    matches!(
        w,
        "song" | "songs" | "movie" | "movies" | "film" | "films" | "book" | "books" | "show"
            | "shows" | "series" | "story" | "stories" | "topic" | "topics" | "subject"
            | "subjects" | "conversation" | "convo" | "chat" | "question" | "questions" | "name"
            | "names" | "username" | "food" | "ending" | "plot" | "character" | "characters"
            | "lyrics" | "album" | "video" | "videos" | "picture" | "pictures" | "photo"
            | "photos" | "article" | "post" | "game" | "games" | "class" | "course" | "teacher"
            | "teachers" | "professor" | "professors" | "software" | "app" | "website" | "site"
            | "trailer" | "soundtrack" | "cast" | "author" | "idea" | "thought" | "version"
            | "one" | "ones" | "first" | "second" | "last" | "other" | "same" | "latter"
            | "former" | "program" | "project" | "event" | "activity" | "tradition"
            | "traditions" | "answer" | "prompt" | "prompts" | "sequel" | "original"
    )
}

/// Modals and their casual spellings: an item holding one is a clause ("cook and wouldve
/// gone ...").
fn modal(w: &str) -> bool {
    matches!(
        w,
        "would"
            | "wouldve"
            | "could"
            | "couldve"
            | "should"
            | "shouldve"
            | "will"
            | "might"
            | "must"
            | "cant"
            | "wont"
            | "didnt"
            | "dont"
            | "doesnt"
    )
}

/// "a bunch of hikes", "all kinds of books", "lots of music": the quantity is no part of
/// what is liked. Returns where the thing itself starts.
fn quantity_prefix(doc: &Doc<'_>, i: usize, end: usize) -> usize {
    let mut k = i;
    if matches!(w(doc, k, end), "a" | "all" | "many" | "different") {
        k += 1;
    }
    let n = w(doc, k, end);
    let of = w(doc, k + 1, end) == "of";
    if of
        && matches!(
            n,
            "bunch"
                | "lot"
                | "lots"
                | "kinds"
                | "sorts"
                | "types"
                | "couple"
                | "variety"
                | "ton"
                | "tons"
        )
    {
        let j = k + 2;
        // "a lot of it", "all kinds of stuff": nothing named.
        return if item_reject_first(w(doc, j, end)) {
            end
        } else {
            j
        };
    }
    i
}

/// Subject pronouns: inside a list item they start a clause ("the way he plays").
fn subject_pronoun(w: &str) -> bool {
    matches!(w, "he" | "she" | "they" | "we" | "i" | "you" | "u" | "it")
}

/// Verbs too light to name an activity alone ("I love to work with ...", "playing with my
/// dog"): with the phrase cut before "with", what remains is no activity.
fn light_verb(w: &str) -> bool {
    matches!(
        w,
        "work"
            | "working"
            | "play"
            | "playing"
            | "hang"
            | "hanging"
            | "spend"
            | "spending"
            | "deal"
            | "dealing"
            | "mess"
            | "messing"
            | "help"
            | "helping"
            | "talk"
            | "talking"
            | "be"
            | "being"
            | "get"
            | "getting"
            | "do"
            | "doing"
            | "go"
            | "going"
            | "come"
            | "coming"
            | "put"
            | "putting"
    )
}

/// Splits `[a, b)` into list items at commas, "and", "or", "&", "plus" — but not inside
/// fixed pairs like "mac and cheese".
pub(crate) fn split_items(doc: &Doc<'_>, a: usize, b: usize, out: &mut Vec<R>) {
    let mut s = a;
    let mut k = a;
    while k < b {
        let t = &doc.toks[k];
        let n = doc.n(k);
        // A hyphen standing alone ("classics - Les Miserables") separates; "k-pop" is one word.
        let sep = t.is_punct(',')
            || (t.is_punct('-') && k > s)
            || t.is_punct('&')
            || t.is_punct('/')
            || (t.is_word() && matches!(n, "and" | "or" | "plus" | "nor"))
            || (t.is_word() && n == "as" && w(doc, k + 1, b) == "well" && w(doc, k + 2, b) == "as");
        if sep {
            let pair_ok = k > a && k + 1 < b && lx::is_and_compound(doc.n(k - 1), doc.n(k + 1));
            if !(t.is_word() && n == "and" && pair_ok) {
                if k > s {
                    out.push(R { a: s, b: k });
                }
                k += if n == "as" { 3 } else { 1 };
                s = k;
                continue;
            }
        }
        k += 1;
    }
    if b > s {
        out.push(R { a: s, b });
    }
}

/// Where a free phrase ends: at a stop word or punctuation other than list separators.
pub(crate) fn phrase_end(doc: &Doc<'_>, i: usize, end: usize) -> usize {
    let mut k = i;
    // After "working with": the one thing it is done with, up to a list separator.
    let mut with_np = false;
    while k < end {
        let t = &doc.toks[k];
        if with_np && (t.is_punct(',') || (t.is_word() && matches!(doc.n(k), "and" | "or"))) {
            // "talking with the elderly and hearing their stories": another activity follows.
            let mut j = k + 1;
            while j < end && (doc.toks[j].is_punct(',') || matches!(doc.n(j), "and" | "or")) {
                j += 1;
            }
            if !(j < end
                && doc.toks[j].is_word()
                && doc.n(j).len() > 4
                && doc.n(j).ends_with("ing"))
            {
                break;
            }
            with_np = false;
        }
        match t.kind {
            TokenKind::Word => {
                let n = doc.n(k);
                // "working with computers": what a light verb is done with is the activity.
                let with_ok = n == "with"
                    && k > i
                    && (light_verb(doc.n(k - 1))
                        || (k > i + 1
                            && matches!(doc.n(k - 1), "up" | "out")
                            && matches!(
                                doc.n(k - 2),
                                "come"
                                    | "coming"
                                    | "hang"
                                    | "hanging"
                                    | "keep"
                                    | "keeping"
                                    | "catch"
                                    | "catching"
                                    | "meet"
                                    | "meeting"
                            )));
                // "play guitar a little bit": how much, not what.
                let little = n == "a"
                    && w(doc, k + 1, end) == "little"
                    && matches!(w(doc, k + 2, end), "bit" | "");
                // "naps between 5 and 7 pm": a time, not a list; "Between Shades of Gray" stays.
                let between_time = n == "between" && k + 1 < end && {
                    let next = doc.n(k + 1);
                    super::is_number(next) || lx::number_word(next).is_some()
                };
                // "playing sports just for fun"; "to just spend time" keeps its verb.
                let just = n == "just" && k > i && doc.n(k - 1) != "to";
                // "bbq sauce for the same reason": why, not what.
                let reason = n == "for"
                    && w(doc, k + 1, end) == "the"
                    && matches!(w(doc, k + 2, end), "same" | "most" | "first" | "last");
                // "talking to myself", "bragging about myself": the object of a preposition.
                let reflexive = n == "myself"
                    && k > i
                    && matches!(doc.n(k - 1), "to" | "about" | "with" | "for" | "on" | "at");
                if between_time || little || just || reason || is_laugh(n) {
                    break;
                }
                // "to do art", "to do magic": the thing done names the activity.
                let do_thing = n == "to"
                    && w(doc, k + 1, end) == "do"
                    && k + 2 < end
                    && doc.toks[k + 2].is_word()
                    && (!item_reject_first(doc.n(k + 2)) || doc.n(k + 2) == "the")
                    && !phrase_stop(doc.n(k + 2))
                    && !matches!(doc.n(k + 2), "stuff" | "things" | "so" | "well" | "better");
                if !with_ok
                    && !reflexive
                    && !do_thing
                    && (phrase_stop(n)
                        || (k + 1 < doc.toks.len() && phrase_stop_pair(n, doc.n(k + 1))))
                {
                    break;
                }
                with_np |= with_ok;
            }
            TokenKind::Punct(',' | '&' | '/' | '-' | '\'' | '’') => {}
            _ => break,
        }
        k += 1;
    }
    // No dangling separators or conjunctions at the end.
    while k > i {
        let t = &doc.toks[k - 1];
        let n = doc.n(k - 1);
        if t.is_word() && !matches!(n, "and" | "or" | "plus" | "as") {
            break;
        }
        k -= 1;
    }
    k
}

/// A list of short noun phrases ("jazz and blues", "cats, dogs and horses"). Items that are
/// pronouns or vague ("that idea") are dropped.
pub(crate) fn phrases(doc: &Doc<'_>, i: usize, end: usize, out: &mut Vec<R>) {
    out.clear();
    let mut i = quantity_prefix(doc, skip_open(doc, i, end), end);
    // "I love love love to swim": the verb said again; "Ew macro (is my least favorite)":
    // an interjection before the thing.
    // "a sucker for love stories": a verb only repeats a liking verb said just before it
    // ("I love love love", "I like love Bobby Flay").
    loop {
        let n = w(doc, i, end);
        let repeat = matches!(n, "love" | "like" | "enjoy")
            && i > 0
            && matches!(doc.n(i - 1), "love" | "like" | "enjoy" | "adore");
        let interjection = matches!(n, "ew" | "eww" | "ugh" | "um" | "umm" | "uh" | "hmm" | "oh");
        if !(repeat || interjection) || i + 1 >= end {
            break;
        }
        i += 1;
    }
    let e = phrase_end(doc, i, end);
    if e <= i || e - i > 14 {
        return;
    }
    split_items(doc, i, e, out);
    if matches!(w(doc, e, end), "is" | "are" | "was" | "were") {
        out.pop();
    }
    // "the relationship he and Iron Man have": a clause cut into pieces, not a list. A later
    // item that reads as a clause ("horror and this movie has ...") ends the list there.
    // "the depth, the color and the beauty of it": "of it" holds for the whole list.
    let of_it = out
        .iter()
        .any(|r| (r.a + 2..r.b).any(|k| subject_pronoun(doc.n(k)) && doc.n(k - 1) == "of"));
    if of_it {
        out.clear();
        return;
    }
    let infinitive = out.first().is_some_and(|r| doc.n(r.a) == "to");
    if let Some(bad) = out.iter().enumerate().position(|(n, r)| {
        (r.a + 1..r.b).any(|k| subject_pronoun(doc.n(k)))
            || clause_verb(doc.n(r.b - 1))
            || (r.a..r.b).any(|k| modal(doc.n(k)))
            // "a fan of boxing and take classes": a second verb, not a second thing.
            || (n > 0 && !infinitive && base_verb(doc.n(r.a)))
    }) {
        out.truncate(bad);
    }
    let stop = w(doc, e, end);
    // The word that stopped the phrase only says something about an item that reaches it.
    if let Some(last) = out.last().copied().filter(|r| r.b == e) {
        let len = last.b - last.a;
        let verb = if doc.n(last.a) == "to" && len == 2 {
            Some(doc.n(last.a + 1))
        } else if len == 1 {
            Some(doc.n(last.a))
        } else {
            None
        };
        // "people who sue for dumb things": the relative clause says which; "people" alone
        // is not what is meant. "to work with materials": the activity was cut.
        // "listening to (that one)": the object of the preposition was cut.
        let prep_cut = matches!(
            stop,
            "that" | "this" | "it" | "them" | "him" | "her" | "those" | "these"
        ) && matches!(
            doc.n(last.b - 1),
            "to" | "with" | "about" | "of" | "for" | "on" | "in" | "at"
        );
        // "isolating (myself)", "watching (them play)": the verb's object was cut.
        let object_cut = len == 1
            && doc.n(last.a).ends_with("ing")
            && matches!(
                stop,
                "myself" | "yourself" | "it" | "them" | "him" | "her" | "those" | "these"
            );
        // "people that do that": which people is the point.
        let who_that = stop == "that"
            && len == 1
            && matches!(
                doc.n(last.a),
                "people" | "person" | "guys" | "girls" | "men" | "women" | "kids"
            );
        // "I love professors like that": such people, pointing back at someone described
        // before; "I love movies like that" names a kind of movie and stays.
        let like_that = stop == "like"
            && len == 1
            && matches!(
                doc.n(last.a),
                "people"
                    | "person"
                    | "guys"
                    | "girls"
                    | "men"
                    | "women"
                    | "kids"
                    | "friends"
                    | "professors"
                    | "professor"
                    | "teachers"
                    | "teacher"
                    | "students"
                    | "parents"
                    | "folks"
                    | "coworkers"
                    | "bosses"
                    | "roommates"
            )
            && matches!(
                w(doc, e + 1, end),
                "that" | "this" | "those" | "these" | "it" | "him" | "her" | "them"
            );
        let cut = prep_cut
            || object_cut
            || like_that
            || who_that
            || (stop == "who" && e > i && doc.toks[e - 1].is_word())
            || (stop == "with" && verb.is_some_and(light_verb))
            // "making the world a (better place)": the phrase was cut after a determiner.
            || matches!(
                doc.n(last.b - 1),
                "a" | "an" | "the" | "my" | "your" | "his" | "her" | "our" | "their" | "some"
                    | "how" | "what" | "why" | "where" | "when" | "which"
            );
        if cut {
            out.pop();
        }
    }
    // "how they build on and tie into ...": a clause, not a list of things.
    if matches!(
        w(doc, i, end),
        "how"
            | "what"
            | "why"
            | "when"
            | "where"
            | "who"
            | "it"
            | "that"
            | "this"
            | "they"
            | "he"
            | "she"
            | "you"
            | "u"
            | "we"
    ) {
        out.clear();
        return;
    }
    // "those books, the give a nice challenge": when the first item names nothing, what
    // follows it is no list of things either.
    if let Some(first) = out.first() {
        let mut a = first.a;
        while a + 1 < first.b && matches!(doc.n(a), "a" | "an" | "the" | "both" | "some" | "all") {
            a += 1;
        }
        let pointing = matches!(
            doc.n(a),
            "those" | "these" | "this" | "that" | "them" | "it" | "mine" | "yours"
        );
        if out.len() > 1 && pointing {
            out.clear();
            return;
        }
    }
    // A list of several activities is no manner of speaking ("I like to run, dance, sing").
    let several = out.len() > 1;
    // "I like both traditions": "both" was read as an adverb before the phrase.
    let both_before = i > 0 && doc.n(i - 1) == "both";
    // "the shows that are based on time eras": a relative clause says which ones.
    let restricted_end = matches!(stop, "that" | "which" | "who" | "whom" | "where").then_some(e);
    out.retain_mut(|r| {
        let restricted = restricted_end == Some(r.b);
        // Drop leading articles and determiners that carry no meaning here.
        let mut definite = false;
        let mut both = both_before;
        while r.a < r.b && matches!(doc.n(r.a), "a" | "an" | "the" | "both" | "some" | "all") {
            if doc.n(r.a) == "all" && r.b - r.a == 1 {
                break;
            }
            definite |= doc.n(r.a) == "the";
            both |= doc.n(r.a) == "both";
            r.a += 1;
        }
        // "I like both traditions": the two were named before; "both cats and dogs" is a
        // list and keeps its items.
        if both && !several {
            return false;
        }
        while r.b > r.a && !doc.toks[r.b - 1].is_word() {
            r.b -= 1;
        }
        // "camping in": a dangling preposition.
        while r.b > r.a + 1
            && matches!(
                doc.n(r.b - 1),
                "in" | "on" | "at" | "with" | "for" | "of" | "to"
            )
        {
            r.b -= 1;
        }
        if r.a >= r.b || r.b - r.a > 6 {
            return false;
        }
        let first = doc.n(r.a);
        if first == "to" {
            // "I love to swim": the gerund is turned into an object by the caller; "to stay"
            // alone says nothing.
            let bare = r.b - r.a == 2
                && matches!(
                    doc.n(r.a + 1),
                    "stay"
                        | "go"
                        | "be"
                        | "do"
                        | "get"
                        | "have"
                        | "see"
                        | "say"
                        | "know"
                        | "think"
                        | "make"
                        | "take"
                        | "come"
                        | "try"
                        | "use"
                        | "keep"
                        | "play"
                        | "work"
                );
            // "I hate to end suddenly", "I hate to say it": manners, not a dislike.
            let manners = matches!(
                doc.n(r.a + 1),
                "end"
                    | "leave"
                    | "say"
                    | "interrupt"
                    | "bother"
                    | "break"
                    | "admit"
                    | "ask"
                    | "cut"
                    | "run"
                    | "tell"
                    | "disappoint"
                    | "go"
                    | "bring"
                    | "hear"
                    | "see"
                    | "be"
                    | "choose"
                    | "think"
                    | "believe"
                    | "pretend"
                    | "imagine"
                    | "add"
                    | "put"
                    | "stir"
                    | "let"
                    | "wait"
            );
            let bare =
                bare || (manners && !several) || vague_activity(doc, R { a: r.a + 1, b: r.b });
            return r.b - r.a >= 2
                && !bare
                && !item_reject_first(doc.n(r.a + 1))
                && !(r.a..r.b).any(|k| item_reject_any(doc.n(k)));
        }
        // "the song", "the movies", "the subject matter": a thing named in an earlier turn.
        let bare_noun = r.b - r.a == 1
            || (r.b - r.a == 2 && doc.n(r.a) == "subject" && doc.n(r.a + 1) == "matter");
        if definite
            && bare_noun
            && !restricted
            && !doc.toks[r.a].has_upper
            && anaphoric_head(doc.n(r.a))
        {
            return false;
        }
        // "the Andrew Garfield one", "the blue ones": "one" stands for a noun said before.
        if r.b - r.a > 1 && matches!(doc.n(r.b - 1), "one" | "ones") {
            return false;
        }
        // "12 on the freeway": a number first is an amount; "50's rock" is a thing.
        let amount = super::is_number(first) && w(doc, r.a + 1, r.b) != "'s";
        // "pretty little liars", "pretty dresses": "pretty" as an adjective names the thing;
        // "pretty good food" is a degree word before another adjective.
        let pretty_names = first == "pretty"
            && r.b - r.a > 1
            && !doc.n(r.a + 1).ends_with("ly")
            && !matches!(
                doc.n(r.a + 1),
                "good"
                    | "well"
                    | "bad"
                    | "much"
                    | "cool"
                    | "sure"
                    | "hard"
                    | "easy"
                    | "often"
                    | "nice"
                    | "great"
                    | "fun"
                    | "big"
                    | "into"
                    | "far"
                    | "close"
                    | "decent"
            );
        if (item_reject_first(first) && !pretty_names) || amount {
            return false;
        }
        // "the place", "the smell (of like ...)": a head that needs its complement; "I like t"
        // (a message cut off): a lowercase letter alone.
        if r.b - r.a == 1 && (vague_head(first) || (first.len() == 1 && !doc.toks[r.a].has_upper)) {
            return false;
        }
        // "being" alone, "doing" alone: no activity named.
        if r.b - r.a == 1
            && matches!(
                first,
                "being"
                    | "having"
                    | "doing"
                    | "getting"
                    | "playing"
                    | "going"
                    | "making"
                    | "trying"
                    | "seeing"
                    | "using"
                    | "taking"
                    | "putting"
                    | "working"
                    | "spending"
                    | "hanging"
                    | "looking"
                    | "finding"
                    | "keeping"
                    | "coming"
                    | "saying"
                    | "thinking"
                    | "knowing"
                    | "telling"
                    | "giving"
                    | "letting"
                    | "starting"
                    | "choosing"
                    | "listening"
                    | "hearing"
                    | "visiting"
            )
        {
            return false;
        }
        // "doing stuff out there", "make stuff": a light verb and a vague noun.
        if vague_activity(doc, *r) {
            return false;
        }
        !(r.a..r.b).any(|k| item_reject_any(doc.n(k)))
    });
}

/// Object text of a list item, turning "to swim" into "swimming".
pub(crate) fn item_text(doc: &Doc<'_>, r: R) -> String {
    if doc.n(r.a) == "to" && r.b - r.a >= 2 {
        // "to just spend time": the adverb is no part of the activity.
        let a = if r.b - r.a > 2 && doc.toks[r.a + 1].class & FILLER != 0 && doc.n(r.a + 1) != "do"
        {
            r.a + 2
        } else {
            r.a + 1
        };
        // "to Latin dance": a word before the verb, "Latin dancing".
        if r.b - a == 2 && !lx::is_activity_verb(doc.n(a)) && lx::is_activity_verb(doc.n(a + 1)) {
            return gerund_phrase(doc, R { a, b: r.b });
        }
        let r = R { a: a - 1, b: r.b };
        let verb = doc.s(r.a + 1);
        let mut s = gerund(verb);
        if r.b - r.a > 2 {
            s.push(' ');
            s.push_str(&join(doc, R { a: r.a + 2, b: r.b }));
        }
        return s;
    }
    join(doc, r)
}

/// A list item whose first word is a bare verb ("hike", "spend time"), as an activity:
/// "hiking", "spending time".
pub(crate) fn gerund_phrase(doc: &Doc<'_>, r: R) -> String {
    // "thrift shop": a noun and the verb, "thrift shopping".
    if r.b - r.a == 2 && !lx::is_activity_verb(doc.n(r.a)) {
        let mut s = join(doc, R { a: r.a, b: r.a + 1 });
        s.push(' ');
        s.push_str(&gerund(doc.s(r.a + 1)));
        return s;
    }
    let mut s = gerund(doc.s(r.a));
    if r.b - r.a > 1 {
        s.push(' ');
        s.push_str(&join(doc, R { a: r.a + 1, b: r.b }));
    }
    s
}

pub(crate) fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// English -ing form of a base verb, good enough for hobbies ("swim" → "swimming").
pub(crate) fn gerund(verb: &str) -> String {
    let lower = verb.to_ascii_lowercase();
    let b = lower.as_bytes();
    let n = b.len();
    let mut s = String::with_capacity(verb.len() + 4);
    if !verb.is_ascii() || n < 2 {
        s.push_str(verb);
        s.push_str("ing");
        return s;
    }
    if lower == "be" || lower == "see" || lower.ends_with("ee") || lower.ends_with("ye") {
        s.push_str(verb);
    } else if lower.ends_with("ie") {
        s.push_str(&verb[..n - 2]);
        s.push('y');
    } else if lower.ends_with('e') && !lower.ends_with("oe") {
        s.push_str(&verb[..n - 1]);
    } else {
        s.push_str(verb);
        let vowels = b.iter().filter(|&&c| is_vowel(c)).count();
        let last = b[n - 1];
        if n <= 4
            && vowels == 1
            && n >= 3
            && !is_vowel(last)
            && is_vowel(b[n - 2])
            && !is_vowel(b[n - 3])
            && !matches!(last, b'w' | b'x' | b'y')
        {
            s.push(last as char);
        }
    }
    s.push_str("ing");
    s
}

// ---------------------------------------------------------------- languages

/// Languages in a list ("English, French and a little German"), qualifiers stripped.
pub(crate) fn languages(doc: &Doc<'_>, i: usize, end: usize, out: &mut Vec<R>) {
    out.clear();
    let i = skip_open(doc, i, end);
    // "I know, same here": the comma ends what "know" was about.
    if !super::is_word(doc, i, end) {
        return;
    }
    let mut e = i;
    while e < end {
        let t = &doc.toks[e];
        if t.is_word() {
            if matches!(
                doc.n(e),
                "fluently"
                    | "natively"
                    | "well"
                    | "fine"
                    | "at"
                    | "with"
                    | "since"
                    | "but"
                    | "because"
                    | "as"
                    | "now"
                    | "too"
                    | "pretty"
                    | "very"
                    | "when"
                    | "i"
                    | "though"
                    | "lol"
                    | "haha"
            ) {
                break;
            }
            // Only languages, their qualifiers and varieties, and list words belong to the list.
            let n = doc.n(e);
            let part = lx::is_language(n)
                || gazetteer::is_language(n)
                || lx::is_language_qualifier(n)
                || lx::is_demonym_or_creed(n)
                || matches!(
                    n,
                    "and"
                        | "or"
                        | "sign"
                        | "language"
                        | "languages"
                        | "standard"
                        | "modern"
                        | "classical"
                        | "ancient"
                        | "simplified"
                        | "traditional"
                        | "castilian"
                        | "levantine"
                        | "egyptian"
                        | "swiss"
                        | "old"
                        | "british"
                        | "american"
                );
            if !part {
                break;
            }
        } else if !t.is_punct(',') && !t.is_punct('&') && !t.is_punct('/') {
            break;
        }
        e += 1;
    }
    if e <= i || e - i > 16 {
        return;
    }
    split_items(doc, i, e, out);
    // "korean english cambodian": languages one after another, without commas.
    let mut k = 0;
    while k < out.len() {
        let r = out[k];
        let lang = |j: usize| {
            let n = doc.n(j);
            lx::is_language(n) || (gazetteer::is_language(n) && !lx::is_demonym_or_creed(n))
        };
        if r.b - r.a >= 2 && (r.a..r.b).all(lang) {
            out.splice(k..=k, (r.a..r.b).map(|j| R { a: j, b: j + 1 }));
            k += r.b - r.a;
        } else {
            k += 1;
        }
    }
    out.retain_mut(|r| {
        while r.a < r.b && (!doc.toks[r.a].is_word() || lx::is_language_qualifier(doc.n(r.a))) {
            r.a += 1;
        }
        while r.b > r.a && !doc.toks[r.b - 1].is_word() {
            r.b -= 1;
        }
        if r.a >= r.b || r.b - r.a > 3 {
            return false;
        }
        let head = doc.n(r.b - 1);
        let sign = head == "language" && r.b - r.a >= 2 && doc.n(r.b - 2) == "sign";
        if !lx::is_language(head) && !gazetteer::is_language(head) && !sign {
            return false;
        }
        // Words before the head must read as varieties ("Brazilian Portuguese").
        let last_mod = if sign { r.b - 2 } else { r.b - 1 };
        (r.a..last_mod).all(|k| {
            let n = doc.n(k);
            lx::is_demonym_or_creed(n)
                || matches!(
                    n,
                    "american"
                        | "standard"
                        | "modern"
                        | "classical"
                        | "ancient"
                        | "simplified"
                        | "traditional"
                        | "castilian"
                        | "levantine"
                        | "egyptian"
                        | "swiss"
                        | "old"
                        | "british"
                )
        })
    });
}
