//! Unit tests for the extractor: one or more per predicate, per cue, per filter, plus
//! property tests that `extract` never panics and only returns valid spans. These tests
//! must never depend on anything but the input text.

use super::text::{CaseMode, Doc};
use super::*;
use proptest::prelude::*;

fn triples(text: &str) -> Vec<(Predicate, String, FactKind)> {
    extract(text)
        .into_iter()
        .map(|f| (f.predicate, f.object, f.kind))
        .collect()
}

fn has(text: &str, p: Predicate, object: &str, kind: FactKind) -> bool {
    triples(text)
        .iter()
        .any(|(q, o, k)| *q == p && o == object && *k == kind)
}

#[track_caller]
fn assert_fact(text: &str, p: Predicate, object: &str, kind: FactKind) {
    assert!(
        has(text, p, object, kind),
        "{text:?}: expected {p:?} {object:?} {kind:?}, got {:?}",
        triples(text)
    );
}

#[track_caller]
fn assert_none(text: &str) {
    let got = triples(text);
    assert!(got.is_empty(), "{text:?}: expected no facts, got {got:?}");
}

use FactKind::{Assert, Change, Correction, Retraction};
use Predicate::*;

// ---------------------------------------------------------------- the public types

#[test]
fn predicate_names_round_trip_and_match_serde() {
    for p in Predicate::ALL {
        assert_eq!(Predicate::parse(p.as_str()), Some(p));
        let json = serde_json::to_string(&p).expect("serialise");
        assert_eq!(json, format!("\"{}\"", p.as_str()));
        let back: Predicate = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, p);
    }
    assert_eq!(Predicate::parse("Name"), None);
    assert_eq!(Predicate::parse(""), None);
    assert_eq!(Predicate::JobTitle.as_str(), "job_title");
    assert_eq!(Predicate::PreferredName.as_str(), "preferred_name");
}

#[test]
fn cardinalities() {
    use Cardinality::{Many, One};
    for p in [
        Name,
        PreferredName,
        Age,
        Birthday,
        Location,
        Hometown,
        Employer,
        JobTitle,
        Email,
        Timezone,
    ] {
        assert_eq!(p.cardinality(), One, "{p:?}");
    }
    for p in [Likes, Dislikes, Pet, Family, Language, Diet, Allergy] {
        assert_eq!(p.cardinality(), Many, "{p:?}");
    }
}

#[test]
fn fact_kind_serialises_snake_case() {
    for k in [Assert, Correction, Change, Retraction] {
        let json = serde_json::to_string(&k).expect("serialise");
        assert_eq!(json, format!("\"{}\"", k.as_str()));
    }
}

#[test]
fn extractor_identity() {
    assert_eq!(EXTRACTOR_NAME, "rules");
    // Version 2: the casual-chat rules (lower case, contractions, gazetteers).
    // Version 3: casual-chat precision (no bare determiners, cut clauses or vague heads).
    // Version 4: casual-chat recall (family pairs, modal favourites, more like verbs).
    // Version 5: anaphoric objects dropped; clefts, fan lists, bare relatives after "and".
    // Version 6: intensifiers, hedged likings, pastimes (play, go, collect, hobbies, "a lot"),
    // time frames before "I", place adjectives, parents "of two", bare plurals.
    // Version 7: list items that start a new clause ("once I ...", "did cross country") and
    // manner words before a job ("a slow writer") are dropped.
    assert_eq!(EXTRACTOR_VERSION, 7);
}

// ---------------------------------------------------------------- predicates

#[test]
fn name_patterns() {
    assert_fact("My name is Ana.", Name, "Ana", Assert);
    assert_fact(
        "My name is PronterTestUser.",
        Name,
        "PronterTestUser",
        Assert,
    );
    assert_fact("I'm Ana Silva.", Name, "Ana Silva", Assert);
    assert_fact("I am Marcus", Name, "Marcus", Assert);
    assert_fact("Call me Ishmael.", Name, "Ishmael", Assert);
    assert_fact("This is Grace from support.", Name, "Grace", Assert);
    assert_fact("Name's Dmitri.", Name, "Dmitri", Assert);
    assert_fact("my name is kevin", Name, "kevin", Assert);
    assert_fact("I'm called Kai.", Name, "Kai", Assert);
    assert_fact("Hi, I'm Dr. Patel.", Name, "Dr. Patel", Assert);
    assert_fact("My name is Maria da Silva.", Name, "Maria da Silva", Assert);
}

#[test]
fn i_am_only_takes_name_like_words() {
    for text in [
        "I'm tired.",
        "I'm happy to help.",
        "I'm a teacher.",
        "I'm from Lisbon.",
        "I'm 34.",
        "I'm French.",
        "I'm Sorry about that.",
        "I'm OK",
        "i'm sure",
        "im bored lol",
        "i am will be there",
        "i am happy",
        "I'm Ana's mother.",
    ] {
        assert!(
            !triples(text).iter().any(|(p, _, _)| *p == Name),
            "{text:?} gave a name: {:?}",
            triples(text)
        );
    }
}

#[test]
fn this_is_only_at_message_start() {
    assert_fact("This is Jonas.", Name, "Jonas", Assert);
    assert!(!triples("I love jazz. This is Jonas.")
        .iter()
        .any(|(p, _, _)| *p == Name));
}

#[test]
fn preferred_name_patterns() {
    assert_fact("Please call me Sam.", PreferredName, "Sam", Assert);
    assert_fact("I go by Jay.", PreferredName, "Jay", Assert);
    assert_fact("You can call me Liz.", PreferredName, "Liz", Assert);
    assert_fact("Everyone calls me Bubba.", PreferredName, "Bubba", Assert);
    assert_fact("My nickname is Bea.", PreferredName, "Bea", Assert);
    assert_fact(
        "My name is Katherine, but I prefer Kate.",
        PreferredName,
        "Kate",
        Assert,
    );
    // "I prefer X" alone is far more often a taste than a name.
    assert_none("I prefer Python.");
    assert_none("I go by bus.");
    assert_none("I go by they/them.");
}

#[test]
fn age_patterns() {
    assert_fact("I'm 34.", Age, "34", Assert);
    assert_fact("I am 27 years old.", Age, "27", Assert);
    assert_fact("I'm 45 years old and I live in Denver.", Age, "45", Assert);
    assert_fact("im 25", Age, "25", Assert);
    assert_fact("I'm twenty-one.", Age, "21", Assert);
    assert_fact("My age is 52.", Age, "52", Assert);
    assert_fact("I just turned 30!", Age, "30", Change);
    assert_fact("I'm a 35 year old teacher.", Age, "35", Assert);
    for text in [
        "I'm 5 minutes away.",
        "I'm 100% sure.",
        "I'm 6 feet tall.",
        "I'm 8 months pregnant.",
        "I'm 0.",
        "I'm 200.",
    ] {
        assert!(
            !triples(text).iter().any(|(p, _, _)| *p == Age),
            "{text:?}: {:?}",
            triples(text)
        );
    }
}

