//! Closed word lists the rules validate values against. Every function takes a word already
//! normalised by `text` (lowercase, `'` apostrophes) and answers from a `match`, so lookups
//! are branch tables with no allocation and no start-up cost.
//!
//! The lists are deliberately small and English-only: they exist to reject false positives
//! ("I'm tired" is not a name, "I have a cold" is not a pet), not to be exhaustive. They
//! must never grow into data loaded at run time.

/// Token classes computed once per word at tokenisation, so the per-rule matching loop and
/// the sentence filters test a bit instead of re-matching strings.
pub(crate) mod class {
    /// An adverb that may sit inside a pattern ("I REALLY love", "I'm NOW based in").
    pub const FILLER: u8 = 1;
    /// First word of a two-word filler ("a bit", "kind of", "pretty much").
    pub const FILLER2: u8 = 2;
    /// Opens a hypothetical or a wish ("if", "imagine", "wish").
    pub const HYPO: u8 = 4;
    /// "let" — hypothetical only as "let's say" / "let us".
    pub const HYPO_LET: u8 = 8;
    /// A reporting verb ("said", "told"): reported speech unless the subject is "I".
    pub const REPORT: u8 = 16;
    /// Always introduces someone else's claim ("according to").
    pub const REPORT_ALWAYS: u8 = 32;
}

use class::*;

/// Words with a class. Looked up through [`CLASS_SLOTS`], built from this at compile time.
const CLASSES: &[(&str, u8)] = &[
    ("a", FILLER2),
    ("absolutely", FILLER),
    ("absolutly", FILLER),
    ("according", REPORT_ALWAYS),
    ("actually", FILLER),
    ("already", FILLER),
    ("also", FILLER),
    ("always", FILLER),
    ("asked", REPORT),
    ("asks", REPORT),
    ("assume", HYPO),
    ("assuming", HYPO),
    ("badly", FILLER),
    ("basically", FILLER),
    ("believed", REPORT),
    ("believes", REPORT),
    ("both", FILLER),
    ("certainly", FILLER),
    ("claimed", REPORT),
    ("claims", REPORT),
    ("completely", FILLER),
    ("currently", FILLER),
    ("dearly", FILLER),
    ("deathly", FILLER),
    ("deeply", FILLER),
    ("definitely", FILLER),
    ("do", FILLER),
    ("dream", HYPO),
    ("dreamed", HYPO),
    ("dreaming", HYPO),
    ("dreams", HYPO),
    ("dreamt", HYPO),
    ("effing", FILLER),
    ("especially", FILLER),
    ("even", FILLER),
    ("extremely", FILLER),
    ("fictional", HYPO),
    ("finally", FILLER),
    ("freakin", FILLER),
    ("freaking", FILLER),
    ("fricken", FILLER),
    ("frickin", FILLER),
    ("fricking", FILLER),
    ("friggin", FILLER),
    ("frigging", FILLER),
    ("fuckin", FILLER),
    ("fucking", FILLER),
    ("full-time", FILLER),
    ("fully", FILLER),
    ("generally", FILLER),
    ("genuinely", FILLER),
    ("happily", FILLER),
    ("hella", FILLER),
    ("highly", FILLER),
    ("honestly", FILLER),
    ("hugely", FILLER),
    ("hypothetically", HYPO),
    ("if", HYPO),
    ("imagine", HYPO),
    ("imagining", HYPO),
    ("immensely", FILLER),
    ("incredibly", FILLER),
    ("informed", REPORT),
    ("insisted", REPORT),
    ("insists", REPORT),
    ("just", FILLER),
    ("kind", FILLER2),
    ("kinda", FILLER),
    ("legit", FILLER),
    ("let", HYPO_LET),
    ("literally", FILLER),
    ("low-key", FILLER),
    ("lowkey", FILLER),
    ("madly", FILLER),
    ("mainly", FILLER),
    ("maybe", HYPO),
    ("mentioned", REPORT),
    ("mentions", REPORT),
    ("mildly", FILLER),
    ("mostly", FILLER),
    ("newly", FILLER),
    ("now", FILLER),
    ("officially", FILLER),
    ("only", FILLER),
    ("originally", FILLER),
    ("part-time", FILLER),
    ("particularly", FILLER),
    ("perhaps", HYPO),
    ("personally", FILLER),
    ("positively", FILLER),
    ("pretend", HYPO),
    ("pretending", HYPO),
    ("pretty", FILLER2),
    ("proudly", FILLER),
    ("quite", FILLER),
    ("realllly", FILLER),
    ("reallly", FILLER),
    ("really", FILLER),
    ("realy", FILLER),
    ("recently", FILLER),
    ("reckons", REPORT),
    ("remotely", FILLER),
    ("replied", REPORT),
    ("rly", FILLER),
    ("role-play", HYPO),
    ("roleplay", HYPO),
    ("said", REPORT),
    ("say", REPORT),
    ("says", REPORT),
    ("secretly", FILLER),
    ("seriously", FILLER),
    ("severely", FILLER),
    ("simply", FILLER),
    ("sincerely", FILLER),
    ("slightly", FILLER),
    ("so", FILLER),
    ("someday", HYPO),
    ("somehow", FILLER),
    ("somewhat", FILLER),
    ("soo", FILLER),
    ("sort", FILLER2),
    ("sorta", FILLER),
    ("still", FILLER),
    ("strictly", FILLER),
    ("super", FILLER),
    ("suppose", HYPO),
    ("supposing", HYPO),
    ("swears", REPORT),
    ("swore", REPORT),
    ("technically", FILLER),
    ("tell", REPORT),
    ("tells", REPORT),
    ("terribly", FILLER),
    ("texted", REPORT),
    ("thinks", REPORT),
    ("thoroughly", FILLER),
    ("told", REPORT),
    ("totally", FILLER),
    ("truly", FILLER),
    ("unless", HYPO),
    ("usually", FILLER),
    ("utterly", FILLER),
    ("very", FILLER),
    ("whether", HYPO),
    ("wholeheartedly", FILLER),
    ("wish", HYPO),
    ("wished", HYPO),
    ("wishing", HYPO),
    ("writes", REPORT),
    ("wrote", REPORT),
];

