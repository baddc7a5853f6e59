//! Casual-chat evaluation of the rule-based extractor on every split of
//! `tests/golden/casual_*.jsonl` (utterances from the BYU chit-chat corpus, labelled by hand; see
//! docs/benchmarks.md). The development splits are what rules were written against; each test
//! split was labelled before the rules it measured and scored once with them frozen (all of them
//! are spent now: their errors were read afterwards). Prints micro precision
//! and recall, strict and lenient, per split, and fails below the floors recorded when the
//! rules were frozen, so a change that loses casual-chat recall is caught. It must never
//! rewrite a split to fit.

use std::io::Write;

use memlink_actors::extract::score::{self, Labelled, Mode, Tally};
use memlink_actors::extract::{extract, FactKind, Predicate};

fn split(name: &str) -> Vec<(String, Vec<Labelled>)> {
    let path = format!(
        "{}/../tests/golden/casual_{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1));
            let text = v["text"].as_str().expect("text").to_owned();
            let expected = v["expected"]
                .as_array()
                .expect("expected")
                .iter()
                .map(|f| Labelled {
                    predicate: Predicate::parse(f["predicate"].as_str().expect("predicate"))
                        .unwrap_or_else(|| panic!("{path}:{}: unknown predicate", n + 1)),
                    object: f["object"].as_str().expect("object").to_owned(),
                    kind: f["kind"].as_str().and_then(FactKind::parse),
                })
                .collect();
            (text, expected)
        })
        .collect()
}

fn tally(cases: &[(String, Vec<Labelled>)], mode: Mode) -> Tally {
    let mut t = Tally::default();
    for (text, expected) in cases {
        let got: Vec<Labelled> = extract(text)
            .into_iter()
            .map(|f| Labelled {
                predicate: f.predicate,
                object: f.object,
                kind: Some(f.kind),
            })
            .collect();
        let o = score::score(expected, &got, mode);
        t.add(expected, &got, &o);
    }
    t
}

/// (split, lenient precision floor, lenient recall floor): version 6's scores, rounded down.
/// Version 6 lowered three precision floors by one or two hundredths: its new false positives
/// there were read and are true facts the labels lack ("i play the trumpet", "I play
/// instruments", "I'm a foodie") or one odd sentence ("now im 15 bc ..." about a game level).
const FLOORS: [(&str, f64, f64); 8] = [
    ("dev", 0.96, 0.83),
    ("dev6", 0.95, 0.56),
    ("test", 0.89, 0.69),
    ("test2", 0.95, 0.78),
    ("test3", 0.94, 0.71),
    ("test4", 0.94, 0.57),
    ("test5", 0.87, 0.54),
    ("test6", 0.86, 0.54),
];

#[test]
fn casual_chat_splits_hold_their_scores() {
    let mut report = String::new();
    for (name, min_p, min_r) in FLOORS {
        let cases = split(name);
        assert!(cases.len() >= 450, "{name}: {} utterances", cases.len());
        let strict = tally(&cases, Mode::Strict).micro;
        let lenient = tally(&cases, Mode::Lenient).micro;
        report.push_str(&format!(
            "casual {name}: {} utterances, {} facts; strict P={:.3} R={:.3}; lenient P={:.3} R={:.3}\n",
            cases.len(),
            lenient.gold(),
            strict.precision(),
            strict.recall(),
            lenient.precision(),
            lenient.recall()
        ));
        assert!(
            lenient.precision() >= min_p,
            "{name}: lenient precision {:.3} < {min_p}",
            lenient.precision()
        );
        assert!(
            lenient.recall() >= min_r,
            "{name}: lenient recall {:.3} < {min_r}",
            lenient.recall()
        );
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
}