#[test]
fn birthday_patterns() {
    assert_fact("My birthday is March 13.", Birthday, "March 13", Assert);
    assert_fact(
        "I was born on 4 July 1990.",
        Birthday,
        "4 July 1990",
        Assert,
    );
    assert_fact(
        "My birthday is on the 2nd of October.",
        Birthday,
        "2nd of October",
        Assert,
    );
    assert_fact(
        "I was born on December 25th, 1985.",
        Birthday,
        "December 25th, 1985",
        Assert,
    );
    assert_fact("My bday is 03/13.", Birthday, "03/13", Assert);
    assert_fact("I was born on 1992-07-04.", Birthday, "1992-07-04", Assert);
    assert_none("My birthday is tomorrow!");
    assert_none("My birthday is on the 45th of Smarch.");
    // "born in" a month or a year is neither a birthday nor a hometown.
    assert_none("I was born in March.");
    assert_none("I was born in 1990.");
}

#[test]
fn location_patterns() {
    assert_fact(
        "I live in New York City!",
        Location,
        "New York City",
        Assert,
    );
    assert_fact("I'm based in Berlin.", Location, "Berlin", Assert);
    assert_fact(
        "I live in Portland, Oregon.",
        Location,
        "Portland, Oregon",
        Assert,
    );
    assert_fact("I live in the UK.", Location, "UK", Assert);
    assert_fact("i live in lisbon", Location, "lisbon", Assert);
    assert_fact("I live in São Paulo.", Location, "São Paulo", Assert);
    assert_fact(
        "I live in Rio de Janeiro.",
        Location,
        "Rio de Janeiro",
        Assert,
    );
    assert_fact(
        "I live in Washington, D.C.",
        Location,
        "Washington, D.C.",
        Assert,
    );
    assert_fact(
        "We live in a small village in Portugal.",
        Location,
        "Portugal",
        Assert,
    );
    assert_fact(
        "I live with my girlfriend in Brooklyn.",
        Location,
        "Brooklyn",
        Assert,
    );
    assert_fact("I moved to Paris last year.", Location, "Paris", Change);
    assert_fact("I moved from Boston to Denver.", Location, "Denver", Change);
    assert_fact("I no longer live in Lyon.", Location, "Lyon", Retraction);
    assert_fact(
        "I don't live in Madrid anymore.",
        Location,
        "Madrid",
        Retraction,
    );
    assert_fact(
        "I used to live in Chicago.",
        Location,
        "Chicago",
        Retraction,
    );
    // Plain negation is not a retraction, and generic places are not values.
    assert_none("I don't live in Madrid.");
    assert_none("I live in a small town.");
    assert_none("I live here.");
}

#[test]
fn hometown_patterns() {
    assert_fact("I'm from Brazil.", Hometown, "Brazil", Assert);
    assert_fact("I grew up in Manchester.", Hometown, "Manchester", Assert);
    assert_fact("I was born in Kyoto.", Hometown, "Kyoto", Assert);
    assert_fact("I'm originally from Nairobi.", Hometown, "Nairobi", Assert);
    assert_fact(
        "I was born and raised in Buenos Aires.",
        Hometown,
        "Buenos Aires",
        Assert,
    );
    assert_none("I'm from IT, about your ticket.");
    assert_none("I'm from the future.");
}

#[test]
fn employer_patterns() {
    assert_fact("I work at Google.", Employer, "Google", Assert);
    assert_fact(
        "I work for the United Nations.",
        Employer,
        "United Nations",
        Assert,
    );
    assert_fact("I work at McDonald's.", Employer, "McDonald's", Assert);
    assert_fact("I joined Spotify in March.", Employer, "Spotify", Change);
    assert_fact("I now work at Microsoft.", Employer, "Microsoft", Change);
    assert_fact("I left Acme.", Employer, "Acme", Retraction);
    assert_fact(
        "I quit my job at Deloitte.",
        Employer,
        "Deloitte",
        Retraction,
    );
    assert_fact(
        "I don't work for Amazon anymore.",
        Employer,
        "Amazon",
        Retraction,
    );
    assert_fact(
        "I'm an accountant for Ernst & Young.",
        Employer,
        "Ernst & Young",
        Assert,
    );
    assert_none("I work for myself.");
    assert_none("I work from home.");
    assert_none("I work at a hospital.");
    // Leaving a city is not leaving an employer.
    assert_none("I left London in 2019.");
}

#[test]
fn job_title_patterns() {
    assert_fact("I'm a teacher.", JobTitle, "teacher", Assert);
    assert_fact("I am an architect.", JobTitle, "architect", Assert);
    assert_fact("I work as a paramedic.", JobTitle, "paramedic", Assert);
    assert_fact(
        "I'm a freelance graphic designer.",
        JobTitle,
        "freelance graphic designer",
        Assert,
    );
    assert_fact(
        "My job title is Senior Product Manager.",
        JobTitle,
        "Senior Product Manager",
        Assert,
    );
    assert_fact("I used to be a chef.", JobTitle, "chef", Retraction);
    assert_fact("I'm no longer a lawyer.", JobTitle, "lawyer", Retraction);
    assert_fact("I became a firefighter.", JobTitle, "firefighter", Change);
    let t = triples("I'm a software engineer at Shopify.");
    assert!(
        t.contains(&(JobTitle, "software engineer".into(), Assert)),
        "{t:?}"
    );
    assert!(t.contains(&(Employer, "Shopify".into(), Assert)), "{t:?}");
    for text in [
        "I'm a big eater.",
        "I'm a night owl.",
        "I'm an only child.",
        "I'm a fan.",
    ] {
        assert_none(text);
    }
}

#[test]
fn likes_and_dislikes() {
    assert_fact("I love hiking.", Likes, "hiking", Assert);
    assert_fact(
        "I really enjoy cooking Thai food.",
        Likes,
        "cooking Thai food",
        Assert,
    );
    assert_fact("I'm a huge fan of the Beatles.", Likes, "Beatles", Assert);
    assert_fact("I love to swim.", Likes, "swimming", Assert);
    assert_fact("I love mac and cheese.", Likes, "mac and cheese", Assert);
    assert_fact("My favorite food is lasagna.", Likes, "lasagna", Assert);
    assert_fact("I'm a big Arsenal fan.", Likes, "Arsenal", Assert);
    let t = triples("I like cats, dogs and horses.");
    for a in ["cats", "dogs", "horses"] {
        assert!(t.contains(&(Likes, a.into(), Assert)), "{t:?}");
    }
    assert_fact("I don't like sushi anymore.", Likes, "sushi", Retraction);
    assert_fact("I no longer enjoy running.", Likes, "running", Retraction);
    assert_fact("I hate cilantro.", Dislikes, "cilantro", Assert);
    assert_fact("I can't stand reality TV.", Dislikes, "reality TV", Assert);
    assert_fact("I dislike crowds.", Dislikes, "crowds", Assert);
    assert_fact(
        "I don't like horror movies.",
        Dislikes,
        "horror movies",
        Assert,
    );
    assert_fact(
        "I'm not a fan of country music.",
        Dislikes,
        "country music",
        Assert,
    );
    for text in [
        "I love you!",
        "I like that idea.",
        "I hate it when people are late.",
    ] {
        assert_none(text);
    }
}

#[test]
fn gerunds() {
    use super::values::gerund;
    assert_eq!(gerund("swim"), "swimming");
    assert_eq!(gerund("run"), "running");
    assert_eq!(gerund("dance"), "dancing");
    assert_eq!(gerund("read"), "reading");
    assert_eq!(gerund("travel"), "traveling");
    assert_eq!(gerund("ski"), "skiing");
    assert_eq!(gerund("lie"), "lying");
    assert_eq!(gerund("see"), "seeing");
    assert_eq!(gerund("play"), "playing");
}