/// FNV-1a: a tiny, `const`-evaluable hash for the compile-time tables.
pub(crate) const fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

const SLOTS: usize = 1024;

/// Open-addressing table over [`CLASSES`]: slot value = index + 1, 0 = empty. Most tokens
/// are in no class, so a lookup is one hash and usually no string compare at all.
const CLASS_SLOTS: [u16; SLOTS] = {
    let mut slots = [0u16; SLOTS];
    let mut n = 0;
    while n < CLASSES.len() {
        let mut i = (fnv1a(CLASSES[n].0.as_bytes()) % SLOTS as u64) as usize;
        while slots[i] != 0 {
            i = (i + 1) % SLOTS;
        }
        slots[i] = (n + 1) as u16;
        n += 1;
    }
    slots
};

pub(crate) fn classify(w: &str) -> u8 {
    let mut i = (fnv1a(w.as_bytes()) % SLOTS as u64) as usize;
    // The table is under a quarter full, so probing always reaches an empty slot.
    loop {
        let e = CLASS_SLOTS[i] as usize;
        if e == 0 {
            return 0;
        }
        let (word, class) = CLASSES[e - 1];
        if word == w {
            return class;
        }
        i = (i + 1) % SLOTS;
    }
}

#[cfg(test)]
pub(crate) fn classes_round_trip() -> bool {
    CLASSES.iter().all(|&(w, c)| classify(w) == c)
        && CLASSES.windows(2).all(|p| p[0].0 < p[1].0)
        && classify("xylophone") == 0
        && classify("") == 0
}

/// Titles and short forms whose trailing dot does not end a sentence.
#[rustfmt::skip]
pub(crate) fn is_abbreviation(w: &str) -> bool {
    matches!(
        w,
        "dr" | "mr" | "mrs" | "ms" | "st" | "mt" | "prof" | "jr" | "sr" | "vs" | "etc"
            | "approx" | "dept" | "ft" | "ave" | "gen" | "col" | "capt" | "lt" | "sgt" | "rev"
            | "no"
    )
}

