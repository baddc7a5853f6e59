//! The admin console over plain HTTP, on the real daemon: sign-in and its cookie, no data
//! without a session, CSRF and origin checks on every action, the modes
//! (`MEMLINK_CONSOLE=off|read-only|on` and their defaults), actions audited with the
//! operator's name through the same store code as the API, and keyset paging and a bulk
//! action at 100,000 dead letters.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const TOKEN: &str = "console-http-token";

/// One HTTP exchange without following redirects.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `name="csrf"` value of the page's first form.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').expect("end of the value")].to_owned()
    }
}

fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(60))
        .build();
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let res = match form {
        Some(f) => req.send_form(f),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            resp.all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let body = resp.into_string().unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// Signs in; returns the `Cookie` header value.
fn sign_in(daemon: &Daemon, operator: &str) -> String {
    let a = http(
        "POST",
        &daemon.url("/admin/ui/sign-in"),
        &[],
        Some(&[
            ("operator", operator),
            ("token", TOKEN),
            ("next", "/admin/ui"),
        ]),
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let set = a.header("set-cookie").expect("a session cookie");
    set.split(';').next().expect("name=value").to_owned()
}

/// A poison message (unknown role) saying `content`; returns its dead letter's id.
fn plant_poison(env: &TestEnv, user: &str, content: &str) -> String {
    let mut p = message_payload(&new_uuid(), &new_uuid(), user, content, json!(1769067099));
    p["role"] = json!("robot");
    let entry = env.xadd_message(&new_uuid(), &p);
    eventually("the poison message dead-lettered", LONG, || {
        env.pg()
            .query_opt(
                "SELECT id::text FROM dead_letters WHERE source_ref = $1",
                &[&entry],
            )
            .ok()
            .flatten()
            .map(|r| r.get::<_, String>(0))
    })
}

fn letter_status(env: &TestEnv, id: &str) -> String {
    env.pg()
        .query_one(
            "SELECT status FROM dead_letters WHERE id = $1::text::uuid",
            &[&id],
        )
        .expect("the letter")
        .get(0)
}

#[test]
fn without_a_session_the_console_shows_the_sign_in_page_never_data() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN)]);
    let id = plant_poison(&env, "carla", "I live in Secretville.");
    let pages = [
        "/admin/ui".to_owned(),
        "/admin/ui/".to_owned(),
        "/admin/ui/overview/live".to_owned(),
        "/admin/ui/dead-letters".to_owned(),
        "/admin/ui/dead-letters?user_id=carla".to_owned(),
        format!("/admin/ui/dead-letters/{id}"),
        "/admin/ui/dead-letters/bulk?action=discard".to_owned(),
        "/admin/ui/memory?user_id=carla".to_owned(),
        format!("/admin/ui/jobs/{}", new_uuid()),
    ];
    let bad_cookies = [
        None,
        Some("memlink_console=v1.9999999999.bm9uY2U.cm9vdA.forged".to_owned()),
        Some("memlink_console=garbage".to_owned()),
    ];
    for path in &pages {
        for cookie in &bad_cookies {
            let headers: Vec<(&str, &str)> = cookie
                .as_deref()
                .map(|c| vec![("Cookie", c)])
                .unwrap_or_default();
            let a = http("GET", &daemon.url(path), &headers, None);
            assert_eq!(a.status, 401, "{path} {cookie:?}: {}", a.body);
            assert!(a.body.contains(r#"name="token""#), "{path}: {}", a.body);
            // (The path itself comes back in the form's `next` field: it is the asker's own.)
            for secret in ["Secretville", "robot", "Outbox pending", "invalid_role"] {
                assert!(!a.body.contains(secret), "{path} shows {secret:?}");
            }
            let csp = a.header("content-security-policy").expect("a CSP");
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
            assert_eq!(a.header("cache-control"), Some("no-store"));
        }
    }
    // An htmx refresh without a session is sent to the sign-in page, back to its page after.
    let a = http(
        "GET",
        &daemon.url("/admin/ui/overview/live"),
        &[
            ("HX-Request", "true"),
            (
                "HX-Current-URL",
                &daemon.url("/admin/ui/dead-letters?reason=x"),
            ),
        ],
        None,
    );
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("hx-redirect"),
        Some("/admin/ui/sign-in?next=%2Fadmin%2Fui%2Fdead-letters%3Freason%3Dx")
    );
    // Static assets carry no data and are served to anyone; nothing else is.
    let js = http(
        "GET",
        &daemon.url("/admin/ui/assets/htmx-2.0.11.min.js"),
        &[],
        None,
    );
    assert_eq!(js.status, 200);
    assert!(js.body.contains("htmx"));
    assert_eq!(
        http("GET", &daemon.url("/admin/ui/assets/x.js"), &[], None).status,
        404
    );

    // A wrong token: refused, slowly, and no cookie.
    let started = Instant::now();
    let wrong = http(
        "POST",
        &daemon.url("/admin/ui/sign-in"),
        &[],
        Some(&[("operator", "mallory"), ("token", "guess")]),
    );
    assert_eq!(wrong.status, 401);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(wrong.header("set-cookie").is_none());
    assert!(wrong.body.contains("not the admin token"));
    assert!(
        !daemon.log_text().contains("guess"),
        "the presented token was logged"
    );

    // The cookie: HttpOnly, SameSite=Strict, the console's path, Secure only over TLS.
    let ok = http(
        "POST",
        &daemon.url("/admin/ui/sign-in"),
        &[],
        Some(&[
            ("operator", "ana"),
            ("token", TOKEN),
            ("next", "https://evil.example/"),
        ]),
    );
    assert_eq!(ok.status, 303);
    assert_eq!(ok.header("location"), Some("/admin/ui"));
    let set = ok.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin/ui", "Max-Age="] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    assert!(!set.contains(TOKEN), "{set}");
    let tls = http(
        "POST",
        &daemon.url("/admin/ui/sign-in"),
        &[("X-Forwarded-Proto", "https")],
        Some(&[("operator", "ana"), ("token", TOKEN)]),
    );
    assert!(tls.header("set-cookie").unwrap().contains("; Secure"));

    // Signed in, the data is there.
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = http(
        "GET",
        &daemon.url(&format!("/admin/ui/dead-letters/{id}")),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Secretville") && page.body.contains("Signed in as"));
    // Signing out clears the cookie.
    let out = http(
        "POST",
        &daemon.url("/admin/ui/sign-out"),
        &[("Cookie", &cookie)],
        Some(&[("csrf", &page.csrf())]),
    );
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    // The JSON API is unchanged: the bearer token, and JSON errors.
    let (code, body) = daemon.get("/admin/dead-letters");
    assert_eq!(code, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[test]
fn actions_need_the_csrf_token_the_same_origin_and_a_confirmation() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN)]);
    let id = plant_poison(&env, "dora", "hello");
    let cookie = sign_in(&daemon, "Ana Operator");
    let page = http(
        "GET",
        &daemon.url(&format!("/admin/ui/dead-letters/{id}")),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let discard = daemon.url(&format!("/admin/ui/dead-letters/{id}/discard"));
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let refused: [(Pairs, Pairs, u16); 5] = [
        (vec![], vec![("confirm", "yes")], 403),
        (vec![], vec![("csrf", "forged"), ("confirm", "yes")], 403),
        (
            vec![("Origin", "http://evil.example")],
            vec![("csrf", csrf.as_str()), ("confirm", "yes")],
            403,
        ),
        (vec![], vec![("csrf", csrf.as_str())], 400),
        (
            vec![],
            vec![
                ("csrf", csrf.as_str()),
                ("confirm", "yes"),
                ("note", "a\0b"),
            ],
            400,
        ),
    ];
    for (extra, form, status) in refused {
        let mut headers = vec![("Cookie", cookie.as_str())];
        headers.extend_from_slice(&extra);
        let a = http("POST", &discard, &headers, Some(&form));
        assert_eq!(a.status, status, "{form:?} {extra:?}: {}", a.body);
        assert_eq!(letter_status(&env, &id), "dead");
    }
    // Without the cookie the CSRF token alone is nothing.
    let a = http(
        "POST",
        &discard,
        &[],
        Some(&[("csrf", &csrf), ("confirm", "yes")]),
    );
    assert_eq!(a.status, 401);
    // A session signed with another token is no session.
    let other = TestEnv::new();
    let other_daemon = other.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", "another-token")]);
    let a = http(
        "GET",
        &other_daemon.url("/admin/ui"),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(a.status, 401);

    // Same origin, the form's token, confirmed: done, audited under the operator's name.
    let origin = format!("http://{}", daemon.addr);
    let a = http(
        "POST",
        &discard,
        &[("Cookie", &cookie), ("Origin", &origin)],
        Some(&[
            ("csrf", &csrf),
            ("confirm", "yes"),
            ("note", "from the console"),
        ]),
    );
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.header("location"),
        Some(format!("/admin/ui/dead-letters/{id}?done=discarded").as_str())
    );
    assert_eq!(letter_status(&env, &id), "discarded");
    assert_eq!(
        env.count(
            "SELECT count(*) FROM dead_letter_actions WHERE action = 'discard' AND actor = 'Ana Operator' \
             AND channel = 'console' AND note = 'from the console' AND NOT bulk"
        ),
        1
    );
    // The same store code as the API and the CLI: the same log line, and the API sees it.
    assert!(daemon.log_text().contains(r#"event=dead_letter_discarded"#));
    let (code, detail) = daemon.get_auth(&format!("/admin/dead-letters/{id}"), Some(TOKEN));
    assert_eq!(code, 200);
    assert_eq!(detail["actions"][0]["channel"], "console");
    assert_eq!(detail["actions"][0]["actor"], "Ana Operator");
    // A second discard is refused the way the API refuses it.
    let again = http(
        "POST",
        &discard,
        &[("Cookie", &cookie)],
        Some(&[("csrf", &csrf), ("confirm", "yes")]),
    );
    assert_eq!(again.status, 409);
    assert!(again.body.contains("not_dead"), "{}", again.body);
}

#[test]
fn the_console_modes_and_their_defaults() {
    let env = TestEnv::new();
    env.migrate();
    let id = plant_letter_directly(&env);

    // No token on loopback: read-only, no sign-in, and no action.
    let open = env.spawn_daemon(&[]);
    let a = http("GET", &open.url("/admin/ui"), &[], None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("read-only") && a.body.contains("Outbox pending"));
    assert!(open
        .log_text()
        .contains("event=console_mode mode=read-only"));
    let detail = http(
        "GET",
        &open.url(&format!("/admin/ui/dead-letters/{id}")),
        &[],
        None,
    );
    assert_eq!(detail.status, 200);
    assert!(!detail.body.contains(r#"id="replay""#) && !detail.body.contains("/discard"));
    let a = http(
        "POST",
        &open.url(&format!("/admin/ui/dead-letters/{id}/discard")),
        &[],
        Some(&[("csrf", ""), ("confirm", "yes")]),
    );
    assert_eq!(a.status, 403);
    assert_eq!(letter_status(&env, &id), "dead");
    drop(open);

    // Off: every console path is the API's 404; the API itself is untouched.
    let off = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN), ("MEMLINK_CONSOLE", "off")]);
    for path in [
        "/admin/ui",
        "/admin/ui/sign-in",
        "/admin/ui/assets/console.css",
    ] {
        let (code, body) = off.get(path);
        assert_eq!(code, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    assert_eq!(off.get_auth("/admin/status", Some(TOKEN)).0, 200);
    drop(off);

    // Read-only with a token: sign in to look; every action refused even with the CSRF token.
    let ro = env.spawn_daemon(&[
        ("MEMLINK_ADMIN_TOKEN", TOKEN),
        ("MEMLINK_CONSOLE", "read-only"),
    ]);
    assert_eq!(http("GET", &ro.url("/admin/ui"), &[], None).status, 401);
    let cookie = sign_in(&ro, "ana");
    let page = http(
        "GET",
        &ro.url(&format!("/admin/ui/dead-letters/{id}")),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(page.status, 200);
    let a = http(
        "POST",
        &ro.url(&format!("/admin/ui/dead-letters/{id}/discard")),
        &[("Cookie", &cookie)],
        Some(&[("csrf", &page.csrf()), ("confirm", "yes")]),
    );
    assert_eq!(a.status, 403);
    assert!(a.body.contains("read-only"));
    assert_eq!(letter_status(&env, &id), "dead");
    drop(ro);

    // `on` without a token is a configuration error, before anything binds.
    let run = env.command(&["run"], &[("MEMLINK_CONSOLE", "on")]);
    assert_eq!(run.code, Some(64), "{}", run.stderr);
    assert!(run.stderr.contains("MEMLINK_CONSOLE"), "{}", run.stderr);
    let run = env.command(&["run"], &[("MEMLINK_CONSOLE", "sometimes")]);
    assert_eq!(run.code, Some(64), "{}", run.stderr);
}

#[test]
fn forgetting_from_the_console_needs_a_confirmation_and_is_audited() {
    let env = TestEnv::new();
    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN)]);
    let chat = new_uuid();
    let (code, body) = daemon.post_message(&chat, "fern", "user", "I live in Oslo.");
    assert_eq!(code, 201, "{body}");
    let message = body["message_id"]
        .as_str()
        .expect("a message id")
        .to_owned();
    let (code, _) = daemon.post_message(&chat, "fern", "user", "My name is Fern.");
    assert_eq!(code, 201);
    eventually("both processed", LONG, || {
        (env.count("SELECT count(*) FROM messages WHERE processed_at IS NOT NULL") == 2)
            .then_some(())
    });
    let cookie = sign_in(&daemon, "privacy-officer");
    let confirm = http(
        "GET",
        &daemon.url(&format!(
            "/admin/ui/memory/forget-message?chat_id={chat}&message_id={message}"
        )),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("I live in Oslo."));
    let csrf = confirm.csrf();
    let post = |form: &[(&str, &str)]| {
        http(
            "POST",
            &daemon.url("/admin/ui/memory/forget-message"),
            &[("Cookie", &cookie)],
            Some(form),
        )
    };
    // Unconfirmed: nothing happens.
    let a = post(&[
        ("csrf", &csrf),
        ("chat_id", &chat),
        ("message_id", &message),
    ]);
    assert_eq!(a.status, 400);
    assert_eq!(env.count("SELECT count(*) FROM messages"), 2);
    let a = post(&[
        ("csrf", &csrf),
        ("chat_id", &chat),
        ("message_id", &message),
        ("confirm", "yes"),
    ]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Forgot message"));
    assert_eq!(env.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM forget_log WHERE scope = 'message' AND actor = 'privacy-officer' AND channel = 'console'"
        ),
        1
    );
    // Gone: a second time is a 404.
    let again = post(&[
        ("csrf", &csrf),
        ("chat_id", &chat),
        ("message_id", &message),
        ("confirm", "yes"),
    ]);
    assert_eq!(again.status, 404);

    // Forgetting the user needs the id typed again.
    let wrong = http(
        "POST",
        &daemon.url("/admin/ui/memory/forget-user"),
        &[("Cookie", &cookie)],
        Some(&[
            ("csrf", &csrf),
            ("user_id", "fern"),
            ("confirm_user_id", "Fern"),
        ]),
    );
    assert_eq!(wrong.status, 400);
    assert_eq!(
        env.count("SELECT count(*) FROM facts WHERE user_id = 'fern'"),
        1
    );
    // The API's forget is unchanged: no actor recorded.
    let (code, _) = request("DELETE", &daemon.url("/v1/users/fern"), None, Some(TOKEN));
    assert_eq!(code, 200);
    assert_eq!(
        env.count("SELECT count(*) FROM forget_log WHERE scope = 'user' AND actor IS NULL AND channel IS NULL"),
        1
    );
}

/// A dead letter written as the worker would, without running one.
fn plant_letter_directly(env: &TestEnv) -> String {
    let id = new_uuid();
    let payload = json!({"message_id": new_uuid(), "chat_id": new_uuid(), "user_id": "eve",
                         "role": "robot", "content": "hi", "created_at": 1769067099});
    env.pg()
        .execute(
            "INSERT INTO dead_letters (id, received_at, source, source_ref, event_id, event_type, reason, detail,
                                       raw, raw_len, payload, first_seen, last_seen, actor)
             VALUES ($1::text::uuid, now(), 'stream', $2, $3, 'message.created', 'invalid_role',
                     'role: \"robot\" is not one of user, assistant, system', $4::bytea, length($4::bytea), $4::bytea,
                     now(), now(), 'worker')",
            &[&id, &format!("1-{}", rand::random::<u32>()), &new_uuid(), &payload.to_string().into_bytes()],
        )
        .expect("insert a dead letter");
    id
}