#[test]
fn pets() {
    let f = extract("I have a cat named Miso.");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].predicate, Pet);
    assert_eq!(f[0].object, "Miso");
    assert_eq!(f[0].attributes, vec![("species", "cat".to_string())]);
    assert_fact("I have a dog.", Pet, "dog", Assert);
    assert_fact("My cat Luna loves boxes.", Pet, "Luna", Assert);
    assert_fact("My dog's name is Biscuit.", Pet, "Biscuit", Assert);
    assert_fact("We adopted a kitten called Pepper.", Pet, "Pepper", Assert);
    assert_fact("I have a golden retriever named Max.", Pet, "Max", Assert);
    let t = triples("I have two dogs and a rabbit.");
    assert!(t.contains(&(Pet, "dogs".into(), Assert)), "{t:?}");
    assert!(t.contains(&(Pet, "rabbit".into(), Assert)), "{t:?}");
    let t = triples("I have two cats named Salt and Pepper.");
    assert!(t.contains(&(Pet, "Salt".into(), Assert)), "{t:?}");
    assert!(t.contains(&(Pet, "Pepper".into(), Assert)), "{t:?}");
    assert_fact("I no longer have a dog.", Pet, "dog", Retraction);
    for text in [
        "I have a cold.",
        "I have a hot dog for lunch.",
        "I have a question about my account.",
        "My neighbour has a dog named Rex.",
    ] {
        assert_none(text);
    }
}

#[test]
fn family() {
    let f = extract("My wife is Marie.");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].object, "Marie");
    assert_eq!(f[0].attributes, vec![("relation", "wife".to_string())]);
    assert_fact("My daughter's name is Lily.", Family, "Lily", Assert);
    assert_fact("My husband Tom is a chef.", Family, "Tom", Assert);
    assert_fact("I have a sister called Ana.", Family, "Ana", Assert);
    assert_fact("I'm married to Dan.", Family, "Dan", Assert);
    assert_fact("I have a son.", Family, "son", Assert);
    let t = triples("My kids are Tom and Ana.");
    assert!(t.contains(&(Family, "Tom".into(), Assert)), "{t:?}");
    assert!(t.contains(&(Family, "Ana".into(), Assert)), "{t:?}");
    for text in [
        "My sister is a nurse.",
        "My dad is French.",
        "My friend's name is Jo.",
        "My ex-wife is Jo.",
    ] {
        assert_none(text);
    }
}

#[test]
fn languages() {
    let t = triples("I speak English and French.");
    assert!(t.contains(&(Language, "English".into(), Assert)), "{t:?}");
    assert!(t.contains(&(Language, "French".into(), Assert)), "{t:?}");
    let t = triples("I speak Spanish, Italian, and a little German.");
    assert_eq!(t.len(), 3, "{t:?}");
    assert_fact(
        "My native language is Portuguese.",
        Language,
        "Portuguese",
        Assert,
    );
    assert_fact("I'm fluent in Mandarin.", Language, "Mandarin", Assert);
    assert_fact("I'm a native Polish speaker.", Language, "Polish", Assert);
    assert_fact(
        "I speak Brazilian Portuguese.",
        Language,
        "Brazilian Portuguese",
        Assert,
    );
    assert_fact("i speak german", Language, "german", Assert);
    assert_none("I don't speak French.");
    assert_none("I speak my mind.");
    assert_none("I am learning Korean.");
}

#[test]
fn email() {
    assert_fact(
        "My email is ana.silva@example.com.",
        Email,
        "ana.silva@example.com",
        Assert,
    );
    assert_fact(
        "You can reach me at j.doe+news@mail.co.uk",
        Email,
        "j.doe+news@mail.co.uk",
        Assert,
    );
    assert_fact(
        "my email: bob@example.com",
        Email,
        "bob@example.com",
        Assert,
    );
    for text in [
        "My email is ana at example dot com.",
        "my email is not important",
        "My email is bob@@example.com",
        "My email is ana@example",
        "My email is .ana@example.com",
        "My email is ana@-example.com",
        "Her email is jo@example.com.",
    ] {
        assert_none(text);
    }
}

#[test]
fn email_shape() {
    use super::values::valid_email;
    assert!(valid_email("a@b.co"));
    assert!(valid_email("first.last+tag@sub.example.org"));
    assert!(!valid_email("a@b"));
    assert!(!valid_email("a@b.c"));
    assert!(!valid_email("a..b@c.com"));
    assert!(!valid_email("@c.com"));
    assert!(!valid_email("a@c..com"));
    assert!(!valid_email("ä@c.com"));
}

#[test]
fn timezone() {
    assert_fact("My timezone is UTC+2.", Timezone, "UTC+2", Assert);
    assert_fact("I'm on EST.", Timezone, "EST", Assert);
    assert_fact("I'm in UTC-5.", Timezone, "UTC-5", Assert);
    assert_fact("I'm in UTC+05:30.", Timezone, "UTC+05:30", Assert);
    assert_fact(
        "My time zone is Europe/Lisbon.",
        Timezone,
        "Europe/Lisbon",
        Assert,
    );
    assert_fact("I'm on Pacific time.", Timezone, "Pacific time", Assert);
    assert_fact("I'm in the CET timezone.", Timezone, "CET", Assert);
    assert_none("I'm in a meeting.");
    assert_none("I'm on it.");
    assert_none("I'm in Paris.");
}

#[test]
fn diet() {
    assert_fact("I'm vegetarian.", Diet, "vegetarian", Assert);
    assert_fact("I'm a pescatarian.", Diet, "pescatarian", Assert);
    assert_fact("I'm gluten-free.", Diet, "gluten-free", Assert);
    assert_fact("I'm on a keto diet.", Diet, "keto", Assert);
    assert_fact("I keep kosher.", Diet, "kosher", Assert);
    assert_fact("I went vegan last month.", Diet, "vegan", Change);
    assert_fact("I'm vegan now.", Diet, "vegan", Change);
    assert_fact(
        "I'm not vegetarian anymore.",
        Diet,
        "vegetarian",
        Retraction,
    );
    assert_fact("I used to be vegan.", Diet, "vegan", Retraction);
    assert_none("I'm not vegetarian.");
    assert_none("She's vegan.");
}

#[test]
fn allergy() {
    assert_fact("I'm allergic to peanuts.", Allergy, "peanuts", Assert);
    let t = triples("I'm allergic to cats and penicillin.");
    assert!(t.contains(&(Allergy, "cats".into(), Assert)), "{t:?}");
    assert!(t.contains(&(Allergy, "penicillin".into(), Assert)), "{t:?}");
    assert_fact("I have a shellfish allergy.", Allergy, "shellfish", Assert);
    assert_fact(
        "I'm severely allergic to bee stings.",
        Allergy,
        "bee stings",
        Assert,
    );
    assert_none("I'm not allergic to anything.");
    assert_none("My friend Jo is allergic to peanuts.");
}

// ---------------------------------------------------------------- clauses and cues