/// Words that, capitalised or not, are not a person's name after "I'm" / "this is".
#[rustfmt::skip]
pub(crate) fn is_not_a_name(w: &str) -> bool {
    matches!(
        w,
        "sorry" | "fine" | "good" | "great" | "okay" | "ok" | "back" | "here" | "there" | "done"
            | "ready" | "not" | "just" | "so" | "very" | "really" | "home" | "happy" | "tired"
            | "glad" | "sure" | "bored" | "hungry" | "busy" | "free" | "lost" | "confused"
            | "new" | "old" | "alive" | "late" | "early" | "afraid" | "also" | "still"
            | "always" | "never" | "almost" | "the" | "a" | "an" | "in" | "on" | "at" | "from"
            | "with" | "out" | "off" | "up" | "down" | "human" | "male" | "female" | "gay"
            | "straight" | "single" | "married" | "divorced" | "retired" | "pregnant" | "hi"
            | "hello" | "hey" | "yes" | "no" | "sir" | "madam" | "me" | "him" | "her" | "it"
            | "this" | "that" | "you" | "your" | "my" | "his" | "our" | "their" | "what" | "who"
            | "how" | "and" | "or" | "but" | "thanks" | "thank" | "well" | "sick" | "ill"
            | "awake" | "asleep" | "excited" | "curious" | "nervous" | "worried" | "scared"
            | "sad" | "angry" | "mad" | "upset" | "bad" | "cool" | "awesome" | "amazing"
            | "perfect" | "right" | "wrong" | "correct" | "interested" | "open" | "available"
            | "online" | "offline" | "away" | "around" | "only" | "about" | "trying" | "going"
            | "looking" | "working" | "thinking" | "feeling" | "doing" | "being" | "getting"
            | "gonna" | "literally" | "finally" | "totally" | "kinda" | "sorta" | "like"
            | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday"
            | "today" | "tomorrow" | "tonight" | "god" | "jesus" | "lol" | "haha" | "omg"
            | "wow" | "yeah" | "yep" | "nope" | "btw" | "everyone" | "someone" | "anyone"
            | "nobody" | "somebody" | "team" | "support" | "admin" | "user" | "guest"
            | "anonymous" | "unknown" | "secret" | "private" | "none" | "nothing" | "n/a"
            | "important" | "irrelevant" | "classified" | "agnostic" | "atheist" | "vegan"
            | "vegetarian" | "english" | "white" | "black" | "asian" | "latino" | "latina"
            | "hispanic" | "gen" | "millennial" | "boomer" | "part" | "international"
            | "kind" | "sort" | "one" | "half" | "more" | "less" | "all" | "both" | "someone's"
    )
}

/// Nationalities, religions and similar adjectives that are capitalised in English and
/// so look like names after "I'm".
#[rustfmt::skip]
pub(crate) fn is_demonym_or_creed(w: &str) -> bool {
    matches!(
        w,
        "american" | "british" | "english" | "scottish" | "welsh" | "irish" | "french"
            | "german" | "spanish" | "portuguese" | "italian" | "dutch" | "belgian" | "swiss"
            | "austrian" | "swedish" | "norwegian" | "danish" | "finnish" | "icelandic"
            | "polish" | "czech" | "slovak" | "hungarian" | "romanian" | "bulgarian" | "greek"
            | "turkish" | "russian" | "ukrainian" | "belarusian" | "serbian" | "croatian"
            | "bosnian" | "slovenian" | "albanian" | "lithuanian" | "latvian" | "estonian"
            | "canadian" | "mexican" | "brazilian" | "argentinian" | "argentine" | "chilean"
            | "colombian" | "peruvian" | "venezuelan" | "cuban" | "puerto" | "dominican"
            | "jamaican" | "haitian" | "chinese" | "japanese" | "korean" | "vietnamese" | "thai"
            | "filipino" | "filipina" | "indonesian" | "malaysian" | "singaporean" | "indian"
            | "pakistani" | "bangladeshi" | "sri" | "nepali" | "nepalese" | "afghan" | "iranian"
            | "persian" | "iraqi" | "syrian" | "lebanese" | "jordanian" | "israeli"
            | "palestinian" | "saudi" | "emirati" | "egyptian" | "moroccan" | "algerian"
            | "tunisian" | "libyan" | "nigerian" | "ghanaian" | "kenyan" | "ethiopian"
            | "somali" | "ugandan" | "tanzanian" | "south" | "north" | "australian" | "kiwi"
            | "european" | "african" | "asian" | "arab" | "latino" | "latina" | "hispanic"
            | "caucasian" | "native" | "christian" | "catholic" | "protestant" | "orthodox"
            | "jewish" | "muslim" | "islamic" | "buddhist" | "hindu" | "sikh" | "mormon"
            | "pagan" | "agnostic" | "atheist" | "democrat" | "republican" | "liberal"
            | "conservative" | "libertarian" | "socialist" | "aries" | "taurus" | "gemini"
            | "cancer" | "virgo" | "libra" | "scorpio" | "sagittarius" | "capricorn"
            | "aquarius" | "pisces" | "samoan" | "tongan" | "fijian" | "hawaiian" | "maori"
            | "polynesian" | "navajo" | "cherokee" | "irish-american" | "mexican-american"
    )
}

