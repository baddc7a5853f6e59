//! The admin console end to end in a real browser: Debian's headless Chromium driven through
//! WebDriver (chromedriver) against the real daemon. An operator signs in with the keyboard,
//! reads the overview (which refreshes itself, pauses while hidden, and can be switched off),
//! finds a planted poison message by filter, patches it (the preview says whether it now
//! decodes), replays it and sees it processed, bulk-discards the rest with the count shown,
//! and forgets a user. A screenshot of each page is saved under
//! `target/console-screenshots/`. Every request any page made must go to the daemon itself.

mod common;
mod webdriver;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use webdriver::{Browser, ENTER, TAB};

const TOKEN: &str = "console-browser-token";
const WAIT: Duration = Duration::from_secs(20);

/// A message's `created_at`: now, so the chart's latency is the pipeline's own.
fn now() -> serde_json::Value {
    json!(chrono::Utc::now().to_rfc3339())
}

/// Every http(s)/ws(s) request went to `addr` (the browser's own chrome:// pages aside).
fn assert_only_this_host(browser: &Browser, addr: &str) {
    let requests = browser.requests();
    let ours = format!("http://{addr}/");
    let network: Vec<&String> = requests
        .iter()
        .filter(|u| {
            !(u.starts_with("chrome://")
                || u.starts_with("chrome-extension://")
                || u.starts_with("about:")
                || u.starts_with("data:"))
        })
        .collect();
    assert!(
        network
            .iter()
            .any(|u| u.contains("/admin/ui/assets/htmx-2.0.11.min.js")),
        "the performance log saw no page load: {requests:?}"
    );
    let foreign: Vec<&&String> = network.iter().filter(|u| !u.starts_with(&ours)).collect();
    assert!(foreign.is_empty(), "requests to another host: {foreign:?}");
}

/// Every visible control has a label (or names itself), so a screen reader can say what it is.
fn assert_labelled(b: &Browser, page: &str) {
    let unlabelled = b.exec(
        "return Array.from(document.querySelectorAll('input, select, textarea, button'))
           .filter(e => e.type !== 'hidden')
           .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.textContent || '').trim())
           .map(e => e.outerHTML)",
        vec![],
    );
    assert_eq!(unlabelled, json!([]), "{page} has unlabelled controls");
}

fn generated_at(b: &Browser) -> String {
    b.attr_of("#generated-at", "datetime").unwrap_or_default()
}

fn body_text(b: &Browser) -> String {
    b.exec("return document.body.textContent", vec![])
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn wait_text(b: &Browser, css: &str, needle: &str) -> String {
    b.wait(&format!("{css} to say {needle:?}"), WAIT, |b| {
        b.exec(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(css)],
        )
        .as_str()
        .filter(|t| t.contains(needle))
        .map(str::to_owned)
    })
}

fn submit_form_of(b: &Browser, css: &str) {
    let button = b.find(&format!("{css} button[type=submit]"));
    b.click(&button);
}