#[test]
fn splits_clauses() {
    let t = triples("I'm Ana, I live in Porto and I work at Acme.");
    assert_eq!(
        t,
        vec![
            (Name, "Ana".to_string(), Assert),
            (Location, "Porto".to_string(), Assert),
            (Employer, "Acme".to_string(), Assert),
        ]
    );
    let t = triples("I'm from the Bay Area but live in NYC.");
    assert!(t.contains(&(Location, "NYC".into(), Assert)), "{t:?}");
    let t = triples("I'm Ana, 34, from Lisbon.");
    assert!(t.contains(&(Age, "34".into(), Assert)), "{t:?}");
    assert!(t.contains(&(Hometown, "Lisbon".into(), Assert)), "{t:?}");
}

#[test]
fn correction_cues() {
    assert_fact("Actually, my name is Anna.", Name, "Anna", Correction);
    assert_fact("Actually I'm 29.", Age, "29", Correction);
    assert_fact(
        "Sorry, my birthday is March 14.",
        Birthday,
        "March 14",
        Correction,
    );
    assert_fact("No, my name is Ben.", Name, "Ben", Correction);
    assert_fact("Correction: my name is Bea.", Name, "Bea", Correction);
    assert_fact("I meant my name is Luca.", Name, "Luca", Correction);
    assert_fact(
        "Oops, I meant I live in Dublin.",
        Location,
        "Dublin",
        Correction,
    );
    assert_fact("Sorry! My name is Ana.", Name, "Ana", Correction);
    assert_fact(
        "Oops, my email is actually ana@gmail.com",
        Email,
        "ana@gmail.com",
        Correction,
    );
    // Without the predicate in the clause there is nothing to correct.
    assert_none("Sorry, it's March 13.");
    assert_none("No, it's Ana.");
    // An apology is not a correction.
    assert_fact(
        "Sorry for the late reply, I live in Porto.",
        Location,
        "Porto",
        Assert,
    );
}

#[test]
fn change_cues() {
    assert_fact("I moved to Paris.", Location, "Paris", Change);
    assert_fact("I now work at Stripe.", Employer, "Stripe", Change);
    assert_fact("I'm now based in Singapore.", Location, "Singapore", Change);
    assert_fact("I live in Paris now.", Location, "Paris", Change);
    assert_fact(
        "From now on, please call me Max.",
        PreferredName,
        "Max",
        Change,
    );
    // "now" does not turn a taste into a change of value.
    assert_fact("I now like jazz.", Likes, "jazz", Assert);
    // "right now" is the present, not a change.
    assert_fact("I live in Paris right now.", Location, "Paris", Assert);
}

#[test]
fn retraction_cues() {
    assert_fact("I left Acme.", Employer, "Acme", Retraction);
    assert_fact("I no longer live in Lyon.", Location, "Lyon", Retraction);
    assert_fact("I used to be a chef.", JobTitle, "chef", Retraction);
    assert_fact("I don't like sushi anymore.", Likes, "sushi", Retraction);
    assert_fact(
        "I'm not vegetarian anymore.",
        Diet,
        "vegetarian",
        Retraction,
    );
    // The correction cue does not hide what the verb says.
    assert_fact(
        "Actually I don't live in Boston anymore.",
        Location,
        "Boston",
        Retraction,
    );
}

// ---------------------------------------------------------------- filters

#[test]
fn questions_are_not_statements() {
    for text in [
        "Is my name Bob?",
        "Do I live in Rome?",
        "Am I allergic to peanuts?",
        "Can you remember that I like jazz?",
        "My name is Bob, right?",
        "I live in Rome?",
        "Is my name Bob",
        "Should I move to Berlin",
        "Does my cat Miso need shots?",
    ] {
        assert_none(text);
    }
    // A statement followed by a question to the listener keeps the statement.
    assert_fact(
        "I live in Porto, what about you?",
        Location,
        "Porto",
        Assert,
    );
    assert_fact("I'm Sara, what's your name?", Name, "Sara", Assert);
    assert_fact("I like jazz, do you?", Likes, "jazz", Assert);
}

#[test]
fn hypotheticals_are_not_statements() {
    for text in [
        "If I lived in Rome, I would eat pasta every day.",
        "I wish I lived in Rome.",
        "I would love to live in Rome.",
        "I'd like to live in Rome.",
        "Imagine my name was Zed.",
        "Suppose I worked at Google.",
        "Let's say I'm 40.",
        "Maybe I'll move to Spain.",
        "I'm going to move to Berlin next year.",
        "Pretend I'm a pirate.",
        "I hope to work at NASA one day.",
        "In my dream I lived in Tokyo.",
    ] {
        assert_none(text);
    }
    // A condition on the listener does not make the user's statement hypothetical.
    assert_fact(
        "If you must know, I live in Porto.",
        Location,
        "Porto",
        Assert,
    );
    // Clauses before the hypothetical still count.
    assert_fact(
        "I live in Porto, but if I moved to Rome I'd be happy.",
        Location,
        "Porto",
        Assert,
    );
}

#[test]
fn reported_speech_and_third_parties() {
    for text in [
        "He said 'my name is Bob'.",
        "He said, my name is Bob.",
        "She told me I'm stubborn.",
        "My mom says I'm a great cook.",
        "According to my doctor, I'm allergic to nuts.",
        "\"My name is Bob\" is a great song.",
        "My friend's name is Jo.",
        "My brother lives in Rome.",
        "His name is Tom.",
        "Tom is from Spain.",
        "They live in Boston.",
    ] {
        assert_none(text);
    }
    // The user quoting themself is still the user.
    assert_fact("As I said, I live in Rome.", Location, "Rome", Assert);
    assert_fact("Like I told you, my name is Ana.", Name, "Ana", Assert);
}

// ---------------------------------------------------------------- text handling

#[test]
fn values_keep_casing_without_articles_or_punctuation() {
    assert_fact("I work as a paramedic.", JobTitle, "paramedic", Assert);
    assert_fact("I LIVE IN BERLIN", Location, "BERLIN", Assert);
    assert_fact(
        "My email is Ana.Silva@Example.org.",
        Email,
        "Ana.Silva@Example.org",
        Assert,
    );
    assert_fact("I live in   New    York!!!", Location, "New York", Assert);
    assert_fact("My name is “Ana”.", Name, "Ana", Assert);
}

#[test]
fn typographic_apostrophes_and_contractions() {
    assert_fact("I’m Ana.", Name, "Ana", Assert);
    assert_fact("I don’t like sushi anymore.", Likes, "sushi", Retraction);
    assert_fact("Im 25", Age, "25", Assert);
    assert_fact("I dont live in Lyon anymore", Location, "Lyon", Retraction);
    assert_fact("I cannot stand mornings.", Dislikes, "mornings", Assert);
}

#[test]
fn spans_cover_the_clause() {
    let text = "Hi! I'm Ana, I live in Porto.";
    for f in extract(text) {
        let clause = &text[f.span.0..f.span.1];
        assert!(clause.contains(&f.object), "{clause:?} vs {:?}", f.object);
    }
    let f = extract("Hello there, I live in Porto and I work at Acme.");
    assert_eq!(f.len(), 2);
    assert_eq!(
        &"Hello there, I live in Porto and I work at Acme."[f[0].span.0..f[0].span.1],
        "I live in Porto"
    );
}