/// Names of places that "I left X" / "I joined X" must not read as employers.
#[rustfmt::skip]
pub(crate) fn is_well_known_place(w: &str) -> bool {
    matches!(
        w,
        "london" | "paris" | "berlin" | "rome" | "madrid" | "lisbon" | "porto" | "barcelona"
            | "amsterdam" | "dublin" | "vienna" | "prague" | "budapest" | "warsaw" | "moscow"
            | "istanbul" | "athens" | "stockholm" | "oslo" | "copenhagen" | "helsinki"
            | "brussels" | "zurich" | "geneva" | "munich" | "milan" | "new" | "los" | "san"
            | "chicago" | "boston" | "seattle" | "toronto" | "vancouver" | "montreal" | "tokyo"
            | "beijing" | "shanghai" | "seoul" | "singapore" | "sydney" | "melbourne" | "dubai"
            | "mumbai" | "delhi" | "cairo" | "lagos" | "nairobi" | "england" | "scotland"
            | "wales" | "ireland" | "france" | "germany" | "spain" | "portugal" | "italy"
            | "canada" | "mexico" | "brazil" | "argentina" | "china" | "japan" | "india"
            | "australia" | "russia" | "texas" | "california" | "florida" | "europe" | "asia"
            | "africa" | "america" | "home" | "town" | "school" | "college" | "university"
            | "uk" | "us" | "usa"
    )
}

/// Things "I'm from X" / "I left X" commonly mean that are not places or employers.
#[rustfmt::skip]
pub(crate) fn is_department_or_generic(w: &str) -> bool {
    matches!(
        w,
        "it" | "hr" | "support" | "sales" | "marketing" | "finance" | "legal" | "accounting"
            | "engineering" | "ops" | "operations" | "security" | "management" | "billing"
            | "team" | "here" | "there" | "home" | "work" | "school" | "myself" | "yourself"
            | "everywhere" | "nowhere" | "somewhere" | "anywhere" | "future" | "past"
    )
}

/// Head nouns of job titles ("senior software ENGINEER").
#[rustfmt::skip]
pub(crate) fn is_job_head(w: &str) -> bool {
    matches!(
        w,
        "accountant" | "actor" | "actress" | "actuary" | "administrator" | "admin" | "agent"
            | "homemaker" | "housewife" | "househusband"
            | "analyst" | "animator" | "apprentice" | "architect" | "archivist" | "artist"
            | "assistant" | "astronomer" | "athlete" | "attendant" | "attorney" | "auditor"
            | "author" | "baker" | "banker" | "barber" | "barista" | "barrister" | "bartender"
            | "biologist" | "blogger" | "bookkeeper" | "bricklayer" | "broker" | "builder"
            | "butcher" | "buyer" | "caregiver" | "carer" | "carpenter" | "cashier" | "ceo"
            | "cfo" | "chef" | "chemist" | "cleaner" | "clerk" | "coach" | "coder"
            | "co-founder" | "cofounder" | "comedian" | "composer" | "consultant" | "contractor"
            | "cook" | "coo" | "coordinator" | "cop" | "copywriter" | "counselor" | "counsellor"
            | "courier" | "cto" | "curator" | "custodian" | "dancer" | "dentist" | "designer"
            | "detective" | "dev" | "developer" | "dietitian" | "dietician" | "director"
            | "dispatcher" | "dj" | "doctor" | "driver" | "drummer" | "economist" | "editor"
            | "educator" | "electrician" | "emt" | "engineer" | "entrepreneur" | "executive"
            | "farmer" | "filmmaker" | "firefighter" | "fisherman" | "florist" | "footballer"
            | "founder" | "freelancer" | "gardener" | "geologist" | "guard" | "guitarist"
            | "hairdresser" | "historian" | "housekeeper" | "hygienist" | "illustrator"
            | "instructor" | "intern" | "interpreter" | "investor" | "janitor" | "journalist"
            | "judge" | "landscaper" | "lawyer" | "lead" | "lecturer" | "librarian"
            | "lifeguard" | "linguist" | "machinist" | "manager" | "marketer" | "mathematician"
            | "mechanic" | "midwife" | "miner" | "model" | "musician" | "nanny" | "nurse"
            | "officer" | "optician" | "optometrist" | "owner" | "painter" | "paralegal"
            | "paramedic" | "pastor" | "pharmacist" | "photographer" | "physician" | "physicist"
            | "physiotherapist" | "pianist" | "pilot" | "planner" | "plumber" | "podcaster"
            | "poet" | "policeman" | "policewoman" | "postdoc" | "practitioner" | "president"
            | "priest" | "principal" | "producer" | "professor" | "programmer" | "psychiatrist"
            | "psychologist" | "rabbi" | "rancher" | "realtor" | "receptionist" | "recruiter"
            | "representative" | "reporter" | "researcher" | "roofer" | "sailor" | "salesman"
            | "salesperson" | "saleswoman" | "scientist" | "secretary" | "sergeant" | "singer"
            | "soldier" | "solicitor" | "songwriter" | "specialist" | "sre" | "statistician"
            | "steward" | "stewardess" | "strategist" | "streamer" | "student" | "supervisor"
            | "surgeon" | "surveyor" | "sysadmin" | "tailor" | "teacher" | "technician"
            | "tester" | "therapist" | "trader" | "trainer" | "translator" | "trucker" | "tutor"
            | "veterinarian" | "vet" | "videographer" | "violinist" | "vp" | "waiter"
            | "waitress" | "welder" | "worker" | "writer" | "youtuber" | "zookeeper"
    )
}

