//! Single-threaded throughput benchmark for the rule-based extractor.
//!
//! Builds a deterministic mix of ~100k chat messages (self-introductions, facts, casual
//! lowercase chat that goes through the gazetteers, small talk, questions, hypotheticals,
//! long pastes, emoji) from templates driven by a fixed
//! linear congruential generator, then runs `extract` over the whole set several times and
//! prints `messages_per_sec=<n> facts=<n>` plus the mean time per message. On Linux it also
//! prints the rate per second of this thread's on-CPU time, which stays meaningful when
//! other processes compete for the core.
//!
//! Run: `CARGO_TARGET_DIR=/tmp/extract-target cargo run --release -p memlink-actors --example extract_bench`
//!
//! It must never depend on the OS for randomness, so two runs process identical inputs.

use std::hint::black_box;
use std::time::Instant;

use memlink_actors::extract::extract;

const MESSAGES: usize = 100_000;
const PASSES: usize = 5;

/// Numerical Recipes' 64-bit LCG: deterministic, no OS entropy.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = (self.next() % items.len() as u64) as usize;
        items[i]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NAMES: &[&str] = &[
    "Ana", "Marcus", "Priya", "Tomás", "Chloe", "Jordan", "Léa", "Kwame", "Yuki", "Olga",
];
const CITIES: &[&str] = &[
    "Porto",
    "New York City",
    "Berlin",
    "São Paulo",
    "Portland, Oregon",
    "Nairobi",
    "Kyoto",
    "the UK",
];
const ORGS: &[&str] = &[
    "Acme",
    "Google",
    "the United Nations",
    "Ernst & Young",
    "Spotify",
];
const JOBS: &[&str] = &[
    "teacher",
    "software engineer",
    "nurse",
    "freelance graphic designer",
];
const THINGS: &[&str] = &[
    "jazz",
    "hiking",
    "Italian food",
    "cats, dogs and horses",
    "mac and cheese",
    "rock climbing",
];
const LANGS: &[&str] = &[
    "English and French",
    "Spanish, Italian, and a little German",
];
const FACT_TEMPLATES: &[&str] = &[
    "Hi, I'm {name}, I live in {city} and I work at {org}.",
    "My name is {name}.",
    "I'm {age} years old.",
    "I moved to {city} last year.",
    "Actually, my name is {name}, not Bob.",
    "I work as a {job} at {org}.",
    "I love {thing}.",
    "I can't stand {thing}.",
    "I have a cat named {name}.",
    "My wife is {name}.",
    "I speak {lang}.",
    "My email is user{age}@example.com.",
    "My timezone is UTC+{small}.",
    "I'm vegetarian and I'm allergic to peanuts.",
    "I don't live in {city} anymore.",
    "My birthday is March {small}.",
    "I'm {name}, {age}, from {city}.",
    "I left {org}.",
    // Casual chat: lowercase names and places go through the gazetteers.
    "hi, i am {lname} and i live in {lcity}",
    "im from {lcity} originally lol",
    "my names {lname} whats yours",
    "i have 2 dogs and a cat",
    "I'm from {lcity} and I love hiking and camping",
    "nice i like to read and hike",
];
const LOWER_NAMES: &[&str] = &["tom", "todd", "sarah", "mireya", "casey"];
const LOWER_CITIES: &[&str] = &["texas", "ohio", "salt lake city", "provo", "st. george"];
const NOISE_TEMPLATES: &[&str] = &[
    "Thanks, that was really helpful!",
    "Can you summarise the article I sent yesterday?",
    "Is my name {name}?",
    "If I lived in {city}, I would eat out every day.",
    "My brother lives in {city}.",
    "He said 'my name is {name}'.",
    "I'm tired 😴 long day at work",
    "How do I reset my password? It keeps failing with error 0x80070005.",
    "lol 😂😂 ok",
    "I'm not sure about that, can you explain again?",
    "Could you write a haiku about {thing}?",
    "ok",
];
const FILLER: &str = "Here is the log output I mentioned, line by line, with timestamps and \
     request ids; the service restarted twice and the second time it came back slower. ";

fn render(template: &str, rng: &mut Lcg) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let slot = &rest[open + 1..open + close];
        match slot {
            "name" => out.push_str(rng.pick(NAMES)),
            "lname" => out.push_str(rng.pick(LOWER_NAMES)),
            "lcity" => out.push_str(rng.pick(LOWER_CITIES)),
            "city" => out.push_str(rng.pick(CITIES)),
            "org" => out.push_str(rng.pick(ORGS)),
            "job" => out.push_str(rng.pick(JOBS)),
            "thing" => out.push_str(rng.pick(THINGS)),
            "lang" => out.push_str(rng.pick(LANGS)),
            "age" => out.push_str(&(18 + rng.below(60)).to_string()),
            "small" => out.push_str(&(1 + rng.below(12)).to_string()),
            _ => {}
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn corpus() -> Vec<String> {
    let mut rng = Lcg(0x5eed_1234_abcd_0001);
    let mut msgs = Vec::with_capacity(MESSAGES);
    for _ in 0..MESSAGES {
        let roll = rng.below(100);
        let msg = if roll < 45 {
            render(rng.pick(FACT_TEMPLATES), &mut rng)
        } else if roll < 90 {
            render(rng.pick(NOISE_TEMPLATES), &mut rng)
        } else if roll < 98 {
            // Two or three sentences in one message.
            let a = render(rng.pick(FACT_TEMPLATES), &mut rng);
            let b = render(rng.pick(NOISE_TEMPLATES), &mut rng);
            format!("{b} {a}")
        } else {
            // An occasional long paste with a fact buried in it.
            let mut s = FILLER.repeat(1 + rng.below(8) as usize);
            s.push_str(&render(rng.pick(FACT_TEMPLATES), &mut rng));
            s
        };
        msgs.push(msg);
    }
    msgs
}

/// Nanoseconds this thread has spent on a CPU (Linux), so the figure for one core can be
/// read even when other processes compete for it. `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() {
    let msgs = corpus();
    let bytes: usize = msgs.iter().map(String::len).sum();

    // One warm-up pass also counts facts (identical on every pass: the extractor is pure).
    let facts: usize = msgs.iter().map(|m| extract(m).len()).sum();

    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..PASSES {
        for m in &msgs {
            sink = sink.wrapping_add(black_box(extract(black_box(m))).len());
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    let processed = (MESSAGES * PASSES) as f64;
    let per_sec = processed / elapsed;
    let mean_us = elapsed * 1e6 / processed;
    assert_eq!(sink, facts * PASSES, "extract must be deterministic");

    println!(
        "messages={MESSAGES} passes={PASSES} mean_message_bytes={:.1}",
        bytes as f64 / MESSAGES as f64
    );
    println!("messages_per_sec={per_sec:.0} facts={facts}");
    println!("mean_per_message_us={mean_us:.3}");
    if let Some(cpu) = cpu {
        // Wall-clock figures drop when the machine is busy; on-CPU time does not.
        println!(
            "messages_per_cpu_sec={:.0} mean_cpu_per_message_us={:.3} cpu_share={:.2}",
            processed / cpu,
            cpu * 1e6 / processed,
            cpu / elapsed
        );
    }
}
