//! Mail through the outbox, delivered over real SMTP on loopback (and into `.eml` files),
//! on both backends: rendering and language, retries while the server is down, giving up,
//! leases, and several workers sharing one database.

use crate::common;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use common::smtp::{ParsedMail, Received, SmtpSink};
use common::*;
use techx::db::types::{LeaseId, OutboxId};
use techx::db::{Backend, Db, dialect};
use techx::domain::lang::Lang;
use techx::error::ApiError;
use techx::mail::{Mail, MailConfig, OutboxEntry, Template, enqueue, worker};
use techx::store::StoreError;
use techx::store::outbox::{self, Channel, OutboxRow, OutboxStatus};

/// Upper bound for anything to happen; tests normally finish far sooner.
const WAIT: Duration = Duration::from_secs(30);

fn migrated(backend: Backend) -> (TestDb, Db) {
    let db = TestDb::create(backend);
    let pool = Db::new(&db.target(), 4, Duration::from_secs(5));
    dialect::run_migrations(&mut pool.conn().expect("connection")).expect("migrations");
    (db, pool)
}

/// Settings that make the worker quick: short polls and backoff.
fn fast_config(smtp_url: Option<String>) -> MailConfig {
    let mut config = MailConfig::from_lookup(|name| match name {
        "TECHX_PUBLIC_URL" => Some("https://techx.example.vn".into()),
        _ => None,
    })
    .expect("mail config");
    config.smtp_url = smtp_url;
    config.poll_interval = Duration::from_millis(20);
    config.backoff_base = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(100);
    config.smtp_timeout = Duration::from_secs(5);
    config
}

fn verify_mail(to: &str, name: &str, lang: Lang) -> Mail {
    Mail {
        to: to.into(),
        template: Template::VerifyEmail,
        lang,
        context: json!({
            "display_name": name,
            "verify_url": format!("https://techx.example.vn/verify-email?token=tok-{name}&lang=x"),
            "token": format!("tok-{name}"),
        }),
    }
}

fn enqueue_all(pool: &Db, mails: &[Mail]) -> Vec<OutboxId> {
    let mut conn = pool.conn().expect("connection");
    dialect::write_transaction(&mut conn, |conn| {
        mails.iter().map(|mail| enqueue(conn, mail)).collect::<Result<Vec<_>, StoreError>>()
    })
    .expect("enqueue")
}

fn numbered(count: usize) -> Vec<Mail> {
    (0..count)
        .map(|i| verify_mail(&format!("user{i}@example.vn"), &format!("User {i}"), Lang::En))
        .collect()
}

fn rows(db: &TestDb, ids: &[OutboxId]) -> Vec<OutboxRow> {
    let mut conn = db.connect();
    ids.iter().map(|id| outbox::get(&mut conn, *id).expect("read").expect("row exists")).collect()
}

/// Polls `check` until it yields a value; panics with `what` after `WAIT`.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn all_sent(db: &TestDb, ids: &[OutboxId]) -> Vec<OutboxRow> {
    eventually("every row sent", || {
        let rows = rows(db, ids);
        rows.iter().all(|r| r.status() == Some(OutboxStatus::Sent)).then_some(rows)
    })
    .await
}

fn message_ids(messages: &[Received]) -> Vec<String> {
    messages.iter().map(|m| ParsedMail::parse(&m.data).message_id).collect()
}

fn expected_message_id(id: OutboxId) -> String {
    format!("{id}@techx.local")
}

