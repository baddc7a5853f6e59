//! Gazetteers: first names, places, occupations, pet animals and languages, taken from public
//! data that package registries ship (see `actors/data/SOURCES.md`) and embedded at build time.
//!
//! Each list is one lowercase ASCII entry a line, sorted by byte, so a look-up is a Bloom
//! filter test (built at compile time) and then a binary search over the embedded text: no
//! start-up cost, no allocation, no mutable state. This
//! module must never read a file or the network at run time, and never answer from anything
//! but the embedded lists.

use super::lexicon as lx;
use super::text::Doc;

const FIRST_NAMES: &str = include_str!("../../data/first_names.txt");
const PLACES: &str = include_str!("../../data/places.txt");
const OCCUPATIONS: &str = include_str!("../../data/occupations.txt");
const ANIMALS: &str = include_str!("../../data/animals.txt");
const LANGUAGES: &str = include_str!("../../data/languages.txt");

/// The longest place phrase looked up, in words ("salt lake city", "papua new guinea").
const MAX_PLACE_WORDS: usize = 4;

/// Bits of the Bloom filters below (a power of two).
const BLOOM_BITS: usize = 1 << 16;

/// A Bloom filter over the lines of `list`, built at compile time: two bits per entry from
/// one FNV-1a hash. Most words looked up are in no list, and the filter turns them away with
/// two bit tests instead of a binary search.
const fn bloom(list: &str) -> [u64; BLOOM_BITS / 64] {
    let b = list.as_bytes();
    let mut bits = [0u64; BLOOM_BITS / 64];
    let mut i = 0;
    while i < b.len() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        while i < b.len() && b[i] != b'\n' {
            h ^= b[i] as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        let (x, y) = (h as usize % BLOOM_BITS, (h >> 32) as usize % BLOOM_BITS);
        bits[x / 64] |= 1 << (x % 64);
        bits[y / 64] |= 1 << (y % 64);
        i += 1;
    }
    bits
}

fn maybe(filter: &[u64; BLOOM_BITS / 64], key: &str) -> bool {
    let h = lx::fnv1a(key.as_bytes());
    let (x, y) = (h as usize % BLOOM_BITS, (h >> 32) as usize % BLOOM_BITS);
    filter[x / 64] & (1 << (x % 64)) != 0 && filter[y / 64] & (1 << (y % 64)) != 0
}

static FIRST_NAMES_BLOOM: [u64; BLOOM_BITS / 64] = bloom(FIRST_NAMES);
static PLACES_BLOOM: [u64; BLOOM_BITS / 64] = bloom(PLACES);
static OCCUPATIONS_BLOOM: [u64; BLOOM_BITS / 64] = bloom(OCCUPATIONS);
static ANIMALS_BLOOM: [u64; BLOOM_BITS / 64] = bloom(ANIMALS);
static LANGUAGES_BLOOM: [u64; BLOOM_BITS / 64] = bloom(LANGUAGES);

/// Whether `key` is in `list` (with its Bloom filter `filter`).
fn lookup(list: &str, filter: &[u64; BLOOM_BITS / 64], key: &str) -> bool {
    maybe(filter, key) && contains(list, key)
}