#[test]
fn an_operator_works_the_pipeline_from_a_browser() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN)]);
    let base = daemon.url("/admin/ui");

    // Planted: a message that becomes facts, the poison message (a role nobody knows), a
    // decoy with the same fault for another user, and three unreadable payloads.
    let chat = new_uuid();
    env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "forget-me", "I live in Porto.", now()),
    );
    let poison_msg = new_uuid();
    let mut poison = message_payload(
        &new_uuid(),
        &poison_msg,
        "poison-user",
        "I live in Lisbon.",
        now(),
    );
    poison["role"] = json!("robot");
    env.xadd_message(&new_uuid(), &poison);
    let mut decoy = message_payload(
        &new_uuid(),
        &new_uuid(),
        "someone-else",
        "I live in Lisbon too.",
        now(),
    );
    decoy["role"] = json!("robot");
    env.xadd_message(&new_uuid(), &decoy);
    for i in 0..3 {
        let id = new_uuid();
        env.xadd(&[
            ("event_id", id.as_bytes()),
            ("event_type", b"message.created"),
            ("payload", format!("{{not json {i}").as_bytes()),
        ]);
    }
    eventually("5 dead letters and 1 message processed", LONG, || {
        (env.count("SELECT count(*) FROM dead_letters") == 5
            && env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 1)
            .then_some(())
    });
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE reason = 'invalid_json'"),
        3
    );

    let b = Browser::start();

    // 1. No session: the sign-in page, and no data.
    b.goto(&base);
    b.find("#operator");
    let text = body_text(&b);
    assert!(text.contains("Admin token"), "{text}");
    for secret in ["Outbox pending", "Lisbon", "invalid_role"] {
        assert!(
            !b.source().contains(secret),
            "the sign-in page shows {secret:?}"
        );
    }
    b.screenshot("01-sign-in");

    // 2. Sign in with the keyboard only: type, Tab, type, Enter.
    b.exec("document.getElementById('operator').focus()", vec![]);
    b.press(&format!("ana{TAB}{TOKEN}{ENTER}"));
    b.find("#overview-live");
    assert!(
        b.current_url().ends_with("/admin/ui"),
        "{}",
        b.current_url()
    );
    let text = body_text(&b);
    for needle in [
        "Signed in as ana",
        "Outbox pending",
        "Stream",
        "Findings",
        "Dead letters by reason",
        "Actors of this process",
        "memlink processes",
        "Throughput and p99 latency",
    ] {
        assert!(
            text.contains(needle),
            "the overview lacks {needle:?}:\n{text}"
        );
    }
    // The doctor's finding about the letters, with its runbook text.
    let finding = b.text_of(".finding[data-code='dead_letters']");
    assert!(finding.contains("memlink dlq"), "{finding}");
    assert!(
        b.find_all(".finding[data-code='dead_letters'] details .runbook")
            .len()
            == 1
    );
    assert!(text.contains("invalid_json") && text.contains("invalid_role"));
    b.find("#overview-live svg rect.bar");
    b.screenshot("02-overview");

    // 3. It refreshes itself every 2 s; the toggle stops it; a hidden tab pauses it.
    let first = generated_at(&b);
    b.wait(
        "the overview to refresh itself",
        Duration::from_secs(8),
        |b| (generated_at(b) != first).then_some(()),
    );
    b.click(&b.find("#auto-refresh"));
    assert_eq!(
        b.attr_of("#overview-live", "data-refresh-state").as_deref(),
        Some("off")
    );
    assert_eq!(b.text_of("#refresh-state"), "Auto-refresh is off.");
    std::thread::sleep(Duration::from_millis(600));
    let frozen = generated_at(&b);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(generated_at(&b), frozen, "refreshed while switched off");
    b.click(&b.find("#auto-refresh"));
    b.exec(
        "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
         document.dispatchEvent(new Event('visibilitychange'));",
        vec![],
    );
    assert_eq!(
        b.attr_of("#overview-live", "data-refresh-state").as_deref(),
        Some("paused")
    );
    std::thread::sleep(Duration::from_millis(600));
    let paused = generated_at(&b);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        generated_at(&b),
        paused,
        "refreshed while the tab was hidden"
    );
    b.exec(
        "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
         document.dispatchEvent(new Event('visibilitychange'));",
        vec![],
    );
    b.wait("the refresh to resume", Duration::from_secs(8), |b| {
        (generated_at(b) != paused).then_some(())
    });

    // 4. Find the poison message by filter: user and text in the payload.
    b.click(&b.find("header nav a[href='/admin/ui/dead-letters']"));
    b.type_into(&b.find("#f-user"), "poison-user");
    b.type_into(&b.find("#f-text"), "Lisbon");
    submit_form_of(&b, "form.filters");
    wait_text(&b, "#match-count", "1 letter matches");
    assert_eq!(b.find_all("#letters tbody tr").len(), 1);
    b.screenshot("03-dead-letters-filtered");

    // 5. Its page: reason, offending field marked in the raw payload, replay check.
    b.click(&b.find("#letters tbody tr a"));
    assert_eq!(b.text_of("#letter-reason"), "invalid_role");
    assert_eq!(b.text_of("#offending-field"), "role");
    let hit = b.text_of("#payload .hit");
    assert!(hit.contains("\"role\": \"robot\""), "{hit}");
    assert!(b.text_of("#actions").contains("Would be refused"));
    assert_labelled(&b, "the dead letter's page");
    b.screenshot("04-dead-letter");

    // 6. A patch that still does not decode, then one that does: previewed as typed.
    let patch = b.find("#patch");
    b.type_into(&patch, r#"{"role": "bot"}"#);
    wait_text(&b, "#preview", "Would be refused");
    assert!(b.text_of("#patched").contains("\"role\": \"bot\""));
    assert!(
        b.try_find("#replay-patched").is_none(),
        "offered to replay what will be refused"
    );
    b.clear(&patch);
    b.type_into(&patch, r#"{"role": "user"}"#);
    wait_text(&b, "#preview", "Decodes: yes");
    let patched: Value =
        serde_json::from_str(&b.text_of("#patched")).expect("the patched payload is JSON");
    assert_eq!(patched["role"], "user");
    assert_eq!(patched["content"], "I live in Lisbon.");
    assert_labelled(&b, "the patch preview");
    b.screenshot("05-patch-preview");

    // 7. Confirm and replay: audited under the operator's name, then processed.
    b.click(&b.find("#patched-confirm"));
    b.click(&b.find("#replay-patched"));
    wait_text(&b, "#letter-status", "replayed");
    let history = b.text_of("#history");
    for needle in ["replay_patched", "ana", "console", r#"{"role":"user"}"#] {
        assert!(
            history.contains(needle),
            "{needle:?} not in the history:\n{history}"
        );
    }
    b.screenshot("06-replayed");
    eventually("the replayed message processed", LONG, || {
        (env.count(&format!(
            "SELECT count(*) FROM messages WHERE id = '{poison_msg}' AND processed_at IS NOT NULL"
        )) == 1)
            .then_some(())
    });
    b.goto(&daemon.url("/admin/ui/memory?user_id=poison-user"));
    wait_text(&b, "#facts", "Lisbon");
    b.screenshot("07-memory-replayed-user");

    // 8. Bulk-discard the unreadable rest: the count shown, confirmed, done as a job.
    b.goto(&daemon.url("/admin/ui/dead-letters?reason=invalid_json"));
    wait_text(&b, "#match-count", "3 letters match");
    b.click(&b.find("a.button.secondary[href*='action=discard']"));
    wait_text(&b, "#bulk-count", "3 dead letters match");
    assert!(b.text_of("#bulk-go").contains("Discard 3 dead letters"));
    assert_labelled(&b, "the bulk confirmation");
    b.screenshot("08-bulk-confirm");
    b.click(&b.find("#bulk-confirm"));
    b.click(&b.find("#bulk-go"));
    b.wait("the bulk job to finish", WAIT, |b| {
        b.attr_of("#job-state", "data-state")
            .filter(|s| s == "done")
    });
    assert_eq!(b.text_of("#job-affected"), "3");
    b.screenshot("09-bulk-done");
    assert_eq!(
        env.count(
            "SELECT count(*) FROM dead_letters d JOIN dead_letter_actions a ON a.dead_letter_id = d.id
              WHERE d.reason = 'invalid_json' AND d.status = 'discarded' AND a.bulk AND a.actor = 'ana' AND a.channel = 'console'"
        ),
        3
    );
    // The decoy was not taken by anything.
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'"),
        1
    );

    // 9. Memory: the user's facts, a fact's source with the span highlighted.
    b.goto(&daemon.url("/admin/ui/memory"));
    b.type_into(&b.find("#m-user"), "forget-me");
    submit_form_of(&b, "form.filters");
    wait_text(&b, "#facts", "Porto");
    b.click(&b.find("#facts a"));
    let mark = b.text_of(".source mark");
    assert!(mark.contains("Porto"), "{mark}");
    assert!(b.text_of(".source .quote").contains("I live in Porto."));
    b.screenshot("10-fact-sources");

    // 10. Forget the user: what goes is shown; the id typed to confirm.
    b.goto(&daemon.url("/admin/ui/memory?user_id=forget-me"));
    b.click(&b.find("#forget-user"));
    let summary = b.text_of("#forget-summary");
    assert!(
        summary.contains("1 facts") && summary.contains("1 messages"),
        "{summary}"
    );
    assert_labelled(&b, "the forget confirmation");
    b.screenshot("11-forget-confirm");
    b.type_into(&b.find("#confirm-user"), "forget-me");
    b.click(&b.find("#forget-go"));
    wait_text(&b, "#forget-done", "Forgot forget-me");
    b.screenshot("12-forgotten");
    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE user_id = 'forget-me'"),
        0
    );
    assert_eq!(
        env.count("SELECT count(*) FROM forget_log WHERE user_id = 'forget-me' AND actor = 'ana' AND channel = 'console'"),
        1
    );

    // Nothing came from anywhere but the daemon.
    assert_only_this_host(&b, &daemon.addr);
}

