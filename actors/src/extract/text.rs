//! Tokenisation and segmentation of one message: words and punctuation with their byte
//! spans, a normalised (lowercased, contraction-expanded) form of every word, sentence
//! boundaries and clause boundaries.
//!
//! Everything here works on byte offsets that come from `char_indices`, so every span is a
//! char boundary of the input. This module must never slice the input at an offset it did
//! not get from the input's own char boundaries, and never allocate per token: the
//! normalised forms live in one arena string per message.

use super::lexicon;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Word,
    /// One punctuation or symbol character (emoji included).
    Punct(char),
    /// A line break: always a sentence boundary in chat text.
    Newline,
}

/// Which quote role a quote character plays, decided from its position in the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    None,
    Open,
    Close,
    /// A straight double quote: opens or closes depending on the state.
    Toggle,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    /// Byte span of the token's surface in the input.
    pub start: usize,
    pub end: usize,
    /// Span of the normalised form in [`Doc::arena`].
    ns: usize,
    ne: usize,
    pub kind: TokenKind,
    pub quote: Quote,
    /// First character is uppercase ("Ana", "McDonald").
    pub cap: bool,
    /// Any uppercase letter ("eBay", "AT&T").
    pub has_upper: bool,
    /// Any lowercase letter.
    pub has_lower: bool,
    /// Any digit.
    pub has_digit: bool,
    /// [`lexicon::class`] bits of the normalised word.
    pub class: u8,
}

impl Tok {
    pub fn is_word(&self) -> bool {
        self.kind == TokenKind::Word
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct(c)
    }

    /// All letters uppercase and at least two of them ("EST", "IBM").
    pub fn all_caps(&self) -> bool {
        self.has_upper && !self.has_lower
    }
}

/// How much the message's capitalisation can be trusted as evidence of proper nouns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseMode {
    /// Ordinary writing: a capitalised word mid-sentence is probably a proper noun.
    Mixed,
    /// No usable case information (all lowercase, all caps, or Every Word Capitalised).
    Flat,
}

/// A sentence: a token range plus whether it ended with a question mark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sentence {
    pub start: usize,
    pub end: usize,
    pub question: bool,
}

pub(crate) struct Doc<'a> {
    pub text: &'a str,
    arena: String,
    pub toks: Vec<Tok>,
    pub case: CaseMode,
    /// No capital letter mid-sentence besides "I": the writer does not capitalise proper
    /// nouns ("I'm from texas"), so a lowercase value may still be a name or a place.
    pub lower_values: bool,
}

fn is_word_char(c: char) -> bool {
    // Combining marks keep decomposed letters ("José" as e + U+0301) inside one word.
    c.is_alphanumeric() || ('\u{0300}'..='\u{036f}').contains(&c)
}

