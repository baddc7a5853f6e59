//! Chat titles: the deterministic fallback title taken from a chat's earliest user message.
//!
//! Pure. The store decides which message is earliest (by `created_at`, then message id); this
//! module only shapes the text and must never look at anything but the text.

/// The longest fallback title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

/// Whitespace collapsed to single spaces, trimmed, and cut at a word boundary to at most
/// [`MAX_TITLE_CHARS`] characters (a single longer word is cut inside). `None` for blank text.
pub fn fallback_title(content: &str) -> Option<String> {
    let collapsed = content.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    if collapsed.chars().count() <= MAX_TITLE_CHARS {
        return Some(collapsed);
    }
    let mut out = String::new();
    for word in collapsed.split(' ') {
        let needed = if out.is_empty() { 0 } else { 1 } + word.chars().count();
        if out.chars().count() + needed > MAX_TITLE_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        out = collapsed.chars().take(MAX_TITLE_CHARS).collect();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_title() {
        assert_eq!(
            fallback_title("My name is PronterTestUser.").as_deref(),
            Some("My name is PronterTestUser.")
        );
    }

    #[test]
    fn collapses_whitespace_and_cuts_at_words() {
        assert_eq!(fallback_title("  a\n\tb  ").as_deref(), Some("a b"));
        let long = "word ".repeat(30);
        let t = fallback_title(&long).unwrap();
        assert_eq!(t.chars().count(), 79);
        assert!(t.ends_with("word"));
        assert_eq!(fallback_title(" \n ").as_deref(), None);
        let one = "x".repeat(200);
        assert_eq!(fallback_title(&one).unwrap().chars().count(), 80);
    }

    proptest! {
        #[test]
        fn never_longer_than_the_limit(s in "\\PC{0,300}") {
            if let Some(t) = fallback_title(&s) {
                prop_assert!(t.chars().count() <= MAX_TITLE_CHARS);
                prop_assert!(!t.starts_with(' ') && !t.ends_with(' '));
                prop_assert!(!t.contains("  "));
            }
        }
    }
}