#[test]
fn confidence_and_rule_ids() {
    for f in extract("Hi, I'm Ana, I live in Porto, I have a cat named Miso and I'm 34.") {
        assert!((0.0..=1.0).contains(&f.confidence), "{f:?}");
        assert!(f.rule_id.contains('.'), "{f:?}");
        let pred = f.rule_id.split('.').next().unwrap_or("");
        assert!(Predicate::parse(pred).is_some(), "{f:?}");
    }
}

#[test]
fn case_mode_detection() {
    assert_eq!(
        Doc::new("I'm Ana and I live in Porto").case,
        CaseMode::Mixed
    );
    assert_eq!(Doc::new("i'm ana and i live in porto").case, CaseMode::Flat);
    assert_eq!(Doc::new("I'M ANA AND I LIVE IN PORTO").case, CaseMode::Flat);
    assert_eq!(
        Doc::new("I'm Ana And I Live In Porto Portugal").case,
        CaseMode::Flat
    );
}

#[test]
fn lexicon_class_table_finds_every_word() {
    assert!(super::lexicon::classes_round_trip());
}

#[test]
fn duplicate_statements_collapse() {
    let t = triples("I live in Porto. I live in Porto!");
    assert_eq!(t, vec![(Location, "Porto".to_string(), Assert)]);
}

#[test]
fn deterministic() {
    let text = "Hi, I'm Ana, I live in Porto and I work at Acme. I love jazz and hiking.";
    assert_eq!(extract(text), extract(text));
}

#[test]
fn hostile_inputs_do_not_panic() {
    let long = "I live in Porto. ".repeat(4096);
    assert!(long.len() >= 64 * 1024);
    let f = extract(&long);
    assert_eq!(f.len(), 1);
    let odd = [
        "",
        "\0",
        "\u{feff}My name is Ana",
        "My name is Ana\0\0\0",
        "I'm \u{202e}anA\u{202c}",
        "أنا اسمي أحمد",
        "My name is 田中.",
        "👩‍👩‍👧‍👦 I have a dog named 🐶",
        "'''''",
        "I'm",
        "my name is",
        "I have a",
        "I live in the",
        "Iʼm Ana",
        "I'm\u{301} Ana",
        "-- - — – ,,,, ;;; ::: ???",
        "I've I'd I'll we're they've",
        "n't 's 'm",
        "I'm 99999999999999999999999 years old",
        "My email is a@b.cc@d.ee",
        "x@x.xx",
        "My timezone is UTC+99:99.",
    ];
    for text in odd {
        for f in extract(text) {
            assert!(text.is_char_boundary(f.span.0) && text.is_char_boundary(f.span.1));
            assert!(f.span.0 <= f.span.1 && f.span.1 <= text.len());
        }
    }
    let huge_word = "a".repeat(100_000);
    assert!(extract(&huge_word).is_empty());
    let mut s = String::from("My name is ");
    s.push_str(&"Ä".repeat(40_000));
    let _ = extract(&s);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_and_spans_are_valid(text in "\\PC{0,200}") {
        for f in extract(&text) {
            prop_assert!(f.span.0 <= f.span.1 && f.span.1 <= text.len());
            prop_assert!(text.is_char_boundary(f.span.0));
            prop_assert!(text.is_char_boundary(f.span.1));
            prop_assert!(!f.object.is_empty());
            prop_assert!((0.0..=1.0).contains(&f.confidence));
        }
    }

    #[test]
    fn never_panics_on_any_chars(text in any::<String>()) {
        for f in extract(&text) {
            prop_assert!(text.is_char_boundary(f.span.0) && text.is_char_boundary(f.span.1));
            prop_assert!(f.span.0 <= f.span.1 && f.span.1 <= text.len());
        }
    }

    #[test]
    fn never_panics_on_pattern_soup(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("I'm"), Just("I"), Just("my"), Just("name"), Just("is"), Just("Ana"),
                Just("live"), Just("in"), Just("Porto"), Just(","), Just("."), Just("?"),
                Just("and"), Just("not"), Just("anymore"), Just("a"), Just("cat"),
                Just("named"), Just("'"), Just("\""), Just("’s"), Just("😀"), Just("\0"),
                Just("\n"), Just("St."), Just("D.C."), Just("UTC+2"), Just("12"),
                Just("March"), Just("speak"), Just("English"), Just("allergic"), Just("to"),
                Just("actually"), Just("if"), Just("said"), Just("ana@x.io"), Just("-"),
            ],
            0..40,
        ),
        seps in proptest::collection::vec(prop_oneof![Just(" "), Just(""), Just("  ")], 40),
    ) {
        let mut text = String::new();
        for (i, p) in parts.iter().enumerate() {
            text.push_str(p);
            text.push_str(seps[i % seps.len()]);
        }
        for f in extract(&text) {
            prop_assert!(text.is_char_boundary(f.span.0) && text.is_char_boundary(f.span.1));
            prop_assert!(f.span.0 <= f.span.1 && f.span.1 <= text.len());
            prop_assert!(!f.object.is_empty());
        }
    }
}

// ---------------------------------------------------------------- casual chat (issue 12)

#[test]
fn casual_chat_the_issue_names() {
    assert_fact("hi , i am tom", Name, "tom", Assert);
    assert_fact("my names todd whats yours", Name, "todd", Assert);
    assert_fact("im a nurse", JobTitle, "nurse", Assert);
    assert_fact("i have 2 dogs and a cat", Pet, "dogs", Assert);
    assert_fact("i have 2 dogs and a cat", Pet, "cat", Assert);
    assert_fact("i've three kids", Family, "kids", Assert);
    assert_fact("my sister and i are twins", Family, "sister", Assert);
    assert_fact("i'm from texas originally", Hometown, "texas", Assert);
    assert_fact("i grew up on a farm in ohio", Hometown, "ohio", Assert);
    assert_fact("i work at walmart", Employer, "walmart", Assert);
    assert_fact("i am a vegan", Diet, "vegan", Assert);
    assert_fact(
        "i really like to cook italian food",
        Likes,
        "cooking italian food",
        Assert,
    );
    assert_fact("i hate mornings", Dislikes, "mornings", Assert);
    assert_fact("i dont like spiders", Dislikes, "spiders", Assert);
    assert_fact("favorite band is queen", Likes, "queen", Assert);
    assert_fact("i am in my 30s", Age, "30s", Assert);
    assert_fact("i teach 3rd grade", JobTitle, "teacher", Assert);
    assert_fact("i'm 25 and live with my parents", Age, "25", Assert);
    assert_fact("i'm 25 and live with my parents", Family, "parents", Assert);
}