/// Characters that may sit inside a word ("don't", "UTC+2", "ana.silva@x.com", "13/03")
/// but are trimmed off its edges.
fn is_soft(c: char) -> bool {
    matches!(
        c,
        '\'' | '’' | 'ʼ' | '‘' | '-' | '‐' | '.' | '@' | '+' | '/' | '&' | '_' | ':' | '%' | '#'
    )
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ')
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

fn is_invisible(c: char) -> bool {
    // Directional marks, zero-width joiners/spaces, BOM, variation selectors: layout only.
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{fe00}'..='\u{fe0f}')
}

impl<'a> Doc<'a> {
    pub fn new(text: &'a str) -> Doc<'a> {
        let mut doc = Doc {
            text,
            arena: String::with_capacity(text.len() + 16),
            toks: Vec::with_capacity(text.len() / 4 + 4),
            case: CaseMode::Mixed,
            lower_values: true,
        };
        doc.tokenize();
        doc.case = doc.case_mode();
        doc.lower_values = doc.case == CaseMode::Flat || !doc.capital_mid_sentence();
        doc
    }

    /// Normalised form of token `i` ("" for an out-of-range index).
    pub fn n(&self, i: usize) -> &str {
        match self.toks.get(i) {
            Some(t) => self.arena.get(t.ns..t.ne).unwrap_or(""),
            None => "",
        }
    }

    /// Surface text of token `i`.
    pub fn s(&self, i: usize) -> &'a str {
        match self.toks.get(i) {
            Some(t) => self.text.get(t.start..t.end).unwrap_or(""),
            None => "",
        }
    }

    fn push_punct(&mut self, start: usize, c: char, quote: Quote) {
        let kind = if is_break(c) {
            TokenKind::Newline
        } else {
            TokenKind::Punct(c)
        };
        let ns = self.arena.len();
        self.toks.push(Tok {
            start,
            end: start + c.len_utf8(),
            ns,
            ne: ns,
            kind,
            quote,
            cap: false,
            has_upper: false,
            has_lower: false,
            has_digit: false,
            class: 0,
        });
    }

    fn push_norm_word(&mut self, start: usize, end: usize, norm: &str, flags_from: &str) {
        let ns = self.arena.len();
        self.arena.push_str(norm);
        let ne = self.arena.len();
        self.push_word_tok(start, end, ns, ne, flags_from);
        if let Some(t) = self.toks.last_mut() {
            t.class = lexicon::classify(norm);
        }
    }

    fn push_word_tok(&mut self, start: usize, end: usize, ns: usize, ne: usize, flags_from: &str) {
        let mut cap = false;
        let mut has_upper = false;
        let mut has_lower = false;
        let mut has_digit = false;
        for (k, c) in flags_from.chars().enumerate() {
            if c.is_uppercase() {
                has_upper = true;
                if k == 0 {
                    cap = true;
                }
            } else if c.is_lowercase() {
                has_lower = true;
            } else if c.is_ascii_digit() {
                has_digit = true;
            }
        }
        self.toks.push(Tok {
            start,
            end,
            ns,
            ne,
            kind: TokenKind::Word,
            quote: Quote::None,
            cap,
            has_upper,
            has_lower,
            has_digit,
            class: 0,
        });
    }

    fn tokenize(&mut self) {
        let text = self.text;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if is_break(c) {
                // A run of line breaks is one boundary.
                if !matches!(self.toks.last(), Some(t) if t.kind == TokenKind::Newline) {
                    self.push_punct(i, c, Quote::None);
                }
            } else if c.is_whitespace() || c.is_control() || is_invisible(c) {
                continue;
            } else if is_word_char(c) || is_soft(c) {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if is_word_char(d) || is_soft(d) {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                self.chunk(i, end);
            } else {
                let quote = match c {
                    '"' | '＂' => Quote::Toggle,
                    '“' | '«' | '„' | '‹' => Quote::Open,
                    '”' | '»' | '›' => Quote::Close,
                    _ => Quote::None,
                };
                self.push_punct(i, c, quote);
            }
        }
    }

    /// Splits a run of word and soft characters into edge punctuation and one word.
    fn chunk(&mut self, a: usize, b: usize) {
        let s = &self.text[a..b];
        let first = s.char_indices().find(|&(_, c)| is_word_char(c));
        let Some((p, _)) = first else {
            for (k, c) in s.char_indices() {
                self.push_punct(a + k, c, Quote::None);
            }
            return;
        };
        let mut q = 0;
        for (k, c) in s.char_indices() {
            if is_word_char(c) {
                q = k + c.len_utf8();
            }
        }
        // Leading soft characters: an apostrophe here opens a quotation.
        for (k, c) in s[..p].char_indices() {
            let quote = if is_apostrophe(c) || c == '‘' {
                Quote::Open
            } else {
                Quote::None
            };
            self.push_punct(a + k, c, quote);
        }
        let mut wend = q;
        let tail = &s[q..];
        // "100%" keeps its sign; "U.S." and the initial "B." keep their dot.
        if tail.starts_with('%') || (tail.starts_with('.') && is_dotted_abbrev(&s[p..q])) {
            wend += 1;
        }
        self.word(a + p, a + wend);
        for (k, c) in s[wend..].char_indices() {
            let quote = if is_apostrophe(c) || c == '‘' {
                Quote::Close
            } else {
                Quote::None
            };
            self.push_punct(a + wend + k, c, quote);
        }
    }

    /// Pushes one word, expanding contractions into two normalised tokens.
    fn word(&mut self, start: usize, end: usize) {
        let surface = &self.text[start..end];
        let mut buf = [0u8; 48];
        let Some(norm) = normalise(surface, &mut buf) else {
            // Too long to be a pattern word (a URL, a long email): lowercase straight into
            // the arena; only values ever look at such a token.
            let ns = self.arena.len();
            for c in surface.chars() {
                self.arena.extend(c.to_lowercase());
            }
            let ne = self.arena.len();
            self.push_word_tok(start, end, ns, ne, surface);
            return;
        };
        let Some((base, second, cut)) = split_contraction(norm) else {
            self.push_norm_word(start, end, norm, surface);
            return;
        };
        if cut == 0 {
            // No visible split point ("cannot", "im"): both halves cover the whole surface.
            self.push_norm_word(start, end, base, surface);
            self.push_norm_word(start, end, second, "");
            return;
        }
        // `cut` counts normalised bytes from the end; the surface apostrophe may be ’.
        let split = surface_suffix_start(surface, cut);
        self.push_norm_word(start, start + split, base, &surface[..split]);
        self.push_norm_word(start + split, end, second, "");
    }

    fn case_mode(&self) -> CaseMode {
        let mut upper_initial = 0usize;
        let mut lower_initial = 0usize;
        let mut any_lower = false;
        let mut any_upper = false;
        for t in &self.toks {
            if t.kind != TokenKind::Word {
                continue;
            }
            any_lower |= t.has_lower;
            any_upper |= t.has_upper;
            if t.cap {
                upper_initial += 1;
            } else if t.has_lower {
                lower_initial += 1;
            }
        }
        if !any_upper || !any_lower {
            return CaseMode::Flat;
        }
        let words = upper_initial + lower_initial;
        if words >= 5 && lower_initial * 6 <= words {
            return CaseMode::Flat;
        }
        CaseMode::Mixed
    }

    /// Whether some word other than "I" is capitalised away from a sentence's start.
    fn capital_mid_sentence(&self) -> bool {
        let mut start = true;
        for (i, t) in self.toks.iter().enumerate() {
            match t.kind {
                TokenKind::Word => {
                    if t.has_upper
                        && !start
                        && self.n(i) != "i"
                        && t.start != self.toks[i - 1].start
                    {
                        return true;
                    }
                    start = false;
                }
                TokenKind::Newline
                | TokenKind::Punct('.' | '!' | '?' | '…' | '"' | '“' | '(' | ':') => {
                    start = true
                }
                TokenKind::Punct(_) => {}
            }
        }
        false
    }

    /// Sentence ranges over the token list.
    pub fn sentences(&self) -> Vec<Sentence> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        let n = self.toks.len();
        while i < n {
            if self.is_boundary(i) {
                let mut question = false;
                let mut j = i;
                while j < n && self.is_boundary_char(j) {
                    if matches!(self.toks[j].kind, TokenKind::Punct('?' | '？')) {
                        question = true;
                    }
                    j += 1;
                }
                if i > start {
                    out.push(Sentence {
                        start,
                        end: i,
                        question,
                    });
                }
                start = j;
                i = j;
            } else {
                i += 1;
            }
        }
        if start < n {
            out.push(Sentence {
                start,
                end: n,
                question: false,
            });
        }
        out
    }

    fn is_boundary_char(&self, i: usize) -> bool {
        matches!(
            self.toks[i].kind,
            TokenKind::Newline | TokenKind::Punct('.' | '!' | '?' | '…' | ';' | '？' | '！' | '。')
        )
    }

    fn is_boundary(&self, i: usize) -> bool {
        if !self.is_boundary_char(i) {
            return false;
        }
        if self.toks[i].kind == TokenKind::Punct('.') && i > 0 {
            let prev = &self.toks[i - 1];
            // "Dr. Smith", "St. Mary's": a dot glued to a title does not end the sentence.
            if prev.kind == TokenKind::Word
                && prev.end == self.toks[i].start
                && lexicon::is_abbreviation(self.n(i - 1))
                && i + 1 < self.toks.len()
                && self.toks[i + 1].kind == TokenKind::Word
            {
                return false;
            }
        }
        true
    }

    /// Clause ranges within a sentence. A comma, dash, colon or coordinating conjunction
    /// starts a new clause only when what follows opens one ("I", "my", "actually", a
    /// question word), so "Portland, Oregon" and "English and French" stay whole.
    pub fn clauses(&self, s: Sentence, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let mut start = s.start;
        let mut i = s.start;
        while i < s.end {
            let t = &self.toks[i];
            let is_sep = matches!(
                t.kind,
                TokenKind::Punct(',' | ':' | '-' | '—' | '–' | '(' | ')' | '，')
            );
            // "the town where I grew up ...": a relative clause about the user.
            let is_conj = t.kind == TokenKind::Word
                && (is_conj_word(self.n(i))
                    || (matches!(self.n(i), "where" | "why") && self.n(i + 1) == "i"));
            // "Me and my partner ...": one subject, not two clauses.
            let lone_me = i == start + 1 && self.n(start) == "me";
            // "My sister and I are twins": "I" shares a plural verb with what came before.
            let joint = is_conj
                && self.n(i) == "and"
                && matches!(self.n(i + 1), "i" | "me")
                && matches!(self.n(i + 2), "are" | "were" | "both" | "'re");
            let lone_me = lone_me || joint;
            // A run-on without punctuation: "that's too bad i really like nuts".
            if self.run_on_i(start, i, s.end) {
                out.push((start, i));
                start = i;
                i += 1;
                continue;
            }
            if (is_sep || is_conj) && i > start && !lone_me {
                let mut j = i + 1;
                // ", and I ..." / ", but my ...": the conjunction belongs to neither clause.
                if is_sep && j < s.end && is_conj_word(self.n(j)) {
                    j += 1;
                }
                // "... and live in Porto": a coordinated verb with the subject left out.
                let elided =
                    (is_conj || j > i + 1) && j < s.end && is_elided_subject_verb(self.n(j));
                if j < s.end && (self.opens_clause(j, s.end) || elided) {
                    out.push((start, i));
                    start = j;
                    i = j;
                    continue;
                }
            }
            i += 1;
        }
        if start < s.end {
            out.push((start, s.end));
        }
    }

    /// Whether a new clause starts at `i` with "I" and a verb, though nothing marks it: the word
    /// before must be one that ends a clause ("cool", "lol"), not "think", "if" or a noun.
    fn run_on_i(&self, start: usize, i: usize, end: usize) -> bool {
        if i <= start + 1 || self.toks[i].kind != TokenKind::Word || self.n(i) != "i" {
            return false;
        }
        let prev = &self.toks[i - 1];
        if prev.kind != TokenKind::Word || prev.start == self.toks[i].start {
            return false;
        }
        let verb = self.n(i + 1);
        let verb = if verb == "really" || verb == "also" || verb == "just" {
            self.n(i + 2)
        } else {
            verb
        };
        let negated = matches!(verb, "do" | "can") && self.n(i + 2) == "not";
        let opens = i + 1 < end
            && (negated
                || matches!(
                    verb,
                    "am" | "like"
                        | "love"
                        | "enjoy"
                        | "hate"
                        | "have"
                        | "live"
                        | "work"
                        | "grew"
                        | "speak"
                        | "adore"
                ));
        opens && ends_clause(self.n(i - 1))
    }

    /// Whether token `j` can start a new clause.
    fn opens_clause(&self, j: usize, end: usize) -> bool {
        let w = self.n(j);
        let next = if j + 1 >= end {
            ""
        } else if self.toks[j + 1].is_punct(',') {
            ","
        } else {
            self.n(j + 1)
        };
        match w {
            "i" | "my" | "we" | "our" | "call" | "please" | "im" | "name" => true,
            "born" => matches!(next, "in" | "on"),
            "this" => next == "is",
            "everyone" | "everybody" | "people" | "friends" | "most" => {
                matches!(next, "calls" | "call" | "people")
            }
            "actually" | "sorry" | "oops" | "whoops" | "correction" | "wait" | "btw" => true,
            "no" | "nope" => matches!(next, "," | "i" | "my" | "it" | "its"),
            "now" | "also" | "originally" | "currently" => matches!(next, "i" | "my" | "we"),
            "what" | "how" | "where" | "who" | "why" | "when" | "which" | "whats" | "hbu"
            | "wbu" => true,
            "do" | "does" | "are" | "is" | "can" | "could" | "would" | "will" | "have" | "did" => {
                matches!(next, "you" | "u" | "yours")
            }
            "and" => next == "you" || next == "u",
            "you" | "u" => true,
            _ => false,
        }
    }
}