/// Species and breeds accepted as pets ("I have a DOG", "a golden RETRIEVER").
#[rustfmt::skip]
pub(crate) fn is_species(w: &str) -> bool {
    matches!(
        w,
        "dog" | "cat" | "puppy" | "kitten" | "kitty" | "hamster" | "rabbit" | "bunny" | "parrot"
            | "bird" | "fish" | "goldfish" | "turtle" | "tortoise" | "snake" | "lizard"
            | "gecko" | "iguana" | "ferret" | "horse" | "pony" | "rat" | "mouse" | "chinchilla"
            | "hedgehog" | "budgie" | "parakeet" | "cockatiel" | "canary" | "axolotl" | "frog"
            | "chicken" | "hen" | "goat" | "pig" | "donkey" | "alpaca" | "llama" | "tarantula"
            | "retriever" | "labrador" | "lab" | "poodle" | "beagle" | "terrier" | "bulldog"
            | "husky" | "corgi" | "dachshund" | "chihuahua" | "pug" | "shepherd" | "collie"
            | "spaniel" | "greyhound" | "rottweiler" | "pitbull" | "doberman" | "schnauzer"
            | "tabby" | "siamese" | "persian" | "maine" | "coon" | "ragdoll" | "cockatoo"
            | "guinea"
    )
}

/// What "I play ..." names as a pastime: an instrument, a sport or a game ("I play a
/// doctor on TV" names none).
#[rustfmt::skip]
pub(crate) fn is_played(w: &str) -> bool {
    matches!(
        w,
        "guitar" | "guitars" | "piano" | "violin" | "drums" | "drum" | "bass" | "cello" | "flute"
            | "saxophone" | "sax" | "trumpet" | "clarinet" | "ukulele" | "uke" | "harp"
            | "keyboard" | "keyboards" | "viola" | "trombone" | "banjo" | "harmonica"
            | "accordion" | "oboe" | "tuba" | "mandolin" | "organ" | "bagpipes" | "instruments"
            | "soccer" | "football" | "basketball" | "baseball" | "tennis" | "golf" | "hockey"
            | "volleyball" | "softball" | "rugby" | "cricket" | "lacrosse" | "badminton"
            | "chess" | "poker" | "cards" | "pool" | "darts" | "frisbee" | "pickleball"
            | "racquetball" | "squash" | "handball" | "ping-pong" | "pingpong" | "sports"
            | "games" | "videogames" | "minecraft" | "fortnite" | "checkers" | "monopoly"
            | "bridge" | "ball" | "dnd" | "pokemon" | "roblox" | "overwatch" | "tetris"
    )
}

