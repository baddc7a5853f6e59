//! The pattern table: every first-person pattern, the value it expects, its predicate, kind,
//! confidence and flags, with the Bloom masks that let a clause skip most rules at once.
//! Order is meaning here (first match wins); this module must never hold matching logic.

use super::super::lexicon as lx;
use super::super::{FactKind, Predicate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Val {
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
    /// "not a big coffee fan": a fan, fanatic or lover only ("not a language nerd" is modesty).
    NotFanNoun,
    /// "I do design work for BYU": the organisation after "work for|at".
    WorkFor,
    /// "in my 30s", "in my early twenties".
    Decade,
    /// "I teach 3rd grade": the job is "teacher", an "at <place>" is the employer.
    Teach,
    Date,
    HaveNp,
    Spouse,
    /// "I play guitar", "i play video games": an instrument, a sport or games.
    Play,
    /// "i go hiking on weekends": a pastime in its gerund.
    GoDoing,
    /// "i spend my weekends hiking": the pastime the user's time goes to.
    SpendTime,
    /// "I'm a mom of two": the user's children, counted.
    ParentOf,
    /// "I collect stamps": what is collected.
    Collect,
    /// "i read a lot": the verb is the pastime, done often.
    ALot,
    /// "i drink a lot of coffee", "i listen to a lot of jazz": what is had a lot of.
    ALotOf,
    /// "my hobbies are painting and reading": a list of pastimes after the verb.
    Hobby,
}

/// The fact only holds with "anymore" / "any longer" after the value.
pub(super) const NEED_ANYMORE: u8 = 1;
/// Only in the first clause of the message ("This is Ana").
pub(super) const MSG_START: u8 = 2;
/// Kept only if the same message also states a name ("... but I prefer Kate").
pub(super) const IF_NAMED: u8 = 4;
/// A name pattern after which ", 34, from Lisbon" may follow.
pub(super) const INTRO: u8 = 8;

pub(super) struct Rule {
    pub(super) id: &'static str,
    pub(super) pat: &'static [&'static str],
    pub(super) pred: Predicate,
    pub(super) kind: FactKind,
    pub(super) val: Val,
    pub(super) conf: f32,
    pub(super) flags: u8,
    /// Bloom masks of the first and second pattern words (all ones when optional or
    /// absent): a clause whose words share no bit with them cannot match.
    pub(super) m0: u64,
    pub(super) m1: u64,
}

/// One bit per word, from an FNV-1a hash; `const` so the masks are built at compile time.
pub(super) const fn word_bit(b: &[u8], start: usize, end: usize) -> u64 {
    let (_, tail) = b.split_at(start);
    let (word, _) = tail.split_at(end - start);
    1u64 << (lx::fnv1a(word) % 64)
}