/// Keyset paging: every page is the next 50 in order, however deep; filters are counted on
/// the server; a bulk action over 50,000 letters answers at once and runs as a job.
#[test]
fn paging_and_bulk_hold_at_100k_dead_letters() {
    let env = TestEnv::new();
    env.migrate();
    let mut pg = env.pg();
    let started = Instant::now();
    // 100,000 letters, one millisecond apart, two reasons; every tenth names user u-<n % 7>.
    pg.batch_execute(
        "INSERT INTO dead_letters (id, received_at, source, source_ref, event_id, event_type, reason, detail,
                                   raw, raw_len, payload, first_seen, last_seen, actor)
         SELECT gen_random_uuid(), timestamptz '2026-01-01' + n * interval '1 millisecond', 'stream', n::text,
                NULL, 'message.created', CASE WHEN n % 2 = 0 THEN 'invalid_json' ELSE 'invalid_role' END,
                'payload: generated', convert_to('letter ' || n, 'UTF8'), 10,
                CASE WHEN n % 10 = 0 THEN convert_to('{\"user_id\": \"u-' || (n % 7) || '\", \"n\": ' || n || '}', 'UTF8')
                     ELSE convert_to('{\"n\": ' || n || '}', 'UTF8') END,
                now(), now(), 'worker'
           FROM generate_series(1, 100000) AS n;
         ANALYZE dead_letters;",
    )
    .expect("insert 100,000 dead letters");
    eprintln!("inserted 100,000 dead letters in {:?}", started.elapsed());

    let daemon = env.spawn_daemon(&[("MEMLINK_ADMIN_TOKEN", TOKEN)]);
    let cookie = sign_in(&daemon, "bulk-operator");
    let get = |path: &str| {
        let t = Instant::now();
        let a = http("GET", &daemon.url(path), &[("Cookie", &cookie)], None);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        (a, t.elapsed())
    };
    let rows = |a: &Answer| -> Vec<String> {
        a.body
            .match_indices("href=\"/admin/ui/dead-letters/")
            .map(|(i, m)| a.body[i + m.len()..i + m.len() + 36].to_owned())
            .filter(|s| !s.starts_with("bulk"))
            .collect()
    };
    let expected_page = |offset: i64| -> Vec<String> {
        env.pg()
            .query(
                "SELECT id::text FROM dead_letters ORDER BY received_at DESC, id DESC OFFSET $1 LIMIT 50",
                &[&offset],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };

    // The first page, then five "Older" pages, exactly as the database orders them.
    let (mut page, first_took) = get("/admin/ui/dead-letters");
    assert!(
        page.body.contains("<strong>100000</strong> letters match"),
        "count"
    );
    let mut seen = Vec::new();
    for n in 0..6 {
        let ids = rows(&page);
        assert_eq!(ids, expected_page(n * 50), "page {n}");
        seen.extend(ids);
        let next = page
            .body
            .split("rel=\"next\"")
            .next()
            .and_then(|s| s.rsplit("href=\"").next())
            .map(|s| s[..s.find('"').unwrap()].replace("&amp;", "&"))
            .expect("an Older link");
        page = get(&next).0;
    }
    let distinct: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 300);

    // Deep in the list: the page after the 90,000th letter costs what the first did.
    let (at_micros, deep_id): (i64, String) = {
        let r = env
            .pg()
            .query_one(
                "SELECT (extract(epoch FROM received_at) * 1000000)::bigint, id::text FROM dead_letters
                  ORDER BY received_at DESC, id DESC OFFSET 89999 LIMIT 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    let (deep, deep_took) = get(&format!(
        "/admin/ui/dead-letters?before={at_micros}_{deep_id}"
    ));
    assert_eq!(rows(&deep), expected_page(90_000));
    // Back one page from there: the 50 before it, in the same order.
    let first_deep = rows(&deep)[0].clone();
    let first_micros: i64 = env
        .pg()
        .query_one(
            "SELECT (extract(epoch FROM received_at) * 1000000)::bigint FROM dead_letters WHERE id = $1::text::uuid",
            &[&first_deep],
        )
        .unwrap()
        .get(0);
    let (back, _) = get(&format!(
        "/admin/ui/dead-letters?after={first_micros}_{first_deep}"
    ));
    assert_eq!(rows(&back), expected_page(89_950));
    eprintln!("first page {first_took:?}, page 1,801 {deep_took:?}");

    // Server-side filters, counted: reason, user (payload user_id) and payload text.
    let (by_user, user_took) = get("/admin/ui/dead-letters?user_id=u-3&reason=invalid_json");
    let want = env.count(
        "SELECT count(*) FROM dead_letters WHERE reason = 'invalid_json' AND convert_from(payload, 'UTF8')::jsonb ->> 'user_id' = 'u-3'",
    );
    assert!(want > 100);
    assert!(by_user
        .body
        .contains(&format!("<strong>{want}</strong> letters match")));
    let (by_text, text_took) = get("/admin/ui/dead-letters?text=%22n%22%3A+77777%7D");
    assert!(
        by_text.body.contains("<strong>1</strong> letter matches"),
        "text filter"
    );
    eprintln!("user filter {user_took:?}, payload text filter {text_took:?}");

    // Bulk discard of the 50,000 invalid_json letters: the count shown, confirmed, started at
    // once as a job, and the job finishes with all of them.
    let (confirm, _) = get("/admin/ui/dead-letters/bulk?action=discard&reason=invalid_json");
    assert!(confirm
        .body
        .contains("<strong>50000</strong> dead letters match"));
    let t = Instant::now();
    let start = http(
        "POST",
        &daemon.url("/admin/ui/dead-letters/bulk"),
        &[("Cookie", &cookie)],
        Some(&[
            ("csrf", &confirm.csrf()),
            ("action", "discard"),
            ("reason", "invalid_json"),
            ("expected", "50000"),
            ("confirm", "yes"),
        ]),
    );
    assert_eq!(start.status, 303, "{}", start.body);
    eprintln!("bulk discard of 50,000 answered in {:?}", t.elapsed());
    let job = start.header("location").unwrap().to_owned();
    let done = eventually("the bulk job done", Duration::from_secs(240), || {
        let a = http(
            "GET",
            &daemon.url(&format!("{job}/status")),
            &[("Cookie", &cookie)],
            None,
        );
        a.body.contains("data-state=\"done\"").then_some(a)
    });
    assert!(
        done.body
            .contains("<strong id=\"job-affected\">50000</strong>"),
        "{}",
        done.body
    );
    eprintln!("bulk discard of 50,000 finished after {:?}", t.elapsed());
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE status = 'discarded'"),
        50_000
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM dead_letter_actions WHERE bulk AND actor = 'bulk-operator' AND channel = 'console'"
        ),
        50_000
    );
}