/// Pastimes said as "I go <...>ing": "i go hiking", "I go fishing with my dad".
#[rustfmt::skip]
pub(crate) fn is_go_pastime(w: &str) -> bool {
    matches!(
        w,
        "hiking" | "fishing" | "camping" | "running" | "swimming" | "shopping" | "bowling"
            | "skiing" | "snowboarding" | "surfing" | "dancing" | "biking" | "cycling"
            | "kayaking" | "climbing" | "bouldering" | "skating" | "skateboarding" | "hunting"
            | "sailing" | "jogging" | "rollerblading" | "canoeing" | "boating" | "golfing"
            | "sledding" | "clubbing" | "thrifting" | "antiquing" | "birdwatching"
            | "backpacking" | "rafting" | "diving" | "snorkeling" | "riding" | "rock-climbing"
    )
}

/// Verbs that name a pastime, so that in "I like to read and hike" the second item reads
/// as "hiking" too.
#[rustfmt::skip]
pub(crate) fn is_activity_verb(w: &str) -> bool {
    matches!(
        w,
        "read" | "write" | "hike" | "swim" | "cook" | "bake" | "draw" | "paint" | "sing"
            | "dance" | "run" | "play" | "watch" | "travel" | "shop" | "spend" | "go"
            | "hang" | "eat" | "sleep" | "fish" | "hunt" | "camp" | "ski" | "snowboard" | "surf"
            | "climb" | "bike" | "ride" | "knit" | "sew" | "garden" | "build" | "make" | "learn"
            | "study" | "listen" | "talk" | "meet" | "explore" | "chat" | "code" | "program"
            | "drive" | "walk" | "jog" | "lift" | "help" | "teach" | "visit" | "collect"
            | "design" | "skate" | "golf" | "bowl" | "kayak" | "sail" | "boulder" | "craft"
            | "journal" | "blog" | "film" | "edit" | "tinker" | "relax" | "shoot" | "sketch"
            | "compose" | "practice" | "volunteer" | "serve" | "stay" | "work" | "try" | "see"
    )
}

/// Family relations ("my WIFE is Marie").
#[rustfmt::skip]
pub(crate) fn is_relation(w: &str) -> bool {
    matches!(
        w,
        "wife" | "husband" | "son" | "daughter" | "sister" | "brother" | "mother" | "father"
            | "mom" | "mum" | "mommy" | "mummy" | "mama" | "dad" | "daddy" | "papa" | "partner"
            | "spouse" | "girlfriend" | "boyfriend" | "fiance" | "fiancee" | "fiancé"
            | "fiancée" | "grandmother" | "grandfather" | "grandma" | "grandpa" | "granny"
            | "grandson" | "granddaughter" | "aunt" | "uncle" | "cousin" | "niece" | "nephew"
            | "stepson" | "stepdaughter" | "stepmother" | "stepfather" | "stepmom" | "stepdad"
            | "stepsister" | "stepbrother" | "half-brother" | "half-sister" | "twin" | "kid"
            | "child" | "baby" | "kids" | "children" | "sons" | "daughters" | "sisters"
            | "brothers" | "parents" | "grandchildren" | "grandkids" | "bro" | "sis" | "hubby"
            | "sibling" | "siblings" | "grandparents" | "stepkids" | "twins" | "fiancé(e)"
    )
}

/// Modifiers allowed between "my" and a relation or species ("my OLDER brother").
#[rustfmt::skip]
pub(crate) fn is_kin_modifier(w: &str) -> bool {
    matches!(
        w,
        "older" | "younger" | "little" | "big" | "baby" | "eldest" | "oldest" | "youngest"
            | "middle" | "twin" | "late" | "lovely" | "sweet" | "cute" | "old" | "new"
            | "adorable" | "beautiful" | "wonderful" | "amazing" | "two" | "three" | "black"
            | "white" | "grey" | "gray" | "orange" | "golden" | "fluffy" | "lazy" | "rescue"
            | "pet" | "small" | "tiny" | "huge" | "first" | "second" | "only" | "german"
            | "border" | "jack" | "russell" | "french" | "english" | "yorkshire" | "cocker"
            | "bearded" | "leopard" | "corn" | "ball" | "bengal" | "sphynx" | "pig" | "dwarf"
            | "lop" | "labrador" | "great" | "dane" | "siberian" | "australian" | "one" | "half"
            | "step" | "full" | "blood" | "real" | "new-born" | "newborn"
    )
}