#[test]
fn casual_chat_capitals_are_no_signal() {
    // A capital "I" and sentence starts, nothing else: lowercase places and employers count.
    assert_fact("I'm from california", Hometown, "california", Assert);
    assert_fact("I work at walmart", Employer, "walmart", Assert);
    assert_fact(
        "Yeah i live in salt lake city now",
        Location,
        "salt lake city",
        Change,
    );
    assert_fact("I grew up just north of Denver", Hometown, "Denver", Assert);
    assert_fact("nah, lillie's just my name", Name, "lillie", Assert);
    assert_fact("Ha yeah but Adam is my name", Name, "Adam", Assert);
    assert_fact("I loooove the beach", Likes, "beach", Assert);
    assert_fact("that's too bad i really like nuts", Likes, "nuts", Assert);
    assert_fact("I like to read and hike", Likes, "hiking", Assert);
    assert_fact(
        "Tamora Pierce is my favorite author",
        Likes,
        "Tamora Pierce",
        Assert,
    );
    assert_fact(
        "My least favorite taste is probably cilantro",
        Dislikes,
        "cilantro",
        Assert,
    );
    assert_fact("I'm a huge music guy", Likes, "music", Assert);
    assert_fact("I love my cat :)", Pet, "cat", Assert);
    assert_fact(
        "I can speak korean and cambodian",
        Language,
        "cambodian",
        Assert,
    );
    assert_fact(
        "I practice my Spanish at the MTC",
        Language,
        "Spanish",
        Assert,
    );
}

#[test]
fn casual_chat_stays_negative() {
    for text in [
        "my dad works for ups",
        "my brother lives in texas",
        "do you work at walmart?",
        "are you from ohio",
        "if i lived in ohio i would be sad",
        "he said he is a nurse",
        "my mom says im a great cook",
        "i am sure",
        "im bored lol",
        "i think i am tired",
        "I'm not a morning person.",
        "i work at night",
        "I work at a bank downtown.",
        "my dream dog would be a husky",
        "I wish I had a dog",
        "I moved to Arkansas in high school",
        "I enjoyed chatting with you!",
    ] {
        assert_none(text);
    }
}

#[test]
fn casual_spans_point_at_the_original_text() {
    // Normalised forms ("im" → "i am", "loooove" → "love") never move the spans.
    for text in [
        "im from texas originally",
        "I loooove hiking and I'm from St. George",
        "hi , i am tom and i live in ohio",
        "that's too bad i really like nuts",
        "My sister and I are twins",
    ] {
        let facts = extract(text);
        assert!(!facts.is_empty(), "{text:?}");
        for f in facts {
            let clause = text
                .get(f.span.0..f.span.1)
                .unwrap_or_else(|| panic!("{text:?}: bad span {:?}", f.span));
            assert!(
                clause.to_lowercase().contains(&f.object.to_lowercase()),
                "{text:?}: {clause:?} does not contain {:?}",
                f.object
            );
        }
    }
}

#[test]
fn casual_objects_that_name_nothing_are_dropped() {
    // Bare determiners, pronouns, keenness words, laughter and cut clauses are not likes.
    for text in [
        "I like to play both",
        "I like mine better",
        "i really like to yeah",
        "hehehe that was my favorite",
        "i love the way he and his brother fight",
        "I love any kind of it",
        "I am an avid fan",
        "SO I quit kind of soon",
        "i quit soccer last year",
        "I like to think that people are good",
        "I love doing stuff out there",
        "i love to put those on my fries",
        "I know, same here",
    ] {
        assert_none(text);
    }
    // What is left of such sentences keeps its real object.
    assert_fact(
        "I love taking naps between 2 and 4 pm",
        Predicate::Likes,
        "taking naps",
        FactKind::Assert,
    );
    assert_fact(
        "I like working with horses",
        Predicate::Likes,
        "working with horses",
        FactKind::Assert,
    );
    assert_fact(
        "I'm a pretty big Celtics fan",
        Predicate::Likes,
        "Celtics",
        FactKind::Assert,
    );
    assert_fact(
        "I used to love crayons as a kid",
        Predicate::Likes,
        "crayons",
        FactKind::Retraction,
    );
    assert_fact(
        "I'm allergic to shrimp lol",
        Predicate::Allergy,
        "shrimp",
        FactKind::Assert,
    );
    assert!(!has(
        "i hate people who talk in movies",
        Predicate::Dislikes,
        "people",
        FactKind::Assert
    ));
}

#[test]
fn casual_phrases_end_where_the_thing_ends() {
    for (text, object) in [
        ("I like a bunch of hikes in Oregon", "hikes in Oregon"),
        ("i like all sorts of board games", "board games"),
        ("I like jazz as long as it is quiet", "jazz"),
        ("I like to play chess a little bit", "playing chess"),
        ("I love tacos such a good food", "tacos"),
        ("I enjoy pottery from time to time", "pottery"),
        ("I love surfing everyday of my life", "surfing"),
        (
            "I like coming up with new recipes",
            "coming up with new recipes",
        ),
        (
            "I like to cook and would have gone to culinary school",
            "cooking",
        ),
    ] {
        assert_fact(text, Predicate::Likes, object, FactKind::Assert);
    }
    for text in [
        "I love the depth, the color and the beauty of it",
        "I love listening to that one",
        "i am passionate about making the world a better place",
        "I love almost every fruit",
        "I like a bunch others too",
    ] {
        assert_none(text);
    }
    // The second clause is dropped, not the list before it.
    assert_eq!(
        triples("I'm a huge fan of rugby and this team has got me hooked"),
        vec![(Predicate::Likes, "rugby".to_string(), FactKind::Assert)]
    );
}

#[test]
fn casual_items_that_need_their_clause_are_dropped() {
    for text in [
        "I like those books, the give a nice challenge",
        "Honestly I love the place",
        "I love the episode when she wins",
        "I enjoy hearing that you are well",
        "i love visiting with you",
        "I don't really like to talk about how much I got",
        "I like have no idea what I'm doing",
        "I only work for two hours",
    ] {
        assert_none(text);
    }
    for (text, object) in [
        ("I love love love to swim", "swimming"),
        ("I am a fan of boxing and take classes", "boxing"),
        (
            "i love exercise science and am glad i chose it",
            "exercise science",
        ),
        ("I like 50's rock and jazz", "50's rock"),
    ] {
        assert_fact(text, Predicate::Likes, object, FactKind::Assert);
    }
    assert_eq!(
        triples("I am a fan of boxing and take classes").len(),
        1,
        "the second verb is no thing liked"
    );
}

#[test]
fn casual_ambiguous_nouns_and_names() {
    for text in [
        "I have a lab. Goodnight.",
        "sorry my mouse has problems",
        "Im Part of the latter",
        "I'm not a die hard fan but I watch it",
        "Honestly I love the job!",
        "And I like t",
    ] {
        assert_none(text);
    }
    assert_fact(
        "I have a black lab",
        Predicate::Pet,
        "black lab",
        FactKind::Assert,
    );
    assert_fact(
        "Ew macro was my least favorite part",
        Predicate::Dislikes,
        "macro",
        FactKind::Assert,
    );
    assert_fact(
        "I'm a sucker for classics - Les Miserables",
        Predicate::Likes,
        "Les Miserables",
        FactKind::Assert,
    );
}

#[test]
fn casual_jobs_and_lists_read_as_said() {
    for text in [
        "And im a horrid dancer ;)",
        "I am a decent writer",
        "i can't stand people that do that",
        "But I don't like many others",
    ] {
        assert_none(text);
    }
    assert_eq!(
        triples("yeah true, i am a nanny and also a cashier at a grocery store")
            .into_iter()
            .filter(|t| t.0 == Predicate::JobTitle)
            .map(|t| t.1)
            .collect::<Vec<_>>(),
        vec!["nanny".to_string()]
    );
    assert!(!has(
        "I am a transfer student from Weber State University",
        Predicate::Hometown,
        "Weber State University",
        FactKind::Assert
    ));
    assert_fact(
        "So, I don't like bbq sauce for the same reason",
        Predicate::Dislikes,
        "bbq sauce",
        FactKind::Assert,
    );
    assert_fact(
        "I kinda enjoy talking to myself, even if it's not effective",
        Predicate::Likes,
        "talking to myself",
        FactKind::Assert,
    );
    assert_eq!(
        triples("I kinda enjoy talking to myself, even if it's not effective").len(),
        1
    );
}