backend_tests! {
    async fn worker_delivers_each_mail_in_its_recipients_language(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        let reset = Mail {
            to: "Bob Smith <bob@example.com>".into(),
            template: Template::PasswordReset,
            lang: Lang::En,
            context: json!({
                "display_name": "Bob <b>",
                "reset_url": "https://techx.example.vn/reset-password?token=r1&x=y",
                "token": "r1",
            }),
        };
        let ids = enqueue_all(&pool, &[verify_mail("an@example.vn", "Nguyễn Văn An", Lang::Vi), reset]);
        let worker = worker::start(pool.clone(), fast_config(Some(sink.url()))).unwrap();
        let messages = sink.wait_for(2, WAIT).await;
        let sent = all_sent(&db, &ids).await;
        worker.stop().await;
        assert_eq!(sink.messages().len(), 2, "nothing more arrives");

        let by_rcpt = |rcpt: &str| -> ParsedMail {
            let found: Vec<&Received> = messages.iter().filter(|m| m.rcpt_to == [rcpt]).collect();
            assert_eq!(found.len(), 1, "one message to {rcpt}: {messages:?}");
            assert_eq!(found[0].mail_from, "no-reply@techx.local");
            ParsedMail::parse(&found[0].data)
        };

        let vi = by_rcpt("an@example.vn");
        assert_eq!(vi.to, ["an@example.vn"]);
        assert_eq!(vi.from, "no-reply@techx.local");
        assert_eq!(vi.subject, "Xác nhận địa chỉ email của bạn trên techx");
        assert_eq!(vi.content_language.as_deref(), Some("vi"));
        assert_eq!(vi.content_type, "multipart/alternative");
        assert_eq!(vi.message_id, expected_message_id(ids[0]));
        let text = vi.text.as_deref().expect("text/plain part");
        assert!(text.starts_with("Xin chào Nguyễn Văn An,"), "{text}");
        assert!(text.contains("Vui lòng mở liên kết dưới đây để xác nhận địa chỉ email"), "{text}");
        assert!(text.contains("https://techx.example.vn/verify-email?token=tok-Nguyễn Văn An&lang=x"), "{text}");
        assert!(text.contains("mã xác nhận sau: tok-Nguyễn Văn An"), "{text}");
        let html = vi.html.as_deref().expect("text/html part");
        assert!(html.contains("<html lang=\"vi\">"), "{html}");
        assert!(html.contains("<p>Xin chào Nguyễn Văn An,</p>"), "{html}");
        assert!(html.contains("href=\"https://techx.example.vn/verify-email?token=tok-Nguyễn Văn An&amp;lang=x\""), "{html}");
        assert!(html.contains("Xác nhận email</a>"), "{html}");

        let en = by_rcpt("bob@example.com");
        assert_eq!(en.to, ["bob@example.com"]);
        assert_eq!(en.subject, "Reset your techx password");
        assert_eq!(en.content_language.as_deref(), Some("en"));
        assert_eq!(en.content_type, "multipart/alternative");
        assert_eq!(en.message_id, expected_message_id(ids[1]));
        let text = en.text.as_deref().expect("text/plain part");
        assert!(text.starts_with("Hello Bob <b>,"), "text is not escaped: {text}");
        assert!(text.contains("https://techx.example.vn/reset-password?token=r1&x=y"), "{text}");
        let html = en.html.as_deref().expect("text/html part");
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("<p>Hello Bob &lt;b&gt;,</p>"), "html is escaped: {html}");
        assert!(html.contains("Choose a new password</a>"), "{html}");

        for row in &sent {
            assert_eq!(row.attempts, 1);
            assert_eq!(row.last_error, None);
            assert_eq!((row.lease_id, row.locked_until), (None, None), "lease released");
            let sent_at = row.sent_at.expect("sent_at");
            assert!(sent_at >= row.created_at && sent_at <= Utc::now().naive_utc(), "{row:?}");
        }
    }

    async fn enqueue_joins_the_callers_transaction(backend) {
        let (db, pool) = migrated(backend);
        let mut conn = pool.conn().unwrap();
        let rolled_back: Result<OutboxId, ApiError> = dialect::write_transaction(&mut conn, |conn| {
            enqueue(conn, &verify_mail("an@example.vn", "An", Lang::Vi))?;
            Err(ApiError::conflict("conflict", "the change that caused the mail failed"))
        });
        assert!(rolled_back.is_err());
        assert_eq!(outbox::list(&mut conn, None, 1, 20).unwrap().1, 0, "no mail without the change");

        let id = dialect::write_transaction(&mut conn, |conn| {
            enqueue(conn, &verify_mail(" an@example.vn ", "An", Lang::Vi))
        })
        .unwrap();
        let row = rows(&db, &[id]).remove(0);
        assert_eq!(row.channel, "email");
        assert_eq!(row.recipient, "an@example.vn");
        assert_eq!(row.template, "verify_email");
        assert_eq!(row.language, "vi");
        assert_eq!(row.status(), Some(OutboxStatus::Pending));
        assert_eq!(row.attempts, 0);
        let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(payload["display_name"], "An");

        let bad_address = ApiError::from(enqueue(&mut conn, &verify_mail("not-an-address", "An", Lang::En)).unwrap_err());
        assert_eq!(bad_address.code, "validation_failed");
        assert_eq!(bad_address.errors[0].field, "email");
        let mut incomplete = verify_mail("an@example.vn", "An", Lang::En);
        incomplete.context.as_object_mut().unwrap().remove("verify_url");
        assert_eq!(ApiError::from(enqueue(&mut conn, &incomplete).unwrap_err()).code, "internal_error");
        assert_eq!(outbox::list(&mut conn, None, 1, 20).unwrap().1, 1, "refused mails not queued");
    }

    async fn mail_queued_while_smtp_is_down_arrives_exactly_once_after_restart(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        sink.stop();
        let ids = enqueue_all(&pool, &numbered(5));
        let mut config = fast_config(Some(sink.url()));
        config.max_attempts = 100;
        let worker = worker::start(pool.clone(), config).unwrap();

        // Every mail has failed at least twice, with the error recorded, and waits to retry.
        // (A row is `sending` during an attempt, already counted: only `pending` rows show
        // how many attempts have failed.)
        let failing = eventually("failed attempts recorded", || {
            let rows = rows(&db, &ids);
            rows.iter()
                .all(|r| {
                    r.status() == Some(OutboxStatus::Pending) && r.attempts >= 2 && r.last_error.is_some()
                })
                .then_some(rows)
        })
        .await;
        for row in &failing {
            let error = row.last_error.as_deref().unwrap().to_lowercase();
            assert!(error.contains("connect"), "{error}");
        }
        assert!(sink.messages().is_empty());

        sink.restart();
        let sent = all_sent(&db, &ids).await;
        worker.stop().await;
        let messages = sink.messages();
        let mut delivered = message_ids(&messages);
        delivered.sort();
        let mut expected: Vec<String> = ids.iter().map(|id| expected_message_id(*id)).collect();
        expected.sort();
        assert_eq!(delivered, expected, "each mail exactly once");
        assert!(sent.iter().all(|r| r.attempts >= 3 && r.sent_at.is_some()), "{sent:?}");
    }

    async fn after_max_attempts_a_row_is_failed_with_its_error(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        sink.stop();
        let ids = enqueue_all(&pool, &numbered(1));
        let mut config = fast_config(Some(sink.url()));
        config.max_attempts = 3;
        let worker = worker::start(pool.clone(), config).unwrap();
        let row = eventually("the row to fail", || {
            let row = rows(&db, &ids).remove(0);
            (row.status() == Some(OutboxStatus::Failed)).then_some(row)
        })
        .await;
        worker.stop().await;
        assert_eq!(row.attempts, 3);
        let error = row.last_error.expect("last_error").to_lowercase();
        assert!(error.contains("connect"), "{error}");
        assert_eq!(row.sent_at, None);
        assert_eq!((row.lease_id, row.locked_until), (None, None));
        assert_eq!(rows(&db, &ids)[0].attempts, 3, "a failed row is not claimed again");
        assert!(sink.messages().is_empty());
    }

    async fn a_permanent_rejection_fails_at_once(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        sink.reject_recipient("ghost@example.vn");
        let ids = enqueue_all(
            &pool,
            &[verify_mail("ghost@example.vn", "Ghost", Lang::En), verify_mail("an@example.vn", "An", Lang::Vi)],
        );
        let worker = worker::start(pool.clone(), fast_config(Some(sink.url()))).unwrap();
        let settled = eventually("both rows settled", || {
            let rows = rows(&db, &ids);
            rows.iter()
                .all(|r| matches!(r.status(), Some(OutboxStatus::Sent | OutboxStatus::Failed)))
                .then_some(rows)
        })
        .await;
        worker.stop().await;
        assert_eq!(settled[0].status(), Some(OutboxStatus::Failed));
        assert_eq!(settled[0].attempts, 1, "no retry after 550");
        assert!(settled[0].last_error.as_deref().unwrap().contains("550"), "{:?}", settled[0]);
        assert_eq!(settled[1].status(), Some(OutboxStatus::Sent));
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].rcpt_to, ["an@example.vn"]);
    }

    async fn two_workers_deliver_each_of_many_mails_exactly_once(backend) {
        let (db, pool) = migrated(backend);
        let ids = enqueue_all(&pool, &numbered(36));
        // Two pools and two servers stand for two processes; small batches make them
        // claim in turns.
        let (sink_a, sink_b) = (SmtpSink::start(), SmtpSink::start());
        let mut config_a = fast_config(Some(sink_a.url()));
        config_a.batch_size = 4;
        let mut config_b = fast_config(Some(sink_b.url()));
        config_b.batch_size = 4;
        let pool_b = Db::new(&db.target(), 4, Duration::from_secs(5));
        let worker_a = worker::start(pool.clone(), config_a).unwrap();
        let worker_b = worker::start(pool_b, config_b).unwrap();
        let sent = all_sent(&db, &ids).await;
        worker_a.stop().await;
        worker_b.stop().await;

        let (a, b) = (sink_a.messages(), sink_b.messages());
        eprintln!("worker A delivered {}, worker B {}", a.len(), b.len());
        let mut delivered = message_ids(&a);
        delivered.extend(message_ids(&b));
        assert_eq!(delivered.len(), 36, "no duplicates across workers");
        let unique: HashSet<&String> = delivered.iter().collect();
        let expected: Vec<String> = ids.iter().map(|id| expected_message_id(*id)).collect();
        assert_eq!(unique, expected.iter().collect(), "every mail delivered");
        assert!(sent.iter().all(|r| r.attempts == 1), "no row claimed twice");
    }

    async fn concurrent_claims_never_overlap(backend) {
        let (db, pool) = migrated(backend);
        let ids = enqueue_all(&pool, &numbered(40));
        let claimers = 4;
        let barrier = Arc::new(Barrier::new(claimers));
        let threads: Vec<_> = (0..claimers)
            .map(|_| {
                let (mut conn, barrier) = (db.connect(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut mine = Vec::new();
                    loop {
                        let batch = outbox::claim(&mut conn, Channel::Email, Duration::from_secs(60), 3)
                            .expect("claim");
                        if batch.is_empty() {
                            return mine;
                        }
                        assert!(batch.len() <= 3);
                        let lease = batch[0].lease_id;
                        for row in batch {
                            assert_eq!(row.status(), Some(OutboxStatus::Sending));
                            assert_eq!(row.lease_id, lease, "one lease per claim");
                            assert!(row.locked_until.is_some_and(|t| t == row.next_attempt_at));
                            mine.push(row.id);
                        }
                    }
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for thread in threads {
            claimed.extend(thread.join().expect("claimer"));
        }
        let unique: BTreeSet<OutboxId> = claimed.iter().copied().collect();
        assert_eq!(claimed.len(), 40, "each row claimed once");
        assert_eq!(unique, ids.iter().copied().collect());
        assert!(rows(&db, &ids).iter().all(|r| r.attempts == 1));
        // Leased rows are not due: nothing is left to claim.
        assert!(outbox::claim(&mut db.connect(), Channel::Email, Duration::from_secs(60), 50).unwrap().is_empty());
    }

    async fn a_dead_workers_lease_expires_and_the_mail_is_sent_once(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        let ids = enqueue_all(&pool, &numbered(1));
        // A worker claims the row and dies without sending or recording anything.
        let lease = Duration::from_millis(300);
        let dead = outbox::claim(&mut db.connect(), Channel::Email, lease, 10).unwrap();
        assert_eq!(dead.len(), 1);
        let lease_end = dead[0].locked_until.unwrap();

        let worker = worker::start(pool.clone(), fast_config(Some(sink.url()))).unwrap();
        let sent = all_sent(&db, &ids).await.remove(0);
        worker.stop().await;
        assert!(sent.sent_at.unwrap() >= lease_end, "not taken before the lease ran out");
        assert_eq!(sent.attempts, 2, "the dead worker's attempt counts");
        assert_eq!(message_ids(&sink.messages()), [expected_message_id(ids[0])]);
    }

    async fn a_final_attempt_lost_with_its_worker_is_failed_not_repeated(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        let ids = enqueue_all(&pool, &numbered(1));
        let dead = outbox::claim(&mut db.connect(), Channel::Email, Duration::from_millis(200), 1).unwrap();
        assert_eq!(dead[0].attempts, 1);
        let mut config = fast_config(Some(sink.url()));
        config.max_attempts = 1;
        let worker = worker::start(pool.clone(), config).unwrap();
        let row = eventually("the row to fail", || {
            let row = rows(&db, &ids).remove(0);
            (row.status() == Some(OutboxStatus::Failed)).then_some(row)
        })
        .await;
        worker.stop().await;
        assert!(row.last_error.as_deref().unwrap().contains("abandoned"), "{row:?}");
        assert!(sink.messages().is_empty(), "it may have been delivered: not sent again");
    }

    async fn an_outcome_needs_the_lease(backend) {
        let (db, pool) = migrated(backend);
        let ids = enqueue_all(&pool, &numbered(1));
        let mut conn = db.connect();
        let claimed = outbox::claim(&mut conn, Channel::Email, Duration::from_secs(60), 1).unwrap();
        let lease = claimed[0].lease_id.unwrap();
        let stranger = LeaseId::new();
        assert!(!outbox::mark_sent(&mut conn, ids[0], stranger).unwrap());
        assert!(!outbox::mark_failed(&mut conn, ids[0], stranger, "x").unwrap());
        assert!(!outbox::mark_retry(&mut conn, ids[0], stranger, "x", Duration::ZERO).unwrap());
        assert_eq!(rows(&db, &ids)[0].status(), Some(OutboxStatus::Sending), "unchanged");
        assert!(outbox::mark_retry(&mut conn, ids[0], lease, "451 try later", Duration::ZERO).unwrap());
        let row = rows(&db, &ids).remove(0);
        assert_eq!(row.status(), Some(OutboxStatus::Pending));
        assert_eq!(row.last_error.as_deref(), Some("451 try later"));
        assert!(!outbox::mark_sent(&mut conn, ids[0], lease).unwrap(), "a released lease is spent");
    }

    async fn webhook_rows_are_left_alone(backend) {
        let (db, pool) = migrated(backend);
        let sink = SmtpSink::start();
        let webhook = outbox::insert(&mut db.connect(), outbox::NewOutbox {
            channel: Channel::Webhook,
            recipient: "https://hooks.example.vn/techx",
            template: "listing.published",
            language: Lang::Vi,
            payload: "{}",
        })
        .unwrap();
        let mail = enqueue_all(&pool, &numbered(1));
        let worker = worker::start(pool.clone(), fast_config(Some(sink.url()))).unwrap();
        all_sent(&db, &mail).await;
        worker.stop().await;
        let row = rows(&db, &[webhook]).remove(0);
        assert_eq!((row.status(), row.attempts), (Some(OutboxStatus::Pending), 0));
        assert_eq!(sink.messages().len(), 1);
    }

    async fn without_smtp_mail_is_written_as_eml_files(backend) {
        let (db, pool) = migrated(backend);
        let dir = tempfile::tempdir().unwrap();
        let mut config = fast_config(None);
        config.mail_dir = dir.path().join("mail");
        let invitation = Mail {
            to: "chi@example.vn".into(),
            template: Template::OrganizationInvitation,
            lang: Lang::Vi,
            context: json!({
                "organization_name": "Viện Công nghệ Sinh học",
                "inviter_name": "Trần Thị Bình",
                "accept_url": "https://techx.example.vn/invitations/accept?token=inv1",
                "token": "inv1",
            }),
        };
        let ids = enqueue_all(&pool, &[invitation]);
        let worker = worker::start(pool.clone(), config).unwrap();
        all_sent(&db, &ids).await;
        worker.stop().await;

        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .expect("mail dir created")
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let mail = ParsedMail::parse(&std::fs::read(&files[0]).unwrap());
        assert_eq!(mail.to, ["chi@example.vn"]);
        assert_eq!(mail.from, "no-reply@techx.local");
        assert_eq!(mail.subject, "Trần Thị Bình mời bạn tham gia Viện Công nghệ Sinh học trên techx");
        assert_eq!(mail.content_language.as_deref(), Some("vi"));
        assert_eq!(mail.message_id, expected_message_id(ids[0]));
        let text = mail.text.expect("text/plain part");
        assert!(text.contains("Trần Thị Bình đã mời bạn tham gia tổ chức Viện Công nghệ Sinh học"), "{text}");
        assert!(text.contains("https://techx.example.vn/invitations/accept?token=inv1"), "{text}");
        let html = mail.html.expect("text/html part");
        assert!(html.contains("Chấp nhận lời mời</a>"), "{html}");
    }

    async fn staff_listing_pages_newest_first_and_filters_by_status(backend) {
        let (db, pool) = migrated(backend);
        let ids = enqueue_all(&pool, &numbered(5));
        let mut conn = db.connect();
        // Send the oldest, fail the second oldest.
        let claimed = outbox::claim(&mut conn, Channel::Email, Duration::from_secs(60), 2).unwrap();
        let lease = claimed[0].lease_id.unwrap();
        assert!(outbox::mark_sent(&mut conn, ids[0], lease).unwrap());
        assert!(outbox::mark_failed(&mut conn, ids[1], lease, "550 no such mailbox").unwrap());

        let (page, total) = outbox::list(&mut conn, None, 1, 2).unwrap();
        assert_eq!(total, 5);
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[4], ids[3]], "newest first");
        let (page, _) = outbox::list(&mut conn, None, 3, 2).unwrap();
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0]]);
        let (pending, total) = outbox::list(&mut conn, Some(OutboxStatus::Pending), 1, 20).unwrap();
        assert_eq!((pending.len(), total), (3, 3));
        let (failed, total) = outbox::list(&mut conn, Some(OutboxStatus::Failed), 1, 20).unwrap();
        assert_eq!(total, 1);

        let entry = serde_json::to_value(OutboxEntry::try_from(failed[0].clone()).unwrap()).unwrap();
        assert_eq!(entry["id"], ids[1].to_string());
        assert_eq!(entry["channel"], "email");
        assert_eq!(entry["recipient"], "user1@example.vn");
        assert_eq!(entry["template"], "verify_email");
        assert_eq!(entry["language"], "en");
        assert_eq!(entry["status"], "failed");
        assert_eq!(entry["attempts"], 1);
        assert_eq!(entry["last_error"], "550 no such mailbox");
        assert!(entry["created_at"].as_str().unwrap().ends_with('Z'), "{entry}");
        assert!(entry["sent_at"].is_null());
        assert!(entry.get("payload").is_none(), "payloads may hold tokens");
        let sent = serde_json::to_value(OutboxEntry::try_from(rows(&db, &ids[..1])[0].clone()).unwrap()).unwrap();
        assert!(sent["sent_at"].as_str().unwrap().ends_with('Z'), "{sent}");

        assert_eq!(ApiError::from(outbox::list(&mut conn, None, 0, 20).unwrap_err()).errors[0].field, "page");
        assert_eq!(ApiError::from(outbox::list(&mut conn, None, 1, 101).unwrap_err()).errors[0].field, "per_page");
    }
}