/// Languages for "I speak X".
#[rustfmt::skip]
pub(crate) fn is_language(w: &str) -> bool {
    matches!(
        w,
        "english" | "spanish" | "french" | "german" | "italian" | "portuguese" | "dutch"
            | "flemish" | "russian" | "chinese" | "mandarin" | "cantonese" | "japanese"
            | "korean" | "arabic" | "hindi" | "urdu" | "bengali" | "bangla" | "punjabi"
            | "tamil" | "telugu" | "marathi" | "gujarati" | "kannada" | "malayalam" | "turkish"
            | "persian" | "farsi" | "polish" | "ukrainian" | "czech" | "slovak" | "hungarian"
            | "romanian" | "bulgarian" | "greek" | "swedish" | "norwegian" | "danish"
            | "finnish" | "icelandic" | "hebrew" | "yiddish" | "vietnamese" | "thai"
            | "indonesian" | "malay" | "tagalog" | "filipino" | "swahili" | "amharic" | "yoruba"
            | "igbo" | "hausa" | "zulu" | "xhosa" | "afrikaans" | "catalan" | "basque"
            | "galician" | "welsh" | "irish" | "gaelic" | "latin" | "esperanto" | "serbian"
            | "croatian" | "bosnian" | "slovenian" | "macedonian" | "albanian" | "lithuanian"
            | "latvian" | "estonian" | "armenian" | "georgian" | "kazakh" | "uzbek"
            | "mongolian" | "nepali" | "sinhala" | "burmese" | "khmer" | "lao" | "pashto"
            | "kurdish" | "somali" | "maltese" | "luxembourgish" | "asl" | "bsl" | "creole"
            | "quechua" | "guarani" | "hawaiian" | "maori" | "sanskrit" | "cambodian" | "tongan"
            | "samoan" | "hmong" | "cebuano" | "ilocano" | "haitian" | "taiwanese" | "hokkien"
            | "klingon" | "elvish" | "sindarin" | "quenya" | "dothraki" | "fijian" | "tahitian"
            | "navajo" | "cherokee" | "lakota" | "tibetan" | "uyghur"
    )
}

/// Words that qualify a spoken language and are not part of it ("a bit of", "fluent").
#[rustfmt::skip]
pub(crate) fn is_language_qualifier(w: &str) -> bool {
    matches!(
        w,
        "fluent" | "basic" | "conversational" | "native" | "some" | "a" | "bit" | "of"
            | "little" | "decent" | "good" | "bad" | "broken" | "passable" | "intermediate"
            | "beginner" | "advanced" | "business" | "also" | "perfect" | "rusty" | "fairly"
            | "pretty" | "very" | "okay" | "ok" | "enough" | "only" | "both" | "even"
    )
}

/// Diet labels ("I'm VEGAN").
#[rustfmt::skip]
pub(crate) fn is_diet(w: &str) -> bool {
    matches!(
        w,
        "vegetarian" | "vegan" | "pescatarian" | "pescetarian" | "flexitarian" | "keto"
            | "paleo" | "halal" | "kosher" | "gluten-free" | "dairy-free" | "lactose-free"
            | "plant-based" | "lacto-vegetarian" | "ovo-vegetarian" | "lacto-ovo" | "carnivore"
            | "low-carb" | "sugar-free"
    )
}

/// First words of two-word diets ("gluten free", "plant based", "low carb").
pub(crate) fn diet_pair(a: &str, b: &str) -> bool {
    matches!(
        (a, b),
        ("gluten", "free")
            | ("dairy", "free")
            | ("lactose", "free")
            | ("plant", "based")
            | ("low", "carb")
            | ("sugar", "free")
            | ("raw", "vegan")
    )
}