#[test]
fn casual_recall_round_version_4() {
    use FactKind::Assert;
    use Predicate::*;
    let mut bad = Vec::new();
    soft_fact(
        &mut bad,
        "My older sister and I once sat at the table for an hour.",
        Family,
        "older sister",
        Assert,
    );
    soft_fact(
        &mut bad,
        "That's one of the schools my husband and I applied to!",
        Family,
        "husband",
        Assert,
    );
    soft_fact(
        &mut bad,
        "My favorite movie of all time would for sure have to be Nacho Libre.",
        Likes,
        "Nacho Libre",
        Assert,
    );
    soft_fact(
        &mut bad,
        "My favorite science class so far has been physics!",
        Likes,
        "physics",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I think my least favorite is Chinese food",
        Dislikes,
        "Chinese food",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I think that summer is my favorite time of the year",
        Likes,
        "summer",
        Assert,
    );
    soft_fact(
        &mut bad,
        "ive always loved the environment",
        Likes,
        "environment",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I have really enjoyed learning about coding in Python.",
        Likes,
        "learning about coding in Python",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I'm not the biggest fan of snow....",
        Dislikes,
        "snow",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I'm just not the biggest Oreo fan.",
        Dislikes,
        "Oreo",
        Assert,
    );
    soft_fact(
        &mut bad,
        "i am very infatuated with Asia",
        Likes,
        "Asia",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I have a bit of an obsession with jazz",
        Likes,
        "jazz",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I find myself enjoying the struggle.",
        Likes,
        "struggle",
        Assert,
    );
    soft_fact(
        &mut bad,
        "One of my favorite dishes is a Mushroom, onion, and Swiss cheese smothered chicken.",
        Likes,
        "Mushroom, onion, and Swiss cheese smothered chicken",
        Assert,
    );
    soft_fact(
        &mut bad,
        // Version 5: "the shows" alone points back at an earlier turn; a relative clause
        // says which shows.
        "i also realy like the shows that are set in the past",
        Likes,
        "shows",
        Assert,
    );
    soft_fact(
        &mut bad,
        "pretty good I love the cold",
        Likes,
        "cold",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I also like Mendelssohn. And Telemann. And Hayden.",
        Likes,
        "Telemann",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I also like Mendelssohn. And Telemann. And Hayden.",
        Likes,
        "Hayden",
        Assert,
    );
    soft_fact(
        &mut bad,
        "I somehow find myself enjoying the struggle.",
        Likes,
        "struggle",
        Assert,
    );
    soft_fact(&mut bad, "I can speak Klingon", Language, "Klingon", Assert);
    soft_fact(
        &mut bad,
        "I'm not fluent in Spanish yet, but I should be okay.",
        Language,
        "Spanish",
        Assert,
    );
    // Still negative: a question, a third party's pair, a bare "And" that is a clause.
    soft_none(&mut bad, "do you like peanut butter?");
    soft_none(&mut bad, "his sister and I are friends");
    soft_none(&mut bad, "I went to Paris. And then we went home.");
    soft_none(&mut bad, "Is your favorite movie Nacho Libre?");
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn casual_objects_that_point_back_emit_nothing() {
    // A definite "the" and a bare noun that names something from an earlier turn.
    assert_none("I really like the song.");
    assert_none("Same, I love the movies.");
    assert_none("honestly i just like the topic");
    assert_none("I enjoy the subject matter a lot.");
    assert_none("my favorite part is the ending");
    assert_none("I like the username");
    // "both" before one noun: the two were named before.
    assert_none("I like both traditions");
    // People described before: "such professors".
    assert_none("I love teachers like that");
    // Kept: things "the" names generically, titles, names, restricted nouns, lists.
    assert_fact("I love the beach", Likes, "beach", Assert);
    assert_fact("i love the outdoors", Likes, "outdoors", Assert);
    assert_fact("I like the Beatles", Likes, "Beatles", Assert);
    assert_fact("I hate the cold", Dislikes, "cold", Assert);
    assert_fact(
        "I really like the shows that are set in old times",
        Likes,
        "shows",
        Assert,
    );
    assert_fact("I like both cats and dogs", Likes, "cats", Assert);
    assert_fact("I like both cats and dogs", Likes, "dogs", Assert);
    assert_fact("I love games like that", Likes, "games", Assert);
    assert_fact("I love the smell of rain", Likes, "smell of rain", Assert);
}

#[test]
fn casual_filler_like_is_no_verb() {
    assert_none("I'm always cleaning my room and like organizing stuff");
    assert_none("I was not scared but like confused");
    // After a liking verb, an understood "I" still likes.
    assert_fact("I love hiking and like swimming", Likes, "swimming", Assert);
    // Before a noun list, "like" still reads as the verb.
    assert_fact(
        "im a nerd so like chess, sudoku, puzzles",
        Likes,
        "chess",
        Assert,
    );
}

#[test]
fn casual_recall_round_version_5() {
    // Clefts and pseudo-clefts.
    assert_fact(
        "the only thing i really dont like is olives",
        Dislikes,
        "olives",
        Assert,
    );
    assert_fact(
        "The one thing I hate is traffic",
        Dislikes,
        "traffic",
        Assert,
    );
    assert_fact("what I love most is skiing", Likes, "skiing", Assert);
    assert_fact(
        "it's mostly waking up early that I hate",
        Dislikes,
        "waking up early",
        Assert,
    );
    assert_fact("its really the snow that I love", Likes, "snow", Assert);
    // A frame before the "I".
    assert_fact(
        "my only problem is that I love cheese",
        Likes,
        "cheese",
        Assert,
    );
    assert_fact("the thing is, I hate crowds", Dislikes, "crowds", Assert);
    // Fan nouns after a list.
    assert_fact(
        "I'm a pretty big Star Wars and Star Trek fan",
        Likes,
        "Star Trek",
        Assert,
    );
    assert_fact(
        "I'm a big tennis, golf, and hockey fan",
        Likes,
        "golf",
        Assert,
    );
    // Relatives in a list without a second article.
    assert_fact(
        "i have an older brother and younger sister",
        Family,
        "younger sister",
        Assert,
    );
    // Every verb of an infinitive list is an activity, even when the first is dropped.
    assert_fact("I like to run, swim, and bake", Likes, "running", Assert);
    assert_fact("I like to run, swim, and bake", Likes, "baking", Assert);
    // A narrowing after a like; a lead "like" before the subject is filler.
    assert_fact(
        "I love all dogs, but especially huskies",
        Likes,
        "huskies",
        Assert,
    );
    assert_fact(
        "I like sci-fi. Especially space operas.",
        Likes,
        "space operas",
        Assert,
    );
    assert_fact("like i really love tacos", Likes, "tacos", Assert);
    assert_fact(
        "Like I said before I really like chess",
        Likes,
        "chess",
        Assert,
    );
    // Past and mild dislikes, "not fond of", favourites among several.
    assert_fact(
        "I didn't like Moby Dick at all",
        Dislikes,
        "Moby Dick",
        Assert,
    );
    assert_fact("I don't love crowds", Dislikes, "crowds", Assert);
    assert_fact("I'm not very fond of spiders", Dislikes, "spiders", Assert);
    assert_fact(
        "Chess and sudoku are two of my favorite things",
        Likes,
        "sudoku",
        Assert,
    );
    assert_fact(
        "Yosemite is one of my most favorite places",
        Likes,
        "Yosemite",
        Assert,
    );
    assert_none("I didn't like the blue one");
    // "to do <thing>" is an activity; "to do it" names none.
    assert_fact("I love to do pottery", Likes, "doing pottery", Assert);
    assert_none("I like to do it");
    // "love" after "for" is part of the thing, not the verb said again.
    assert_fact("I'm a sucker for love songs", Likes, "love songs", Assert);
    assert_fact("I love love love tacos", Likes, "tacos", Assert);
    // An agreement before the statement; a gerund after a "with" phrase.
    assert_fact("Same I'm a coffee addict", Likes, "coffee", Assert);
    assert_fact(
        "I love playing with my dog and hiking",
        Likes,
        "hiking",
        Assert,
    );
    assert_fact(
        "I love playing with my dog and hiking",
        Likes,
        "playing with my dog",
        Assert,
    );
    // A statement with a question back glued to it, without a comma.
    assert_fact("I like sushi what about you?", Likes, "sushi", Assert);
    assert_fact(
        "my favorite band is hands down Queen how about you?",
        Likes,
        "Queen",
        Assert,
    );
    assert_none("my brother likes golf what about you?");
    assert_none("do you like golf what about you?");
    // "I tutor around 4:30": a time, no job.
    assert_none("I tutor around 4:30 most days");
    // Still negative: questions, third parties, hypotheticals, a cleft about someone else.
    assert_none("what do you love most?");
    assert_none("the only thing my brother likes is golf");
    assert_none("my dad is a big Yankees and Mets fan");
    assert_none("I hate to run, but I have to go");
    assert_none("my problem is that he hates cats");
    // The bare item after "and" must be a relative: "then we moved" is a clause.
    assert_eq!(
        triples("I have a brother and then we moved"),
        vec![(Family, "brother".to_owned(), Assert)]
    );
}

fn soft_fact(bad: &mut Vec<String>, text: &str, p: Predicate, object: &str, kind: FactKind) {
    if !has(text, p, object, kind) {
        bad.push(format!(
            "{text:?}: expected {p:?} {object:?}, got {:?}",
            triples(text)
        ));
    }
}

fn soft_none(bad: &mut Vec<String>, text: &str) {
    let got = triples(text);
    if !got.is_empty() {
        bad.push(format!("{text:?}: expected none, got {got:?}"));
    }
}

// ---------------------------------------------------------------- version 6

#[test]
fn intensifiers_and_hedged_likings() {
    assert_fact("i freaking love pizza", Likes, "pizza", Assert);
    assert_fact("I thoroughly enjoy hiking", Likes, "hiking", Assert);
    assert_fact("I think I like naps", Likes, "naps", Assert);
    assert_fact("i guess i really love baking", Likes, "baking", Assert);
    assert_fact("i feel like i hate mondays", Dislikes, "mondays", Assert);
    // A hedge before anything but a liking stays a guess.
    assert_none("I think I'm a nurse");
    assert_none("i think i live in ohio");
    assert_none("i think i'd like to go");
}

#[test]
fn pastimes_said_as_habits() {
    assert_fact("i play guitar", Likes, "playing guitar", Assert);
    assert_fact("I play the ukulele", Likes, "playing ukulele", Assert);
    assert_fact("i go hiking on weekends", Likes, "hiking", Assert);
    assert_fact("i read a lot", Likes, "reading", Assert);
    assert_fact("i drink a lot of coffee", Likes, "coffee", Assert);
    assert_fact("i listen to a lot of jazz", Likes, "jazz", Assert);
    assert_fact("i collect stamps", Likes, "collecting stamps", Assert);
    assert_fact("i spend my weekends hiking", Likes, "hiking", Assert);
    assert_fact(
        "my hobbies are painting and reading",
        Likes,
        "painting",
        Assert,
    );
    assert_fact(
        "my hobbies are painting and reading",
        Likes,
        "reading",
        Assert,
    );
    assert_fact("one of my hobbies is baking", Likes, "baking", Assert);
    assert_fact("in my free time i like to read", Likes, "reading", Assert);
    assert_fact("on weekends, I go fishing", Likes, "fishing", Assert);
    assert_fact("i'm an avid reader", Likes, "reading", Assert);
    assert_fact("i'm a huge coffee drinker", Likes, "coffee", Assert);
    assert_fact("i'm a gamer", Likes, "gaming", Assert);
    assert_fact("i am a real fan of jazz", Likes, "jazz", Assert);
    assert_fact(
        "I like pretty little liars",
        Likes,
        "pretty little liars",
        Assert,
    );
    // A plan, a role, someone else's work, a purpose: no pastime.
    assert_none("i go shopping tomorrow");
    assert_none("i play a doctor on tv");
    assert_none("i travel a lot for work");
    assert_none("i'm a great writer");
    assert_none("i like pretty good food");
    assert_none("I am a slow writer");
    assert_fact("I love naruto, once I get done", Likes, "naruto", Assert);
    assert!(!has(
        "I love naruto, once I get done",
        Likes,
        "once",
        Assert
    ));
    assert!(!has(
        "I used to like running and did cross country",
        Likes,
        "did cross country",
        Assert
    ));
}

#[test]
fn places_family_and_pets_said_casually() {
    assert_fact(
        "i live in boring old cincinnati",
        Location,
        "cincinnati",
        Assert,
    );
    assert_fact(
        "I live in beautiful downtown Chicago",
        Location,
        "Chicago",
        Assert,
    );
    assert_fact("i'm from sunny california", Hometown, "california", Assert);
    assert_fact(
        "i live alone in a small apartment in denver",
        Location,
        "denver",
        Assert,
    );
    assert_fact("english is my second language", Language, "english", Assert);
    assert_fact(
        "i have an older sister to show me the ropes",
        Family,
        "older sister",
        Assert,
    );
    assert_fact("i have a husband and son to feed", Family, "son", Assert);
    assert_fact(
        "i have a girlfriend currently",
        Family,
        "girlfriend",
        Assert,
    );
    assert_fact("i'm a mom of two", Family, "kids", Assert);
    assert_fact("i'm a father of 3 boys", Family, "boys", Assert);
    assert_fact("i have cats", Pet, "cats", Assert);
    assert_fact("we got a kitten last week", Pet, "kitten", Assert);
    assert_fact(
        "i'm a stay at home mom",
        JobTitle,
        "stay at home mom",
        Assert,
    );
    // Someone else's dog; a future family; a bare plural that is no kin.
    assert_none("i have a dog to walk for my neighbor");
    assert_none("we want to get married and have children");
    assert_none("i have friends");
    assert_none("my parents are from mexico");
}
