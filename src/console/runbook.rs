//! The runbook's long form beside each finding: `docs/runbook.md` is compiled into the binary
//! and the section headed with a finding's code (`### <code>`) is rendered to HTML, so the
//! console and the document can never disagree. Reads only the embedded text.

use std::collections::HashMap;
use std::sync::OnceLock;

const RUNBOOK: &str = include_str!("../../docs/runbook.md");

/// The section under `### <code>`, up to the next heading of that level or above, as HTML.
pub fn section(code: &str) -> Option<&'static str> {
    static SECTIONS: OnceLock<HashMap<String, String>> = OnceLock::new();
    SECTIONS
        .get_or_init(|| split(RUNBOOK))
        .get(code)
        .map(String::as_str)
}

/// A one-line Markdown text (a finding's next step) as inline HTML.
pub fn inline(markdown: &str) -> String {
    let html = render(markdown);
    let trimmed = html.trim_end();
    trimmed
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"))
        .unwrap_or(trimmed)
        .to_owned()
}

fn split(markdown: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut current: Option<(String, String)> = None;
    let mut finish = |c: Option<(String, String)>| {
        if let Some((code, body)) = c {
            out.insert(code, render(&body));
        }
    };
    for line in markdown.lines() {
        if let Some(code) = line.strip_prefix("### ") {
            finish(current.take());
            current = Some((code.trim().to_owned(), String::new()));
        } else if line.starts_with("## ") || line.starts_with("# ") {
            finish(current.take());
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    finish(current);
    out
}

fn render(markdown: &str) -> String {
    // The runbook is ours and compiled in; raw HTML in it would still be shown as text.
    let events = pulldown_cmark::Parser::new(markdown).map(|e| match e {
        pulldown_cmark::Event::Html(t) | pulldown_cmark::Event::InlineHtml(t) => {
            pulldown_cmark::Event::Text(t)
        }
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_code_has_a_runbook_section() {
        for (code, _, _) in crate::ops::diagnose::CODES {
            let html = section(code).unwrap_or_else(|| panic!("no runbook section for {code}"));
            assert!(
                html.contains("<p>") || html.contains("<li>"),
                "{code}: {html}"
            );
        }
        let dead = section("dead_letters").unwrap();
        assert!(dead.contains("<code>"), "{dead}");
        assert!(!dead.contains("### "), "{dead}");
        assert_eq!(section("no_such_code"), None);
        assert_eq!(
            inline("Run `memlink migrate` <now>"),
            "Run <code>memlink migrate</code> &lt;now&gt;"
        );
    }
}