/// Words that can end a chat clause with nothing to mark it, so that an "I" right after
/// starts a new one ("that's too bad i like nuts", "cool i live there too"). A closed list:
/// after a noun, "I" usually opens a relative clause ("the company I work for").
#[rustfmt::skip]
fn ends_clause(w: &str) -> bool {
    matches!(
        w,
        "bad" | "good" | "cool" | "nice" | "awesome" | "lol" | "haha" | "hahaha" | "yeah"
            | "yes" | "no" | "ok" | "okay" | "true" | "funny" | "great" | "fun" | "crazy" | "sad"
            | "weird" | "interesting" | "amazing" | "hi" | "hello" | "hey" | "too" | "though"
            | "right" | "agreed" | "same" | "exactly" | "totally" | "wow" | "omg" | "lmao" | "xd"
            | "nope" | "yep" | "yup" | "sweet" | "neat" | "dope" | "sick" | "well" | "anyways"
            | "anyway" | "btw" | "tho" | "either" | "haha." | "hehe" | "jk" | "idk" | "thanks"
            | "honestly" | "seriously" | "really" | "definitely" | "absolutely" | "sorry"
            | "stinks" | "sucks" | "rough" | "cute" | "lucky" | "jealous" | "fair" | "hilarious"
    )
}

/// Verbs that start a coordinated clause whose subject "I" is left out
/// ("I'm from Lyon but live in Paris").
pub(crate) fn is_elided_subject_verb(w: &str) -> bool {
    matches!(
        w,
        "live"
            | "work"
            | "speak"
            | "love"
            | "like"
            | "enjoy"
            | "hate"
            | "have"
            | "moved"
            | "grew"
            | "joined"
            | "left"
            | "adore"
            | "dislike"
    )
}