pub(crate) fn month(w: &str) -> Option<u8> {
    Some(match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

/// English number words up to 99, for "I'm twenty-one".
pub(crate) fn number_word(w: &str) -> Option<u32> {
    let unit = |u: &str| -> Option<u32> {
        Some(match u {
            "one" => 1,
            "two" => 2,
            "three" => 3,
            "four" => 4,
            "five" => 5,
            "six" => 6,
            "seven" => 7,
            "eight" => 8,
            "nine" => 9,
            _ => return None,
        })
    };
    let tens = |t: &str| -> Option<u32> {
        Some(match t {
            "twenty" => 20,
            "thirty" => 30,
            "forty" => 40,
            "fifty" => 50,
            "sixty" => 60,
            "seventy" => 70,
            "eighty" => 80,
            "ninety" => 90,
            _ => return None,
        })
    };
    if let Some(v) = unit(w).or_else(|| tens(w)) {
        return Some(v);
    }
    let teen = match w {
        "ten" => Some(10),
        "eleven" => Some(11),
        "twelve" => Some(12),
        "thirteen" => Some(13),
        "fourteen" => Some(14),
        "fifteen" => Some(15),
        "sixteen" => Some(16),
        "seventeen" => Some(17),
        "eighteen" => Some(18),
        "nineteen" => Some(19),
        _ => None,
    };
    if teen.is_some() {
        return teen;
    }
    let (t, u) = w.split_once('-')?;
    Some(tens(t)? + unit(u)?)
}

/// Short time zone abbreviations; accepted only where a time zone is plausible.
#[rustfmt::skip]
pub(crate) fn is_tz_abbrev(w: &str) -> bool {
    matches!(
        w,
        "utc" | "gmt" | "est" | "edt" | "cst" | "cdt" | "mst" | "mdt" | "pst" | "pdt" | "akst"
            | "akdt" | "hst" | "ast" | "adt" | "nst" | "ndt" | "bst" | "ist" | "cet" | "cest"
            | "eet" | "eest" | "wet" | "west" | "msk" | "jst" | "kst" | "aest" | "aedt" | "acst"
            | "acdt" | "awst" | "nzst" | "nzdt" | "sgt" | "hkt" | "pht" | "ict" | "wib" | "brt"
            | "art" | "clt" | "sast" | "wat" | "eat" | "pkt" | "et" | "pt" | "ct" | "mt"
    )
}

/// Region words of spelled-out zones ("Pacific time", "Central European Time").
#[rustfmt::skip]
pub(crate) fn is_tz_region(w: &str) -> bool {
    matches!(
        w,
        "pacific" | "mountain" | "central" | "eastern" | "atlantic" | "alaska" | "hawaii"
            | "greenwich" | "european" | "western" | "british" | "indian" | "japan" | "china"
            | "australian" | "moscow" | "standard" | "daylight" | "summer" | "mean"
    )
}

/// IANA area names ("Europe/Lisbon").
pub(crate) fn is_iana_area(w: &str) -> bool {
    matches!(
        w,
        "africa"
            | "america"
            | "antarctica"
            | "arctic"
            | "asia"
            | "atlantic"
            | "australia"
            | "europe"
            | "indian"
            | "pacific"
            | "etc"
    )
}

/// Fixed phrases joined by "and" that are one thing, not two ("mac and cheese").
pub(crate) fn is_and_compound(a: &str, b: &str) -> bool {
    matches!(
        (a, b),
        ("mac", "cheese")
            | ("macaroni", "cheese")
            | ("rock", "roll")
            | ("fish", "chips")
            | ("salt", "pepper")
            | ("bread", "butter")
            | ("black", "white")
            | ("rhythm", "blues")
            | ("dungeons", "dragons")
            | ("pen", "paper")
            | ("sweet", "sour")
            | ("tom", "jerry")
            | ("simon", "garfunkel")
            | ("peanut", "butter")
            | ("law", "order")
            | ("drum", "bass")
            | ("rice", "beans")
            | ("pride", "prejudice")
            | ("arts", "crafts")
            | ("hide", "seek")
            | ("hip", "hop")
            | ("bed", "breakfast")
            | ("cookies", "cream")
            | ("strawberries", "cream")
            | ("chips", "salsa")
            | ("eggs", "bacon")
            | ("bacon", "eggs")
            | ("surf", "turf")
            | ("bubble", "squeak")
            | ("harry", "meghan")
            | ("shrimp", "grits")
            | ("biscuits", "gravy")
            | ("chicken", "waffles")
            | ("butter", "jelly")
            | ("pb", "j")
            | ("trial", "error")
            | ("r", "b")
            | ("lilo", "stitch")
            | ("beauty", "the")
            | ("bill", "melinda")
            | ("romeo", "juliet")
            | ("ben", "jerry")
            | ("barnes", "noble")
            | ("salt", "vinegar")
            | ("hide", "go")
            | ("cops", "robbers")
    )
}