/// Whether `key` is a line of the sorted list `list`.
fn contains(list: &str, key: &str) -> bool {
    if key.is_empty() || key.len() > 64 {
        return false;
    }
    let b = list.as_bytes();
    let (mut lo, mut hi) = (0usize, b.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = b[..mid]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        let end = b[mid..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |p| mid + p);
        match b[start..end].cmp(key.as_bytes()) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

pub(crate) fn is_first_name(w: &str) -> bool {
    lookup(FIRST_NAMES, &FIRST_NAMES_BLOOM, w)
}

pub(crate) fn is_occupation(w: &str) -> bool {
    lookup(OCCUPATIONS, &OCCUPATIONS_BLOOM, w)
}

pub(crate) fn is_animal(w: &str) -> bool {
    lookup(ANIMALS, &ANIMALS_BLOOM, w)
}

/// A language of the list, unless the word is far more often something else in chat ("I
/// know, same here", "pie", "Chad", "Iowa"): those few are not read as languages.
pub(crate) fn is_language(w: &str) -> bool {
    lookup(LANGUAGES, &LANGUAGES_BLOOM, w) && !is_ambiguous_language(w)
}

#[rustfmt::skip]
fn is_ambiguous_language(w: &str) -> bool {
    matches!(
        w,
        "same" | "pie" | "chad" | "chin" | "crow" | "fang" | "fox" | "iowa" | "kansas" | "kansa"
            | "alabama" | "attic" | "bade" | "bata" | "min" | "mon" | "romance" | "tay" | "yay"
            | "omaha" | "ron" | "tera" | "masa" | "maya" | "karen" | "manda" | "mam" | "kola"
            | "shasta" | "dakota" | "wichita" | "ionic" | "gothic" | "italic" | "nordic"
            | "oceanic" | "yi" | "wu" | "ofo" | "oto" | "kui" | "kwa" | "gur" | "tho" | "ful"
            | "aku" | "mari" | "tai" | "bole" | "toda" | "hani" | "miri" | "daba"
    )
}

/// The longest known place starting at word token `i` (before `end`): the token after it.
/// Compares the surface text lowercased, so "St. George" and "salt lake city" match.
pub(crate) fn place_at(doc: &Doc<'_>, i: usize, end: usize) -> Option<usize> {
    let first = doc.toks.get(i).filter(|t| t.is_word())?;
    let mut buf = [0u8; 64];
    let mut best = None;
    let mut words = 0;
    let mut j = i;
    while j < end && words < MAX_PLACE_WORDS {
        let t = &doc.toks[j];
        if t.is_word() {
            words += 1;
        } else if !t.is_punct('.') {
            break;
        }
        let surface = doc.text.get(first.start..t.end)?;
        if surface.len() > buf.len() || !surface.is_ascii() {
            break;
        }
        // Lowercase, one space for any whitespace run.
        let mut n = 0;
        let mut space = false;
        for &c in surface.as_bytes() {
            if c.is_ascii_whitespace() {
                space = true;
                continue;
            }
            if space {
                buf[n] = b' ';
                n += 1;
                space = false;
            }
            buf[n] = c.to_ascii_lowercase();
            n += 1;
        }
        if t.is_word()
            && std::str::from_utf8(&buf[..n]).is_ok_and(|k| lookup(PLACES, &PLACES_BLOOM, k))
        {
            best = Some(j + 1);
        }
        j += 1;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_lowercase(list: &str) -> bool {
        let lines: Vec<&str> = list.lines().collect();
        lines.windows(2).all(|p| p[0] < p[1])
            && lines
                .iter()
                .all(|l| !l.is_empty() && l.is_ascii() && *l == l.to_ascii_lowercase())
    }

    #[test]
    fn lists_are_sorted_lowercase_and_found() {
        for list in [FIRST_NAMES, PLACES, OCCUPATIONS, ANIMALS, LANGUAGES] {
            assert!(sorted_lowercase(list));
            let lines: Vec<&str> = list.lines().collect();
            assert!(lines.len() > 100);
            // Every entry is found, the first and the last included.
            assert!(lines.iter().all(|l| contains(list, l)));
            let filter = bloom(list);
            assert!(lines.iter().all(|l| maybe(&filter, l)));
            assert!(!contains(list, "zzzzzz-not-there"));
            assert!(!contains(list, ""));
        }
        assert!(is_first_name("tom") && is_first_name("todd") && !is_first_name("happy"));
        assert!(is_occupation("nurse") && !is_occupation("runner"));
        assert!(is_animal("golden retriever") && !is_animal("boxer"));
        assert!(is_language("tagalog"));
    }

    #[test]
    fn places_match_the_longest_phrase() {
        let doc = Doc::new("i live in salt lake city now and grew up in St. George, Utah");
        let i = (0..doc.toks.len()).find(|&k| doc.n(k) == "salt").unwrap();
        assert_eq!(place_at(&doc, i, doc.toks.len()), Some(i + 3));
        let g = (0..doc.toks.len()).find(|&k| doc.n(k) == "st").unwrap();
        // "St" "." "George"
        assert_eq!(place_at(&doc, g, doc.toks.len()), Some(g + 3));
        let now = (0..doc.toks.len()).find(|&k| doc.n(k) == "now").unwrap();
        assert_eq!(place_at(&doc, now, doc.toks.len()), None);
    }
}
