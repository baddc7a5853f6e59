//! Golden-corpus evaluation of the rule-based extractor: runs `extract` over
//! `tests/golden/extractor.jsonl` (hand-annotated messages, positives and negatives),
//! compares (predicate, object, kind) triples, prints precision, recall and every
//! mismatch, and fails below the quality bar. It must never rewrite the corpus to fit.

use std::collections::BTreeSet;
use std::io::Write;

use memlink_actors::extract::{extract, Predicate};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/golden/extractor.jsonl"
);

const MIN_PRECISION: f64 = 0.97;
const MIN_RECALL: f64 = 0.90;

type Triple = (String, String, String);

struct Case {
    line: usize,
    text: String,
    gold: BTreeSet<Triple>,
}

fn load() -> Vec<Case> {
    let corpus = std::fs::read_to_string(CORPUS)
        .unwrap_or_else(|e| panic!("cannot read golden corpus {CORPUS}: {e}"));
    let mut cases = Vec::new();
    for (n, line) in corpus.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("corpus line {}: invalid JSON: {e}", n + 1));
        let text = v["text"]
            .as_str()
            .unwrap_or_else(|| panic!("corpus line {}: no text", n + 1))
            .to_string();
        let facts = v["facts"]
            .as_array()
            .unwrap_or_else(|| panic!("corpus line {}: no facts array", n + 1));
        let mut gold = BTreeSet::new();
        for f in facts {
            let field = |k: &str| {
                f[k].as_str()
                    .unwrap_or_else(|| panic!("corpus line {}: fact without {k}", n + 1))
                    .to_string()
            };
            let predicate = field("predicate");
            assert!(
                Predicate::parse(&predicate).is_some(),
                "corpus line {}: unknown predicate {predicate}",
                n + 1
            );
            let kind = field("kind");
            assert!(
                matches!(
                    kind.as_str(),
                    "assert" | "correction" | "change" | "retraction"
                ),
                "corpus line {}: unknown kind {kind}",
                n + 1
            );
            gold.insert((predicate, field("object"), kind));
        }
        cases.push(Case {
            line: n + 1,
            text,
            gold,
        });
    }
    cases
}

fn predicted(text: &str) -> BTreeSet<Triple> {
    extract(text)
        .into_iter()
        .map(|f| {
            (
                f.predicate.as_str().to_string(),
                f.object,
                f.kind.as_str().to_string(),
            )
        })
        .collect()
}

#[test]
fn golden_corpus_precision_and_recall() {
    let cases = load();
    let negatives = cases.iter().filter(|c| c.gold.is_empty()).count();
    assert!(cases.len() >= 150, "corpus too small: {}", cases.len());
    assert!(negatives >= 40, "too few negative cases: {negatives}");
    let covered: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.gold.iter().map(|t| t.0.as_str()))
        .collect();
    for p in Predicate::ALL {
        assert!(
            covered.contains(p.as_str()),
            "no case covers {}",
            p.as_str()
        );
    }

    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    for c in &cases {
        let got = predicted(&c.text);
        let hit = got.intersection(&c.gold).count();
        let extra: Vec<_> = got.difference(&c.gold).collect();
        let missed: Vec<_> = c.gold.difference(&got).collect();
        tp += hit;
        fp += extra.len();
        fneg += missed.len();
        if !extra.is_empty() || !missed.is_empty() {
            mismatches.push(format!(
                "  line {:>3} {:?}\n      extra:  {:?}\n      missed: {:?}",
                c.line, c.text, extra, missed
            ));
        }
    }
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fneg == 0 {
        1.0
    } else {
        tp as f64 / (tp + fneg) as f64
    };
    let mut report = format!(
        "extractor golden corpus: {} messages ({} negative), tp={tp} fp={fp} fn={fneg}\n\
         precision={precision:.4} recall={recall:.4}\n",
        cases.len(),
        negatives
    );
    if mismatches.is_empty() {
        report.push_str("mismatches: none\n");
    } else {
        report.push_str(&format!("mismatches ({}):\n", mismatches.len()));
        for m in &mismatches {
            report.push_str(m);
            report.push('\n');
        }
    }
    // Straight to the stderr handle: libtest captures print!/eprint! of passing tests, and
    // these figures are meant to be seen in every run.
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(
        precision >= MIN_PRECISION,
        "precision {precision:.4} < {MIN_PRECISION}"
    );
    assert!(recall >= MIN_RECALL, "recall {recall:.4} < {MIN_RECALL}");
}

#[test]
fn empty_input_yields_nothing() {
    assert!(extract("").is_empty());
    assert!(extract(" \n\t ").is_empty());
}
