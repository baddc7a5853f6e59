//! `memlink dlq ...`: the dead-letter CLI. It talks to Postgres directly through the same
//! store functions as the admin HTTP endpoints ([`crate::postgres::dlq`]), so it needs only
//! DATABASE_URL and works with the daemon stopped: a replay is written to the outbox, and the
//! relay publishes it whenever a daemon runs.
//!
//! Exit codes: 0 done (a bulk run that skipped some letters is done too: the report says
//! which and why); 1 refused (no such letter, not dead, not replayable, replay invalid);
//! 64 bad arguments or configuration; 69 Postgres unavailable or its schema behind.
//! It must never migrate the schema nor print a secret (the database URL is not echoed).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cli::{DlqActionArgs, DlqBulkArgs, DlqCommand};
use crate::config;
use crate::exit;
use crate::postgres::dlq::{
    self, BulkFilter, BulkReport, Channel, DeadLetterDetail, DlqError, LetterStatus, ListFilter,
    ListPage, Operator,
};
use crate::postgres::{self, PgPool};

/// The actor when neither `--actor` nor `$USER` names one.
pub const DEFAULT_ACTOR: &str = "cli";

/// A validated `memlink dlq` request.
#[derive(Debug)]
enum Request {
    List {
        filter: ListFilter,
        json: bool,
    },
    Show {
        id: Uuid,
        json: bool,
    },
    Replay {
        id: Uuid,
        patch: Option<Value>,
        action: Action,
    },
    Discard {
        id: Uuid,
        action: Action,
    },
    /// Every letter a filter selects, replayed or discarded.
    Bulk {
        kind: BulkKind,
        filter: BulkFilter,
        dry_run: bool,
        action: Action,
    },
}

#[derive(Debug, Clone, Copy)]
enum BulkKind {
    Replay,
    Discard,
}

#[derive(Debug)]
struct Action {
    actor: Operator,
    note: Option<String>,
    json: bool,
}

/// Runs one `memlink dlq` command; returns the process exit code.
pub fn run(command: DlqCommand) -> u8 {
    let user = std::env::var("USER").ok();
    let request = match Request::parse(command, user.as_deref()) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("memlink: {message}");
            return exit::CONFIG;
        }
    };
    let url = match config::database_url(&|k| std::env::var(k).ok()) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("memlink: configuration error: {e}");
            return exit::CONFIG;
        }
    };
    actix_web::rt::System::new().block_on(execute(url, request))
}

fn parse_id(raw: &str) -> Result<Uuid, String> {
    Uuid::try_parse(raw.trim()).map_err(|_| format!("{raw:?} is not a dead letter id (a UUID)"))
}

fn parse_chat(raw: Option<&str>) -> Result<Option<Uuid>, String> {
    raw.map(|s| Uuid::try_parse(s.trim()).map_err(|_| format!("--chat-id {s:?} is not a UUID")))
        .transpose()
}

fn parse_since(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("--since {s:?} is not an RFC 3339 date-time"))
    })
    .transpose()
}

impl Request {
    fn parse(command: DlqCommand, user: Option<&str>) -> Result<Request, String> {
        Ok(match command {
            DlqCommand::List {
                reason,
                chat_id,
                since,
                status,
                limit,
                offset,
                json,
            } => {
                if !(1..=1000).contains(&limit) {
                    return Err("--limit must be between 1 and 1000".to_owned());
                }
                let status = status
                    .as_deref()
                    .map(|s| {
                        LetterStatus::parse(s).ok_or_else(|| {
                            format!("--status {s:?} is not one of dead, replayed, discarded")
                        })
                    })
                    .transpose()?;
                Request::List {
                    filter: ListFilter {
                        reason,
                        chat_id: parse_chat(chat_id.as_deref())?,
                        since: parse_since(since.as_deref())?,
                        status,
                        limit,
                        offset: offset.max(0),
                    },
                    json,
                }
            }
            DlqCommand::Show { id, json } => Request::Show {
                id: parse_id(&id)?,
                json,
            },
            DlqCommand::Replay {
                id,
                patch,
                bulk,
                common,
            } => {
                let action = Action::parse(common, user)?;
                match id {
                    Some(id) => Request::Replay {
                        id: parse_id(&id)?,
                        patch: patch
                            .map(|p| {
                                serde_json::from_str(&p)
                                    .map_err(|e| format!("--patch is not valid JSON: {e}"))
                            })
                            .transpose()?,
                        action,
                    },
                    None if patch.is_some() => {
                        return Err(
                            "--patch needs a dead letter id: a bulk replay is never patched"
                                .to_owned(),
                        )
                    }
                    None => bulk_request(BulkKind::Replay, bulk, action)?,
                }
            }
            DlqCommand::Discard { id, bulk, common } => {
                let action = Action::parse(common, user)?;
                match id {
                    Some(id) => Request::Discard {
                        id: parse_id(&id)?,
                        action,
                    },
                    None => bulk_request(BulkKind::Discard, bulk, action)?,
                }
            }
        })
    }
}