fn is_conj_word(w: &str) -> bool {
    matches!(
        w,
        "and"
            | "since"
            | "but"
            | "so"
            | "because"
            | "cause"
            | "though"
            | "although"
            | "or"
            | "while"
            | "whereas"
            | "plus"
            | "yet"
            | "then"
    )
}

/// Dotted abbreviations keep their final dot: "U.S.", "D.C.", "e.g.", and initials "B.".
fn is_dotted_abbrev(w: &str) -> bool {
    let mut chars = w.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c.is_uppercase() && c != 'I',
        _ => {
            // Alternating letter '.' letter ...
            let mut expect_letter = true;
            let mut letters = 0;
            for c in w.chars() {
                if expect_letter {
                    if !c.is_alphabetic() {
                        return false;
                    }
                    letters += 1;
                } else if c != '.' {
                    return false;
                }
                expect_letter = !expect_letter;
            }
            letters >= 2 && !expect_letter
        }
    }
}

/// Lowercases and maps typographic apostrophes to `'` into `buf`; `None` if it won't fit.
fn normalise<'b>(surface: &str, buf: &'b mut [u8; 48]) -> Option<&'b str> {
    let mut len = 0;
    for c in surface.chars() {
        let c = if matches!(c, '’' | 'ʼ' | '‘') {
            '\''
        } else {
            c
        };
        if c.is_ascii() {
            if len >= buf.len() {
                return None;
            }
            buf[len] = c.to_ascii_lowercase() as u8;
            len += 1;
        } else {
            for l in c.to_lowercase() {
                let need = l.len_utf8();
                if len + need > buf.len() {
                    return None;
                }
                l.encode_utf8(&mut buf[len..len + need]);
                len += need;
            }
        }
    }
    // Chat elongation: "loooove", "sooo" → "love", "so" (three or more of a letter → one).
    let mut out = 0;
    let mut k = 0;
    while k < len {
        let c = buf[k];
        let mut run = 1;
        while k + run < len && buf[k + run] == c {
            run += 1;
        }
        let keep = if run >= 3 && c.is_ascii_lowercase() {
            1
        } else {
            run
        };
        for _ in 0..keep {
            buf[out] = c;
            out += 1;
        }
        k += run;
    }
    let s = std::str::from_utf8(&buf[..out]).ok()?;
    // Chat spellings of the words the rules read: "i luv pizza", "dogs cuz they're cute".
    Some(match s {
        "luv" | "lov" => "love",
        "luvs" => "loves",
        "liek" => "like",
        "cuz" | "coz" | "bc" | "bcuz" | "bcoz" | "becuz" | "becasue" | "becuase" => "because",
        _ => s,
    })
}

