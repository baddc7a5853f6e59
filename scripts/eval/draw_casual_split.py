#!/usr/bin/env python3
"""Draw an unlabelled casual-chat split for `memlink eval-extractor` (issue 12).

Source: the BYU PCC lab's Chit-Chat Challenge corpus as shipped by the PyPI package
`chitchat-dataset` 0.9.0 (`chitchat_dataset/dataset.json`, MIT licence):

    pip download chitchat-dataset==0.9.0 --no-deps -d /tmp/cc && cd /tmp/cc && unzip -q *.whl

A conversation belongs to the test side when int(sha256(conversation id).hexdigest(), 16) is
odd, to the dev side when it is even (the convention of casual_test.jsonl, casual_test2.jsonl
and casual_dev.jsonl: every one of their utterances comes from a conversation of that parity).

From the chosen side's utterances of 2 to 40 words, minus every utterance (normalised: lower
case, collapsed white space) already in the --exclude files, four strata are drawn in order
with one seeded RNG and de-duplicated: random first person, first person with a topic word
(two word lists), and a self-description cue. Each line is written as
`{"text": ..., "expected": []}` for a human to label; the strata go to --strata (TSV) when
given. The script never runs or reads the extractor.

Usage (the third blind test split):

    python3 scripts/eval/draw_casual_split.py --dataset /tmp/cc/chitchat_dataset/dataset.json \
        --side test --seed 2026120103 --counts 150,225,150,150 \
        --exclude tests/golden/casual_test.jsonl tests/golden/casual_test2.jsonl \
                  tests/golden/casual_dev.jsonl \
        --out /tmp/casual_test3.unlabelled.jsonl --strata /tmp/casual_test3.strata.tsv
"""

import argparse
import hashlib
import json
import random
import re
import sys

FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|ive|i'd|i'll|my|me|mine|myself)\b", re.I)

TOPIC_A = re.compile(
    r"\b(like|likes|love|loved|enjoy|enjoyed|hate|favou?rite|fan|into|work|working|job|"
    r"nerd|obsessed|passionate|can't stand|cant stand|don't like|dont like)\b",
    re.I,
)
TOPIC_B = re.compile(
    r"\b(dog|dogs|cat|cats|puppy|pet|pets|sister|sisters|brother|brothers|siblings?|mom|dad|"
    r"parents|husband|wife|boyfriend|girlfriend|kids?|son|daughter|speak|spanish|english|"
    r"french|german|portuguese|chinese|japanese|vegan|vegetarian|allergic|born|birthday|"
    r"student|teacher|nurse|intern|live|lived|grew|moved|\d\d)\b",
    re.I,
)
CUE = re.compile(
    r"(\bmy name\b|\bmy names\b|\bi'?m an? \b|\bim an? \b|\bi am an? \b|\bi live\b|"
    r"\bi have an? \b|\bi'?ve got an? \b|\bi'?m from\b|\bim from\b|\bi am from\b|\bi speak\b|"
    r"\bi grew up\b|\bi work (at|for|as|in)\b|\bi'?m \d\d\b|\bim \d\d\b|\bi am \d\d\b|"
    r"\bmy favou?rite\b|\bi was born\b|\bcall me\b|\bi'?m allergic\b|\bim allergic\b|"
    r"\bi am allergic\b|\bmy (dog|cat|sister|brother|mom|dad|wife|husband)\b)",
    re.I,
)


def norm(text):
    return re.sub(r"\s+", " ", text.strip().lower())


def is_test_side(conversation_id):
    return int(hashlib.sha256(conversation_id.encode("utf-8")).hexdigest(), 16) % 2 == 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--side", choices=["test", "dev"], required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--counts", default="150,225,150,150",
                    help="random first person, topic A, topic B, self-description cue")
    ap.add_argument("--exclude", nargs="*", default=[])
    ap.add_argument("--out", required=True)
    ap.add_argument("--strata")
    args = ap.parse_args()

    counts = [int(c) for c in args.counts.split(",")]
    excluded = set()
    for path in args.exclude:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    excluded.add(norm(json.loads(line)["text"]))

    with open(args.dataset, encoding="utf-8") as f:
        data = json.load(f)

    # Candidate utterances in a stable order (sorted conversation ids, then message order).
    pool, seen = [], set()
    for cid in sorted(data):
        if is_test_side(cid) != (args.side == "test"):
            continue
        for turn in data[cid]["messages"]:
            for message in turn:
                text = message["text"].strip()
                key = norm(text)
                if not 2 <= len(text.split()) <= 40 or key in excluded or key in seen:
                    continue
                seen.add(key)
                pool.append(text)

    first = [t for t in pool if FIRST_PERSON.search(t)]
    strata = [
        ("random_first_person", first),
        ("topic_a", [t for t in first if TOPIC_A.search(t)]),
        ("topic_b", [t for t in first if TOPIC_B.search(t)]),
        ("self_description_cue", [t for t in first if CUE.search(t)]),
    ]
    rng = random.Random(args.seed)
    taken, rows = set(), []
    for (name, candidates), n in zip(strata, counts):
        candidates = [t for t in candidates if norm(t) not in taken]
        picked = rng.sample(candidates, n)
        for t in picked:
            taken.add(norm(t))
            rows.append((name, t))
        print(f"{name}: {n} of {len(candidates)} candidates", file=sys.stderr)

    rng.shuffle(rows)
    with open(args.out, "w", encoding="utf-8") as f:
        for _, t in rows:
            f.write(json.dumps({"text": t, "expected": []}, ensure_ascii=False) + "\n")
    if args.strata:
        with open(args.strata, "w", encoding="utf-8") as f:
            for name, t in rows:
                f.write(f"{name}\t{json.dumps(t, ensure_ascii=False)}\n")
    print(f"{len(rows)} utterances written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