impl Action {
    fn parse(args: DlqActionArgs, user: Option<&str>) -> Result<Action, String> {
        let name = args
            .actor
            .as_deref()
            .or(user.filter(|u| !u.trim().is_empty()))
            .unwrap_or(DEFAULT_ACTOR);
        let actor = Operator::parse(name, Channel::Cli).map_err(|why| format!("--actor: {why}"))?;
        if let Some(note) = &args.note {
            dlq::check_note(note).map_err(|why| format!("--note: {why}"))?;
        }
        Ok(Action {
            actor,
            note: args.note,
            json: args.json,
        })
    }
}

fn bulk_request(kind: BulkKind, args: DlqBulkArgs, action: Action) -> Result<Request, String> {
    let (filter, dry_run) = bulk_filter(args)?;
    Ok(Request::Bulk {
        kind,
        filter,
        dry_run,
        action,
    })
}

fn bulk_filter(args: DlqBulkArgs) -> Result<(BulkFilter, bool), String> {
    let filter = BulkFilter {
        reason: args.reason,
        chat_id: parse_chat(args.chat_id.as_deref())?,
        since: parse_since(args.since.as_deref())?,
        all: args.all,
        ..BulkFilter::default()
    };
    filter.check().map_err(|_| {
        "give a dead letter id, or a filter (--reason, --chat-id, --since) or --all for a bulk action"
            .to_owned()
    })?;
    Ok((filter, args.dry_run))
}

async fn execute(url: String, request: Request) -> u8 {
    let pool = match postgres::build_pool(&url, 2) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("memlink: {e}");
            return exit::UNAVAILABLE;
        }
    };
    let expected = postgres::expected_schema_version();
    match postgres::current_schema_version(&pool).await {
        Ok(found) if found >= expected => {}
        Ok(found) => {
            eprintln!(
                "memlink: the database schema is at version {found}, this binary needs {expected}: run `memlink migrate`"
            );
            return exit::UNAVAILABLE;
        }
        Err(e) => {
            eprintln!("memlink: postgres is unavailable: {}", e.message);
            return exit::UNAVAILABLE;
        }
    }
    let json = request_json(&request);
    match perform(&pool, request).await {
        Ok(output) => {
            print!("{output}");
            exit::OK
        }
        Err(e) => report_error(&e, json),
    }
}

fn request_json(r: &Request) -> bool {
    match r {
        Request::List { json, .. } | Request::Show { json, .. } => *json,
        Request::Replay { action, .. }
        | Request::Discard { action, .. }
        | Request::Bulk { action, .. } => action.json,
    }
}

/// Does the request; returns what to print on stdout.
async fn perform(pool: &PgPool, request: Request) -> Result<String, DlqError> {
    Ok(match request {
        Request::List { filter, json } => {
            let page = dlq::list(pool, &filter).await?;
            if json {
                json_line(&page)
            } else {
                render_list(&page, &filter)
            }
        }
        Request::Show { id, json } => {
            let detail = dlq::show(pool, id).await?.ok_or(DlqError::NotFound(id))?;
            if json {
                json_line(&detail)
            } else {
                render_detail(&detail)
            }
        }
        Request::Replay { id, patch, action } => {
            let o = dlq::replay(
                pool,
                id,
                patch.as_ref(),
                &action.actor,
                action.note.as_deref(),
            )
            .await?;
            if action.json {
                json_line(&o)
            } else {
                format!(
                    "replayed dead letter {} ({}){} as event {}: outbox row {}\n",
                    o.dead_letter_id,
                    o.reason,
                    if o.patched { " with a patch" } else { "" },
                    o.event_id,
                    o.outbox_action
                )
            }
        }
        Request::Discard { id, action } => {
            let o = dlq::discard(pool, id, &action.actor, action.note.as_deref()).await?;
            if action.json {
                json_line(&o)
            } else {
                format!(
                    "discarded dead letter {} ({})\n",
                    o.dead_letter_id, o.reason
                )
            }
        }
        Request::Bulk {
            kind,
            filter,
            dry_run,
            action,
        } => {
            let (actor, note) = (&action.actor, action.note.as_deref());
            let r = match kind {
                BulkKind::Replay => dlq::bulk_replay(pool, &filter, actor, dry_run, note).await?,
                BulkKind::Discard => dlq::bulk_discard(pool, &filter, actor, dry_run, note).await?,
            };
            render_bulk(&r, action.json)
        }
    })
}