/// Given a normalised suffix length (in bytes, with `'` as one byte), returns where that
/// suffix starts in the surface form.
fn surface_suffix_start(surface: &str, norm_suffix_len: usize) -> usize {
    if norm_suffix_len == 0 {
        return surface.len();
    }
    let mut remaining = norm_suffix_len;
    for (k, c) in surface.char_indices().rev() {
        // Typographic apostrophes were normalised to the one-byte `'`.
        let nlen = if c.is_ascii() || matches!(c, '’' | 'ʼ' | '‘') {
            1
        } else {
            c.to_lowercase().map(char::len_utf8).sum()
        };
        remaining = remaining.saturating_sub(nlen);
        if remaining == 0 {
            return k;
        }
    }
    0
}

/// Splits a contraction into (base, second word, normalised length of the suffix). A
/// suffix length of 0 means the surface cannot be split (e.g. "cannot", "im").
fn split_contraction(n: &str) -> Option<(&str, &'static str, usize)> {
    let whole: Option<(&'static str, &'static str)> = match n {
        "im" => Some(("i", "am")),
        "cannot" => Some(("can", "not")),
        "gonna" => Some(("going", "to")),
        "wanna" => Some(("want", "to")),
        "dont" => Some(("do", "not")),
        "doesnt" => Some(("does", "not")),
        "didnt" => Some(("did", "not")),
        "cant" => Some(("can", "not")),
        "isnt" => Some(("is", "not")),
        "arent" => Some(("are", "not")),
        "wasnt" => Some(("was", "not")),
        "havent" => Some(("have", "not")),
        "wouldnt" => Some(("would", "not")),
        "couldnt" => Some(("could", "not")),
        "shouldnt" => Some(("should", "not")),
        "ive" => Some(("i", "have")),
        "whats" => Some(("what", "is")),
        "can't" => Some(("can", "not")),
        "won't" => Some(("will", "not")),
        "ain't" => Some(("is", "not")),
        "shan't" => Some(("shall", "not")),
        _ => None,
    };
    if let Some((a, b)) = whole {
        return Some((a, b, 0));
    }
    let (suffix, second): (&str, &'static str) = if n.ends_with("n't") {
        ("n't", "not")
    } else if n.ends_with("'m") {
        ("'m", "am")
    } else if n.ends_with("'re") {
        ("'re", "are")
    } else if n.ends_with("'ve") {
        ("'ve", "have")
    } else if n.ends_with("'ll") {
        ("'ll", "will")
    } else if n.ends_with("'d") {
        ("'d", "would")
    } else if n.ends_with("'s") {
        ("'s", "'s")
    } else {
        return None;
    };
    let base = &n[..n.len() - suffix.len()];
    if base.is_empty() || base.ends_with('\'') {
        return None;
    }
    Some((base, second, suffix.len()))
}