/// Mask of a pattern word's alternatives; all ones for an optional or missing word.
pub(super) const fn pat_mask(pat: &[&str], idx: usize) -> u64 {
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
pub(super) fn tok_mask(n: &str) -> u64 {
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
pub(super) static RULES: &[Rule] = &[
    // ---- name / preferred name
    rule!("name.my_name_is", ["my", "?full|first|real|actual|given", "name", "is"], Name, Assert, NameLoose, 0.95, INTRO),
    rule!("name.my_names", ["my", "names"], Name, Assert, NameStrict, 0.8, INTRO),
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
    rule!("age.in_my", ["i", "am", "in", "my"], Age, Assert, Decade, 0.8),
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
    rule!("location.live_alone_in", ["i|we", "live|reside", "alone|together|here|there"], Location, Assert, PlaceAfterIn, 0.85),
    rule!("location.live_in", ["i|we", "live|reside", "in"], Location, Assert, Place, 0.95),
    rule!("location.live_on", ["i|we", "live|reside", "on"], Location, Assert, Place, 0.8),
    rule!("location.living_in", ["i|we", "am|are", "living|residing", "in"], Location, Assert, Place, 0.9),
    rule!("location.have_lived_in", ["i|we", "have", "?been", "lived|living", "in"], Location, Assert, Place, 0.9),
    rule!("location.based_in", ["i|we", "am|are", "based|located", "in"], Location, Assert, Place, 0.95),
    rule!("location.based_out_of", ["i|we", "am|are", "based", "out", "of"], Location, Assert, Place, 0.9),
    rule!("location.have_been_based_in", ["i|we", "have", "been", "based", "in"], Location, Assert, Place, 0.9),
    // ---- hometown
    rule!("hometown.i_am_from", ["i", "am", "from"], Hometown, Assert, Place, 0.9),
    rule!("hometown.come_from", ["i", "come|hail", "from"], Hometown, Assert, Place, 0.9),
    rule!("hometown.grew_up_in", ["i", "grew", "up", "in"], Hometown, Assert, Place, 0.9),
    rule!("hometown.grew_up", ["i", "grew", "up"], Hometown, Assert, PlaceAfterIn, 0.8),
    rule!("hometown.born_and_raised_in", ["i", "was", "born", "and", "raised", "in"], Hometown, Assert, Place, 0.9),
    rule!("hometown.born_and_raised_fragment", ["born", "and", "raised", "in"], Hometown, Assert, Place, 0.8),
    rule!("hometown.raised_in", ["i", "was", "raised", "in"], Hometown, Assert, Place, 0.85),
    rule!("hometown.born_in", ["i", "was", "born", "in"], Hometown, Assert, Place, 0.9),
    rule!("hometown.born_in_fragment", ["born", "in"], Hometown, Assert, Place, 0.75),
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
    rule!("job_title.teach", ["i", "teach|tutor"], JobTitle, Assert, Teach, 0.75),
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
    rule!("dislikes.not_into", ["i", "am", "not", "?big|really|too|that|very|super|huge", "into"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.not_fan_noun", ["i", "am", "not", "a|an|the", "?big|huge|massive|great|total|biggest"], Dislikes, Assert, NotFanNoun, 0.75),
    rule!("employer.do_work_for", ["i", "do"], Employer, Assert, WorkFor, 0.75),
    // "I don't love competition": a mild dislike, still one.
    rule!("dislikes.do_not_like", ["i", "do", "not", "like|enjoy|love"], Dislikes, Assert, Phrases, 0.75),
    // "I didn't like Lord of the Flies": the user's verdict on something they met.
    rule!("dislikes.did_not_like", ["i", "did", "not", "like|enjoy|liked|enjoyed"], Dislikes, Assert, Phrases, 0.7),
    // "I'm not usually fond of kid actors".
    rule!("dislikes.not_fond_of", ["i", "am", "not", "?very|that|too|super|overly|usually|particularly", "fond", "of"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.not_fan_of", ["i", "am", "not", "a|the", "?big|huge|great|biggest", "fan", "of"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.hate", ["i", "hate|dislike|detest|loathe|despise|abhor"], Dislikes, Assert, Phrases, 0.85),
    rule!("dislikes.do_not_care_for", ["i", "do", "not", "care", "for"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.not_big_on", ["i", "am", "not", "?very|too|that|super", "big", "on"], Dislikes, Assert, Phrases, 0.75),
    rule!("dislikes.cant_stand", ["i", "can", "not", "stand|bear"], Dislikes, Assert, Phrases, 0.85),
    rule!("likes.fan_of", ["i", "am", "a|an|the", "?big|huge|massive|great|giant|total|true|biggest|avid|real|major|loyal|devoted|diehard|die-hard|longtime|long-time|lifelong|hardcore|rabid|proud|crazy", "fan", "of"], Likes, Assert, Phrases, 0.85),
    rule!("likes.fan_noun", ["i", "am", "a|an|the", "?big|huge|massive|great|giant|total|true|die-hard|diehard|biggest|avid|real|keen"], Likes, Assert, FanNoun, 0.8),
    rule!("likes.into", ["i", "am", "into"], Likes, Assert, Phrases, 0.8),
    rule!("likes.passionate_about", ["i", "am", "?most|so|very", "passionate|crazy|nuts", "about"], Likes, Assert, Phrases, 0.8),
    rule!("likes.obsessed_with", ["i", "am", "obsessed|infatuated|enamored|enamoured", "with"], Likes, Assert, Phrases, 0.75),
    // "I have a bit of an obsession with X", "I have a soft spot for X", "a passion for X".
    rule!("likes.have_passion_for", ["i", "have", "?of", "?a|an", "?soft|real|huge|big|deep", "obsession|passion|love|spot", "for|with"], Likes, Assert, Phrases, 0.75),
    rule!("likes.partial_to", ["i", "am", "partial", "to"], Likes, Assert, Phrases, 0.75),
    rule!("likes.addicted_to", ["i", "am", "addicted", "to"], Likes, Assert, Phrases, 0.7),
    rule!("likes.sucker_for", ["i", "am", "a", "?big|huge|total", "sucker", "for"], Likes, Assert, Phrases, 0.75),
    rule!("likes.big_on", ["i", "am", "?very|super|really", "big", "on|into"], Likes, Assert, Phrases, 0.75),
    rule!("likes.all_about", ["i", "am", "all", "about"], Likes, Assert, Phrases, 0.7),
    rule!("likes.dig", ["i", "dig"], Likes, Assert, Phrases, 0.7),
    rule!("likes.fond_of", ["i", "am", "fond", "of"], Likes, Assert, Phrases, 0.8),
    rule!("likes.like", ["i", "like|love|enjoy|adore"], Likes, Assert, Phrases, 0.85),
    rule!("likes.play", ["i", "play"], Likes, Assert, Play, 0.75),
    rule!("likes.go_doing", ["i", "go"], Likes, Assert, GoDoing, 0.7),
    rule!("likes.collect", ["i", "collect"], Likes, Assert, Collect, 0.75),
    rule!("likes.spend_time", ["i", "spend"], Likes, Assert, SpendTime, 0.7),
    rule!("likes.do_a_lot", ["i", "read|cook|bake|hike|swim|run|travel|draw|paint|write|sing|dance|fish|hunt|camp|knit|sew|garden|bike|ski|surf|skate|golf|shop|crochet|journal|game"], Likes, Assert, ALot, 0.7),
    rule!("likes.a_lot_of", ["i", "drink|eat|watch|read|listen|play"], Likes, Assert, ALotOf, 0.7),
    rule!("likes.find_myself_enjoying", ["i", "find", "myself", "enjoying|loving|liking"], Likes, Assert, Phrases, 0.75),
    // "I've always loved the environment", "I have really enjoyed learning C++".
    rule!("likes.have_loved", ["i", "have", "loved|enjoyed|liked|adored"], Likes, Assert, Phrases, 0.8),
    rule!("likes.always_loved", ["i", "always", "loved|enjoyed|liked|adored"], Likes, Assert, Phrases, 0.75),
    rule!("likes.my_hobby_is", ["my", "?favorite|favourite|main|only|biggest|new", "hobby|hobbies|pastime|pastimes|passion|passions", "is|are|include|includes|would"], Likes, Assert, Hobby, 0.85),
    rule!("likes.one_of_my_hobbies", ["one", "of", "my", "?favorite|favourite|main|biggest", "hobbies|pastimes|passions", "is"], Likes, Assert, Hobby, 0.8),
    rule!("likes.favorite", ["my", "?all-time|absolute", "favorite|favourite|fave|fav|favorites|favourites|faves|favs"], Likes, Assert, Favorite, 0.85),
    rule!("likes.one_of_my_favorite", ["one", "of", "my", "?all-time|absolute", "favorite|favourite|fave|fav|favorites|favourites|faves|favs"], Likes, Assert, Favorite, 0.8),
    rule!("dislikes.least_favorite", ["my", "least", "favorite|favourite|fave|fav"], Dislikes, Assert, Favorite, 0.8),
    rule!("likes.favorite_bare", ["favorite|favourite|fave|fav"], Likes, Assert, Favorite, 0.75),
    // ---- pets and family (possession); "my cat Miso" is handled outside the table
    rule!("allergy.have_allergy_to", ["i", "have", "?a|an", "?severe|bad|mild|serious", "allergy|allergies", "to"], Allergy, Assert, Allergens, 0.9),
    rule!("pet.no_longer_have", ["i|we", "no", "longer", "have|own"], Pet, Retraction, HaveNp, 0.8),
    rule!("pet.have_got", ["i|we", "have", "got"], Pet, Assert, HaveNp, 0.85),
    rule!("pet.have", ["i|we", "have|own|adopted|got|rescued|bought"], Pet, Assert, HaveNp, 0.85),
    rule!("allergy.have_x_allergy", ["i", "have"], Allergy, Assert, AllergyNoun, 0.85),
    rule!("family.married_to", ["i", "am", "married|engaged", "to"], Family, Assert, Spouse, 0.85),
    // ---- language
    rule!("language.speak", ["i", "?can", "speak"], Language, Assert, Langs, 0.9),
    rule!("language.fluent_in", ["i", "am", "fluent|semi-fluent|bilingual|trilingual|conversational|proficient", "in"], Language, Assert, Langs, 0.9),
    // "I'm not fluent in Spanish yet": the user speaks it, however well.
    rule!("language.not_fluent_in", ["i", "am", "not", "?yet", "fluent|conversational", "in"], Language, Assert, Langs, 0.75),
    rule!("language.native_speaker", ["i", "am", "a", "native"], Language, Assert, NativeSpeaker, 0.9),
    rule!("language.native_language", ["my", "native|first|mother|home|primary", "language|tongue", "is|are"], Language, Assert, Langs, 0.95),
    rule!("language.know", ["i", "?also", "know"], Language, Assert, Langs, 0.75),
    rule!("language.learned", ["i", "?have", "learned|learnt"], Language, Assert, Langs, 0.7),
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
    rule!("family.parent_of", ["i", "am", "a|an", "?proud|single|busy|working|young"], Family, Assert, ParentOf, 0.8),
    rule!("job_title.i_am_a", ["i", "am", "a|an"], JobTitle, Assert, JobLex, 0.85),
    rule!("job_title.i_am_the", ["i", "am", "the"], JobTitle, Assert, JobLex, 0.8),
    rule!("age.i_am", ["i", "am"], Age, Assert, Age, 0.9),
    rule!("name.i_am", ["i", "am"], Name, Assert, NameStrict, 0.8, INTRO),
];