fn report_error(e: &DlqError, json: bool) -> u8 {
    eprintln!("memlink: {e} ({})", e.code());
    if json {
        let mut body = json!({"error": {"code": e.code(), "message": e.to_string()}});
        if let DlqError::ReplayInvalid { rejection, .. } = e {
            body["error"]["rejection"] =
                json!({"reason": rejection.reason, "detail": rejection.detail});
        }
        println!("{body}");
    }
    match e {
        DlqError::Port(_) => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    }
}

fn json_line<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(s) => format!("{s}\n"),
        Err(e) => format!(
            "{{\"error\": {{\"code\": \"render\", \"message\": {:?}}}}}\n",
            e.to_string()
        ),
    }
}

/// Text from the outside world, made safe for a terminal: control characters (escape
/// sequences included) are shown as `?`, and the text is cut at `max` characters.
fn printable(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > max {
        out.pop();
        out.push('…');
    }
    out
}

fn render_list(page: &ListPage, filter: &ListFilter) -> String {
    if page.dead_letters.is_empty() {
        return format!("no dead letters match ({} in all)\n", page.total);
    }
    let header = [
        "ID",
        "RECEIVED_AT",
        "SOURCE",
        "STATUS",
        "REASON",
        "EVENT_ID",
        "DETAIL",
    ];
    let rows: Vec<[String; 7]> = page
        .dead_letters
        .iter()
        .map(|d| {
            [
                d.id.to_string(),
                d.received_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                d.source.clone(),
                d.status.clone(),
                printable(&d.reason, 32),
                printable(d.event_id.as_deref().unwrap_or("-"), 36),
                printable(&d.detail, 60),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    let shown_to = filter.offset + page.dead_letters.len() as i64;
    out.push_str(&format!(
        "{}-{} of {} dead letters",
        filter.offset + 1,
        shown_to,
        page.total
    ));
    if let Some(next) = page.next_offset {
        out.push_str(&format!("; next page: --offset {next}"));
    }
    out.push('\n');
    out
}

fn render_detail(d: &DeadLetterDetail) -> String {
    let l = &d.letter;
    let mut out = String::new();
    let mut field = |name: &str, value: String| {
        out.push_str(&format!("{:<14}{}\n", format!("{name}:"), value));
    };
    field("id", l.id.to_string());
    field("status", l.status.clone());
    field("received_at", l.received_at.to_rfc3339());
    field(
        "source",
        format!("{} {}", l.source, printable(&l.source_ref, 80)),
    );
    field(
        "event_id",
        printable(l.event_id.as_deref().unwrap_or("-"), 256),
    );
    field(
        "event_type",
        printable(l.event_type.as_deref().unwrap_or("-"), 256),
    );
    field("reason", l.reason.clone());
    field("detail", printable(&l.detail, 1_000));
    field(
        "chat_id",
        l.chat_id
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
    );
    field(
        "deliveries",
        format!(
            "{} (first {}, last {})",
            l.delivery_count,
            l.first_seen.to_rfc3339(),
            l.last_seen.to_rfc3339()
        ),
    );
    field("actor", l.actor.clone());
    let payload = match (&d.payload, d.payload_len) {
        (Some(text), _) => printable(text, 100_000),
        (None, Some(n)) => format!("({n} bytes, not UTF-8)"),
        (None, None) => "(not kept)".to_owned(),
    };
    field("payload", payload);
    if let Some(check) = &d.replay_check {
        let verdict = if check.replayable {
            format!(
                "a replay without a patch would publish event {} (outbox row {})",
                check.event_id.map(|e| e.to_string()).unwrap_or_default(),
                check.outbox_action.unwrap_or("-")
            )
        } else {
            format!(
                "{}: {}",
                check.code.unwrap_or("refused"),
                printable(check.message.as_deref().unwrap_or(""), 1_000)
            )
        };
        field("replay check", verdict);
    }
    if d.actions.is_empty() {
        out.push_str("actions:      none\n");
    } else {
        out.push_str("actions:\n");
        for a in &d.actions {
            out.push_str(&format!(
                "  {} {} by {} ({})",
                a.at.to_rfc3339(),
                a.action,
                printable(&a.actor, 128),
                a.channel
            ));
            if let Some(p) = &a.patch {
                out.push_str(&format!(" patch={}", printable(&p.to_string(), 1_000)));
            }
            if let (Some(e), Some(o)) = (a.new_event_id, &a.outbox_action) {
                out.push_str(&format!(" event={e} outbox={o}"));
            }
            if a.bulk {
                out.push_str(" bulk");
            }
            if let Some(n) = &a.note {
                out.push_str(&format!(" note={:?}", printable(n, 500)));
            }
            out.push('\n');
        }
    }
    out
}

fn render_bulk(r: &BulkReport, json: bool) -> String {
    if json {
        return json_line(&r.to_json());
    }
    let verb = match r.action {
        dlq::BulkAction::Replay => "replayed",
        dlq::BulkAction::Discard => "discarded",
    };
    let skips = if r.skipped == 0 {
        String::new()
    } else {
        let by_code: Vec<String> = r
            .skipped_by_code
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        format!(", {} skipped ({})", r.skipped, by_code.join(", "))
    };
    let mut out = if r.dry_run {
        format!(
            "dry run: {} dead letters match; {} would be {verb}{skips}; nothing was changed\n",
            r.matched, r.affected
        )
    } else {
        format!(
            "{verb} {} of {} matching dead letters{skips}\n",
            r.affected, r.matched
        )
    };
    for s in &r.skipped_letters {
        out.push_str(&format!(
            "  skipped {} {}: {}\n",
            s.id,
            s.code,
            printable(&s.message, 300)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Request, String> {
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Dlq { command } => Request::parse(command, Some("ana")),
            _ => Err("not dlq".into()),
        }
    }

    const ID: &str = "0b6c3a43-7c4b-4bb7-9d7c-8a8a2a0c1d11";

    #[test]
    fn an_id_or_a_filter_is_required_for_actions() {
        let e = parse(&["memlink", "dlq", "replay"]).unwrap_err();
        assert!(e.contains("--all"), "{e}");
        assert!(matches!(
            parse(&["memlink", "dlq", "replay", "--all", "--dry-run"]),
            Ok(Request::Bulk {
                kind: BulkKind::Replay,
                dry_run: true,
                ..
            })
        ));
        assert!(matches!(
            parse(&["memlink", "dlq", "discard", "--reason", "invalid_uuid"]),
            Ok(Request::Bulk {
                kind: BulkKind::Discard,
                dry_run: false,
                ..
            })
        ));
        // An id and a filter together is ambiguous: clap refuses it.
        assert!(parse(&["memlink", "dlq", "discard", ID, "--reason", "x"]).is_err());
        // A patch only makes sense for one letter.
        assert!(parse(&["memlink", "dlq", "replay", "--reason", "x", "--patch", "{}"]).is_err());
    }

    #[test]
    fn ids_patches_and_actors_are_validated() {
        assert!(parse(&["memlink", "dlq", "show", "nope"]).is_err());
        let e = parse(&["memlink", "dlq", "replay", ID, "--patch", "{oops"]).unwrap_err();
        assert!(e.contains("--patch"), "{e}");
        match parse(&["memlink", "dlq", "replay", ID, "--patch", r#"{"a":1}"#]).unwrap() {
            Request::Replay { patch, action, .. } => {
                assert_eq!(patch, Some(json!({"a": 1})));
                assert_eq!(action.actor.name(), "ana");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["memlink", "dlq", "discard", ID, "--actor", "ops-bot"]).unwrap() {
            Request::Discard { action, .. } => assert_eq!(action.actor.name(), "ops-bot"),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["memlink", "dlq", "list", "--status", "gone"]).is_err());
        assert!(parse(&["memlink", "dlq", "list", "--limit", "0"]).is_err());
    }

    #[test]
    fn terminal_output_is_defanged() {
        assert_eq!(printable("a\u{1b}[31mb", 80), "a?[31mb");
        assert_eq!(printable("abcdef", 4), "abc…");
    }
}