/// Read-only (no token, loopback): every page at a phone's width without sideways
/// scrolling, every control labelled, no action offered, dark mode distinct from light, and
/// nothing loaded from another host.
#[test]
fn a_read_only_console_reads_well_on_a_phone_in_dark_mode_and_stays_on_its_host() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[]);
    let chat = new_uuid();
    env.xadd_message(
        &new_uuid(),
        &message_payload(&chat, &new_uuid(), "rita", "My name is Rita and I live in a very-long-city-name-that-could-overflow-a-narrow-screen.", now()),
    );
    let mut bad = message_payload(&chat, &new_uuid(), "rita", "x", now());
    bad["role"] =
        json!("a-role-name-long-enough-to-test-wrapping-on-a-narrow-phone-screen-xxxxxxxxxxxx");
    env.xadd_message(&new_uuid(), &bad);
    let letter: String = eventually("a dead letter", LONG, || {
        env.pg()
            .query_opt("SELECT id::text FROM dead_letters", &[])
            .ok()
            .flatten()
            .map(|r| r.get(0))
    });
    let fact: String = eventually("a fact", LONG, || {
        env.pg()
            .query_opt(
                "SELECT id::text FROM facts WHERE user_id = 'rita' LIMIT 1",
                &[],
            )
            .ok()
            .flatten()
            .map(|r| r.get(0))
    });

    let b = Browser::start();
    b.set_window(390, 844);
    let pages = [
        ("overview", "/admin/ui".to_owned()),
        (
            "dead-letters",
            "/admin/ui/dead-letters?status=any".to_owned(),
        ),
        ("dead-letter", format!("/admin/ui/dead-letters/{letter}")),
        (
            "memory",
            "/admin/ui/memory?user_id=rita&view=history".to_owned(),
        ),
        ("fact", format!("/admin/ui/memory/facts/{fact}")),
        ("sign-in", "/admin/ui/sign-in".to_owned()),
    ];
    for (name, path) in &pages {
        b.goto(&daemon.url(path));
        b.find("main");
        let overflow = b.exec(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        );
        assert!(
            overflow[0].as_i64() <= overflow[1].as_i64(),
            "{name} scrolls sideways at 390 px: {overflow}"
        );
        assert_labelled(&b, name);
        let source = b.source();
        for action in ["/replay\"", "/discard\"", "forget-user?", "action=discard"] {
            assert!(!source.contains(action), "read-only {name} offers {action}");
        }
        b.screenshot(&format!("phone-{name}"));
    }
    assert!(body_text(&b).contains("read-only"));

    // Dark mode: the page follows the system's preference.
    b.set_window(1280, 900);
    b.goto(&daemon.url("/admin/ui"));
    b.find("#overview-live");
    let light = b.exec(
        "return getComputedStyle(document.body).backgroundColor",
        vec![],
    );
    b.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    );
    b.goto(&daemon.url("/admin/ui"));
    b.find("#overview-live");
    let dark = b.exec(
        "return getComputedStyle(document.body).backgroundColor",
        vec![],
    );
    assert_ne!(light, dark, "dark mode looks like light mode");
    b.screenshot("dark-overview");
    b.goto(&daemon.url(&format!("/admin/ui/dead-letters/{letter}")));
    b.find("#payload");
    b.screenshot("dark-dead-letter");

    assert_only_this_host(&b, &daemon.addr);
}
