//! The SMTP sender against a fake SMTP server on loopback: what it delivers,
//! what it records, and what it does when the server refuses.

use autodoctor::workers::Supervisor;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the fake server received it.
#[derive(Clone, Debug)]
struct Received {
    rcpt: String,
    data: String,
}

/// A minimal SMTP server: accepts everything, or answers 451 to RCPT when `refuse`.
async fn fake_smtp(refuse: bool) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 fake.test ESMTP\r\n").await.ok();
                let (mut rcpt, mut data, mut in_data) = (String::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            store
                                .lock()
                                .unwrap()
                                .push(Received { rcpt: rcpt.clone(), data: std::mem::take(&mut data) });
                            w.write_all(b"250 queued\r\n").await.ok();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-fake.test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT") && refuse {
                        b"451 4.3.0 mailbox busy, try later\r\n"
                    } else if upper.starts_with("RCPT") {
                        rcpt = line[8..].trim().to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        w.write_all(b"221 bye\r\n").await.ok();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    w.write_all(reply).await.ok();
                }
            });
        }
    });
    (url, got)
}

struct Row {
    to_email: String,
    sent: bool,
    attempts: i32,
    last_error: Option<String>,
    body_text: String,
    later: bool,
}

async fn rows(pool: &PgPool) -> Vec<Row> {
    sqlx::query_as!(
        Row,
        r#"SELECT to_email, sent_at IS NOT NULL AS "sent!", attempts, last_error, body_text,
                  send_after > now() AS "later!"
             FROM email_outbox ORDER BY to_email"#
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn start_sender(pool: &PgPool, url: &str) -> Supervisor {
    let mut sup = Supervisor::new();
    let (pool, url) = (pool.clone(), url.to_string());
    sup.spawn("email", move |stop| {
        autodoctor::mail::outbox::run_sender(
            pool.clone(),
            url.clone(),
            "autodoctor <noreply@autodoctor.test>".into(),
            stop,
        )
    });
    sup
}

async fn wait_until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !ok().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_sender_delivers_each_message_once_and_forgets_its_secret(pool: PgPool) {
    let (url, got) = fake_smtp(false).await;
    autodoctor::mail::outbox::enqueue(&pool, "ann@example.test", "Your receipt", "Thanks, Ann.", "receipt")
        .await
        .unwrap();
    autodoctor::mail::outbox::enqueue_with_secret(
        &pool,
        "bob@example.test",
        "Confirm your address",
        "Open https://autodoctor.test/confirm/s3cr3t-token to finish.",
        "signup",
        "s3cr3t-token",
        b"hash",
    )
    .await
    .unwrap();
    let sup = start_sender(&pool, &url).await;
    wait_until("both are sent", async || rows(&pool).await.iter().all(|r| r.sent)).await;
    // A few more ticks: nothing is sent twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sup.shutdown(Duration::from_secs(5)).await);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one delivery per message: {got:?}");
    let ann = got.iter().find(|m| m.rcpt.contains("ann@example.test")).expect("Ann's message");
    assert!(ann.data.contains("Subject: Your receipt") && ann.data.contains("Thanks, Ann."), "{}", ann.data);
    let bob = got.iter().find(|m| m.rcpt.contains("bob@example.test")).expect("Bob's message");
    assert!(bob.data.contains("s3cr3t-token"), "the delivered mail carries the link");
    let stored = rows(&pool).await;
    assert!(stored.iter().all(|r| r.attempts == 1 && r.last_error.is_none()));
    let bob_row = stored.iter().find(|r| r.to_email == "bob@example.test").unwrap();
    assert!(
        !bob_row.body_text.contains("s3cr3t-token"),
        "the stored copy lost the secret: {}",
        bob_row.body_text
    );
    assert!(bob_row.body_text.contains("(link removed after delivery)"));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_refused_message_is_recorded_and_rescheduled_not_lost(pool: PgPool) {
    let (url, got) = fake_smtp(true).await;
    autodoctor::mail::outbox::enqueue(&pool, "ann@example.test", "Your receipt", "Thanks, Ann.", "receipt")
        .await
        .unwrap();
    let sup = start_sender(&pool, &url).await;
    wait_until("the failure is recorded", async || rows(&pool).await[0].attempts > 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sup.shutdown(Duration::from_secs(5)).await);
    assert!(got.lock().unwrap().is_empty());
    let r = &rows(&pool).await[0];
    assert!(!r.sent, "not sent");
    assert_eq!(r.attempts, 1, "one attempt, then it waits for its retry time");
    assert!(
        r.last_error.as_deref().is_some_and(|e| e.contains("451") || e.contains("busy")),
        "{:?}",
        r.last_error
    );
    assert!(r.later, "rescheduled for later");
}
