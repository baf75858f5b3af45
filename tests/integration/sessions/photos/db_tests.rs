//! Chat photos on a real database through the real router: what is stored
//! (re-encoded, scaled, without EXIF), who can fetch it, hostile uploads
//! refused with a sentence and nothing stored, closed sessions, the no-JS
//! form post, the live room, and the S3-compatible store (against moto).

use crate::photo_fixtures as fx;
use crate::testing::fixtures::{mechanic, paid_request, plan, workshop};
use crate::testing::{
    create_user, test_config, ChangeWatch, TestApp, TestClient, TestResponse, ORIGIN, TEST_PASSWORD,
};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use autodoctor::offers::store::RoutingSettings;
use autodoctor::sessions::photos::{photo_path, thumb_path, upload_path, NOT_A_PHOTO, TOO_LARGE};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

struct Room {
    app: TestApp,
    session: Uuid,
    cust: TestClient,
    mech: TestClient,
    stranger: TestClient,
    other_mech: TestClient,
    admin: TestClient,
}

async fn logged_in(app: &TestApp, email: &str) -> TestClient {
    let mut c = app.client();
    let res = c.log_in(email, TEST_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    c
}

/// An accepted session (not started yet) with its customer and mechanic,
/// and three people who are neither: another customer, another workshop's
/// mechanic, and the admin.
async fn room_with(app: TestApp) -> Room {
    let pool = app.pool().clone();
    plan(&pool).await;
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    let m = mechanic(&pool, "a1@example.com", Some(a), true).await;
    mechanic(&pool, "b1@example.com", Some(b), true).await;
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    create_user(&pool, "other@example.com", Role::Customer).await;
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let (_, request) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(a)).await;
    let policy = RoutingSettings::from_config(&test_config()).policy;
    let session = autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(request),
        chrono::Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    Room {
        cust: logged_in(&app, "cust@example.com").await,
        mech: logged_in(&app, "a1@example.com").await,
        stranger: logged_in(&app, "other@example.com").await,
        other_mech: logged_in(&app, "b1@example.com").await,
        admin: logged_in(&app, "admin@example.com").await,
        app,
        session,
    }
}

async fn room(pool: &PgPool) -> Room {
    room_with(TestApp::new(pool.clone())).await
}

/// One part of a `multipart/form-data` body.
struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: Option<&'a str>,
    data: &'a [u8],
}

fn file<'a>(data: &'a [u8], filename: &'a str, content_type: &'a str) -> Part<'a> {
    Part { name: "photo", filename: Some(filename), content_type: Some(content_type), data }
}

fn text<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part { name, filename: None, content_type: None, data: value.as_bytes() }
}

const BOUNDARY: &str = "----autodoctor-test-boundary-7MA4YWxkTrZu0gW";

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"", p.name).as_bytes(),
        );
        if let Some(f) = p.filename {
            body.extend(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend(b"\r\n");
        if let Some(ct) = p.content_type {
            body.extend(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend(b"\r\n");
        body.extend(p.data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Posts an upload as a script does (JSON answer), or as a browser without
/// JavaScript does (`html`).
async fn post(
    client: &mut TestClient,
    session: Uuid,
    content_type: &str,
    body: Vec<u8>,
    html: bool,
) -> TestResponse {
    let accept = if html { "text/html,application/xhtml+xml" } else { "application/json" };
    client
        .post_raw(
            &upload_path(session),
            content_type,
            body,
            &[("origin", ORIGIN), ("sec-fetch-site", "same-origin"), ("accept", accept)],
        )
        .await
}

async fn upload(client: &mut TestClient, session: Uuid, parts: &[Part<'_>]) -> TestResponse {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    post(client, session, &ct, multipart(parts), false).await
}

/// A GET whose body is read as bytes (images are not text).
async fn get_bytes(client: &TestClient, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(c) = &client.cookie {
        req = req.header(header::COOKIE, c.as_str());
    }
    let res = client.app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024).await.unwrap();
    (status, headers, bytes.to_vec())
}

struct StoredPhoto {
    width: i32,
    height: i32,
    thumb_width: i32,
    thumb_height: i32,
    bytes: Option<Vec<u8>>,
    thumb: Option<Vec<u8>>,
    storage_key: Option<String>,
    byte_size: i32,
    uploader_id: Uuid,
}

async fn stored(pool: &PgPool, id: Uuid) -> StoredPhoto {
    sqlx::query_as!(
        StoredPhoto,
        "SELECT width, height, thumb_width, thumb_height, bytes, thumb, storage_key, byte_size, uploader_id
           FROM session_photos WHERE id = $1",
        id
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// (photos, chat messages) in the database.
async fn counts(pool: &PgPool) -> (i64, i64) {
    let photos =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM session_photos"#).fetch_one(pool).await.unwrap();
    let messages =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM chat_messages"#).fetch_one(pool).await.unwrap();
    (photos, messages)
}

fn decoded(jpeg: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).expect("a JPEG");
    (img.width(), img.height())
}

fn photo_id(res: &TestResponse) -> Uuid {
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()["photo_id"].as_str().unwrap().parse().unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_photo_is_reencoded_scaled_and_posted_to_the_chat(pool: PgPool) {
    let mut r = room(&pool).await;
    let png = fx::png(3000, 1500);
    let res = upload(
        &mut r.cust,
        r.session,
        &[file(&png, "dashboard.png", "image/png"), text("caption", "  The warning light  ")],
    )
    .await;
    let id = photo_id(&res);
    assert_eq!(res.json()["url"], photo_path(r.session, id));

    let p = stored(&pool, id).await;
    assert_eq!((p.width, p.height, p.thumb_width, p.thumb_height), (2048, 1024, 320, 160));
    let (bytes, thumb) = (p.bytes.unwrap(), p.thumb.unwrap());
    assert_eq!(decoded(&bytes), (2048, 1024), "the stored photo is the scaled JPEG");
    assert_eq!(decoded(&thumb), (320, 160));
    assert_eq!(p.byte_size as usize, bytes.len());
    assert_eq!(p.storage_key, None);
    let customer = sqlx::query_scalar!("SELECT id FROM users WHERE email = 'cust@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(p.uploader_id, customer);

    // One chat message carries it, with the caption; the first message starts the session.
    let message = sqlx::query!(
        "SELECT id, body, photo_id, sender_id FROM chat_messages WHERE session_id = $1",
        r.session
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(message.len(), 1);
    assert_eq!(
        (message[0].body.as_str(), message[0].photo_id, message[0].sender_id),
        ("The warning light", Some(id), customer)
    );
    assert_eq!(res.json()["message_id"], message[0].id);
    let room = r.mech.call("/api/session/room", &[("session_id", &r.session.to_string())]).await.json();
    assert_eq!(room["status"], "active");
    assert_eq!(room["messages"][0]["photo_id"], id.to_string());

    // The room page shows the thumbnail, linking to the full photo, with alt text.
    let page = r.mech.get(&format!("/session/{}", r.session)).await;
    assert!(page.body.contains(&format!("src=\"{}\"", thumb_path(r.session, id))), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"{}\"", photo_path(r.session, id))));
    assert!(page.body.contains("alt=\"Photo from Test Person: The warning light\""));
    assert!(page.body.contains("id=\"photo-form\""), "the attach form is offered");

    // A photo alone (no caption) is a message too; WebP and an iPhone's HEIC are read as well.
    let webp = fx::webp(40, 30);
    let id2 = photo_id(&upload(&mut r.mech, r.session, &[file(&webp, "x.webp", "image/webp")]).await);
    assert_eq!(decoded(&stored(&pool, id2).await.bytes.unwrap()), (40, 30));
    let heic = fx::heic(400, 300);
    // Some browsers do not know the type and send it as application/octet-stream.
    let id3 = photo_id(
        &upload(&mut r.cust, r.session, &[file(&heic, "IMG_0003.HEIC", "application/octet-stream")]).await,
    );
    let p3 = stored(&pool, id3).await;
    assert_eq!((p3.width, p3.height, p3.thumb_width, p3.thumb_height), (400, 300, 320, 240));
    assert_eq!(decoded(&p3.bytes.unwrap()), (400, 300), "stored as a JPEG");
    assert_eq!(counts(&pool).await, (3, 3));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn exif_location_is_gone_from_the_stored_image(pool: PgPool) {
    let mut r = room(&pool).await;
    let original = fx::jpeg_with_gps(64, 32);
    assert!(fx::contains(&original, b"Exif\0\0") && fx::contains(&original, &fx::GPS_LATITUDE));
    let id =
        photo_id(&upload(&mut r.mech, r.session, &[file(&original, "IMG_0001.JPG", "image/jpeg")]).await);
    let p = stored(&pool, id).await;
    assert_eq!((p.width, p.height), (32, 64), "turned upright by its EXIF orientation first");
    let (_, _, served) = get_bytes(&r.cust, &photo_path(r.session, id)).await;
    for kept in [p.bytes.unwrap(), p.thumb.unwrap(), served] {
        assert!(!fx::contains(&kept, b"Exif"), "no EXIF segment");
        assert!(!fx::contains(&kept, &[0xFF, 0xE1]), "no APP1 segment");
        assert!(!fx::contains(&kept, fx::GPS_MARKER), "no description");
        assert!(!fx::contains(&kept, &fx::GPS_LATITUDE), "no latitude");
        assert_eq!(decoded(&kept), (32, 64));
    }
}

/// One refused upload: its status, its sentence, and that nothing was stored.
async fn refused(
    r: &mut Room,
    watch: &mut ChangeWatch,
    what: &str,
    res: TestResponse,
    status: StatusCode,
    sentence: &str,
) {
    assert_eq!(res.status, status, "{what}: {}", res.body);
    assert_eq!(res.json()["error"], sentence, "{what}");
    assert_eq!(counts(r.app.pool()).await, (0, 0), "{what}: nothing stored");
    assert_eq!(watch.changes().await, Vec::<String>::new(), "{what}: no table changed");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn hostile_uploads_get_a_4xx_with_a_message_and_store_nothing(pool: PgPool) {
    let mut r = room(&pool).await;
    let mut watch = ChangeWatch::install(&pool).await;
    let s = r.session;
    let png = fx::png(20, 20);

    let res =
        upload(&mut r.cust, s, &[file(b"Dear mechanic, this is not a photo.\n", "photo.jpg", "image/jpeg")])
            .await;
    refused(
        &mut r,
        &mut watch,
        "a text file renamed .jpg",
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        NOT_A_PHOTO,
    )
    .await;

    let bomb = fx::png_bomb(20_000, 20_000);
    let res = upload(&mut r.cust, s, &[file(&bomb, "bomb.png", "image/png")]).await;
    let sentence = "That photo has too many pixels: at most 8192 on a side.";
    refused(&mut r, &mut watch, "a decompression bomb", res, StatusCode::PAYLOAD_TOO_LARGE, sentence).await;

    // Just over 10 MB: the body is within the route's limit, the photo is not.
    let mut big = fx::jpeg(64, 64);
    big.resize(autodoctor::sessions::photos::MAX_PHOTO_BYTES + 1, 0);
    let res = upload(&mut r.cust, s, &[file(&big, "big.jpg", "image/jpeg")]).await;
    refused(&mut r, &mut watch, "an 10 MB + 1 byte file", res, StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE)
        .await;
    // Far over: refused from its announced length, before it is read.
    big.resize(12 * 1024 * 1024, 0);
    let res = upload(&mut r.cust, s, &[file(&big, "huge.jpg", "image/jpeg")]).await;
    refused(&mut r, &mut watch, "a 12 MB file", res, StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE).await;

    let res = upload(&mut r.cust, s, &[file(b"", "", "application/octet-stream")]).await;
    refused(
        &mut r,
        &mut watch,
        "an empty file",
        res,
        StatusCode::BAD_REQUEST,
        "Please correct the highlighted fields.",
    )
    .await;
    let res = upload(&mut r.cust, s, &[file(b"", "", "application/octet-stream")]).await;
    assert_eq!(res.json()["fields"][0]["message"], "Choose a photo to send.");
    let res = upload(&mut r.cust, s, &[text("caption", "only words")]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "no photo at all: {}", res.body);
    assert_eq!(res.json()["fields"][0]["message"], "Choose a photo to send.");

    // A real PNG, declared as something that is not an image.
    let res = upload(&mut r.cust, s, &[file(&png, "notes.txt", "text/plain")]).await;
    let sentence = "Only photos can be sent here: JPEG, PNG, WebP or HEIC.";
    refused(&mut r, &mut watch, "a wrong content type", res, StatusCode::UNSUPPORTED_MEDIA_TYPE, sentence)
        .await;
    // Not a file upload at all.
    let res = post(&mut r.cust, s, "application/x-www-form-urlencoded", b"photo=abc".to_vec(), false).await;
    let sentence = "Send the photo as a file upload (multipart/form-data, in the field \"photo\").";
    refused(&mut r, &mut watch, "a form without a file", res, StatusCode::UNSUPPORTED_MEDIA_TYPE, sentence)
        .await;
    // A broken multipart body.
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let res = post(&mut r.cust, s, &ct, b"--nonsense\r\n\r\n".to_vec(), false).await;
    assert!(res.status.is_client_error(), "{}", res.body);
    assert!(!res.json()["error"].as_str().unwrap().is_empty());
    assert_eq!(counts(&pool).await, (0, 0));

    let caption = "x".repeat(2001);
    let res = upload(&mut r.cust, s, &[file(&png, "a.png", "image/png"), text("caption", &caption)]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["fields"][0]["message"], "Use at most 2000 characters for the caption.");
    let res = upload(&mut r.cust, s, &[file(fx::HEIC_HEADER, "IMG_0002.HEIC", "image/heic")]).await;
    refused(
        &mut r,
        &mut watch,
        "a HEIC header without an image",
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        NOT_A_PHOTO,
    )
    .await;

    // Without JavaScript, the refusal is a page with the sentence and the way back.
    let body = multipart(&[file(b"plain text", "photo.jpg", "image/jpeg")]);
    let res = post(&mut r.cust, s, &ct, body, true).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.body.contains(NOT_A_PHOTO), "{}", res.body);
    assert!(res.body.contains(&format!("href=\"/session/{s}\"")));
    assert_eq!(counts(&pool).await, (0, 0));
    assert_eq!(watch.changes().await, Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_participants_and_the_admin_get_the_photo(pool: PgPool) {
    let mut r = room(&pool).await;
    let png = fx::png(500, 400);
    let id = photo_id(&upload(&mut r.cust, r.session, &[file(&png, "a.png", "image/png")]).await);
    let p = stored(&pool, id).await;
    let (full, thumb) = (p.bytes.unwrap(), p.thumb.unwrap());

    for (who, client) in [("customer", &r.cust), ("mechanic", &r.mech), ("admin", &r.admin)] {
        let (status, headers, bytes) = get_bytes(client, &photo_path(r.session, id)).await;
        assert_eq!(status, StatusCode::OK, "{who}");
        assert_eq!(bytes, full, "{who} gets the stored photo");
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["cache-control"], "private, max-age=86400");
        assert_eq!(headers["content-disposition"], "inline");
        let (status, _, bytes) = get_bytes(client, &thumb_path(r.session, id)).await;
        assert_eq!((status, bytes == thumb), (StatusCode::OK, true), "{who}: the thumbnail");
    }
    for (who, client) in [("another customer", &r.stranger), ("another mechanic", &r.other_mech)] {
        for path in [photo_path(r.session, id), thumb_path(r.session, id)] {
            let (status, _, bytes) = get_bytes(client, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who}");
            assert!(!fx::contains(&bytes, &full[..64]), "{who} sees nothing of it");
        }
    }
    let (status, _, _) = get_bytes(&r.app.client(), &photo_path(r.session, id)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nobody logged in");
    // The photo under another session's id is not found either, even for the admin.
    let (status, _, _) = get_bytes(&r.admin, &photo_path(Uuid::new_v4(), id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nobody but the two participants can post in the room.
    for (who, client) in [
        ("another customer", &mut r.stranger),
        ("another mechanic", &mut r.other_mech),
        ("admin", &mut r.admin),
    ] {
        let res = upload(client, r.session, &[file(&png, "a.png", "image/png")]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{who}");
        assert_eq!(res.json()["error"], "There is no session of yours with that reference.");
    }
    let res = upload(&mut r.app.client(), r.session, &[file(&png, "a.png", "image/png")]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(counts(&pool).await, (1, 1));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_closed_session_refuses_photos(pool: PgPool) {
    let mut r = room(&pool).await;
    let png = fx::png(20, 20);
    // Ending needs the written diagnosis first.
    let mechanic: Uuid = sqlx::query_scalar("SELECT mechanic_id FROM sessions WHERE id = $1")
        .bind(r.session)
        .fetch_one(&pool)
        .await
        .unwrap();
    crate::testing::fixtures::write_report(&pool, r.session, mechanic).await;
    let res = r.mech.call("/api/session/end", &[("session_id", &r.session.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for client in [&mut r.cust, &mut r.mech] {
        let res = upload(client, r.session, &[file(&png, "a.png", "image/png")]).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert_eq!(res.json()["error"], "This session has ended; photos can no longer be sent.");
    }
    // The app never cancels a session that ended; this test makes one, to see
    // that a cancelled room refuses photos too.
    r.app.leaves_invariants_broken(
        &[
            "revenue split of a session that is not completed",
            "workshop whose session or rating statistics are wrong",
            "mechanic whose session or rating statistics are wrong",
        ],
        "it cancels an ended session, a state the app never makes",
    );
    sqlx::query!("UPDATE sessions SET status = 'cancelled' WHERE id = $1", r.session)
        .execute(&pool)
        .await
        .unwrap();
    let res = upload(&mut r.cust, r.session, &[file(&png, "a.png", "image/png")]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "cancelled: {}", res.body);
    assert_eq!(counts(&pool).await, (0, 0));
    let page = r.cust.get(&format!("/session/{}", r.session)).await;
    assert!(!page.body.contains("id=\"photo-form\""), "no attach form in a closed room");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_form_post_without_javascript_goes_back_to_the_room(pool: PgPool) {
    let mut r = room(&pool).await;
    let jpeg = fx::jpeg(300, 200);
    let body = multipart(&[file(&jpeg, "a.jpg", "image/jpeg"), text("caption", "")]);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let res = post(&mut r.mech, r.session, &ct, body, true).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.header("location"), Some(format!("/session/{}", r.session).as_str()));
    let body = sqlx::query_scalar!("SELECT body FROM chat_messages WHERE photo_id IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(body, "", "a photo without a caption");
    assert_eq!(counts(&pool).await, (1, 1));
}

/// Reads the SSE stream until a `room` event whose data contains `needle`.
async fn wait_for_room_with(stream: &mut reqwest::Response, needle: &str) -> serde_json::Value {
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if event.contains("event: room") && event.contains(needle) {
                let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
                return serde_json::from_str(data).unwrap();
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("the room in time");
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("stream open")));
    }
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_other_side_sees_the_photo_live(pool: PgPool) {
    let mut r = room(&pool).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = r.app.router.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
    });
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = http
        .post(format!("http://{addr}/api/public/auth/log-in"))
        .header("origin", format!("http://{addr}"))
        .form(&[("email", "a1@example.com"), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = http.get(format!("http://{addr}/api/live/session/{}", r.session)).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    wait_for_room_with(&mut stream, "\"messages\":[]").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let png = fx::png(64, 48);
    let id = photo_id(&upload(&mut r.cust, r.session, &[file(&png, "a.png", "image/png")]).await);
    let room = wait_for_room_with(&mut stream, &id.to_string()).await;
    assert_eq!(room["messages"][0]["photo_id"], id.to_string());
    assert_eq!(room["status"], "active");
    server.abort();
}

/// A local S3 (moto) on a free port, stopped when dropped.
struct Moto(std::process::Child, u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto(child, port);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(moto);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn photos_can_live_in_an_s3_compatible_store(pool: PgPool) {
    let Some(moto) = start_moto().await else {
        println!("SKIPPED photos_can_live_in_an_s3_compatible_store: moto_server is not installed (pip install 'moto[server]')");
        return;
    };
    let settings = autodoctor::config::S3Settings {
        endpoint: format!("http://127.0.0.1:{}", moto.1),
        bucket: "autodoctor-photos".into(),
        region: "us-east-1".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    };
    let s3 = autodoctor::sessions::photos::s3::S3Store::new(settings.clone());
    s3.create_bucket().await.unwrap();
    let mut config = test_config();
    config.photo_storage = autodoctor::config::PhotoStorage::S3(settings);
    let mut r = room_with(TestApp::with_config(pool.clone(), config)).await;

    let png = fx::png(900, 600);
    let id = photo_id(&upload(&mut r.cust, r.session, &[file(&png, "a.png", "image/png")]).await);
    let p = stored(&pool, id).await;
    assert_eq!((p.bytes.is_none(), p.thumb.is_none()), (true, true), "nothing in the row");
    let key = p.storage_key.expect("a key");
    assert_eq!(key, format!("session-photos/{}/{id}", r.session));
    use autodoctor::sessions::photos::store::{PhotoStore, Size};
    let in_s3 = s3.get(&key, Size::Full).await.unwrap().expect("the object is in the bucket");
    assert_eq!(decoded(&in_s3), (900, 600));
    assert_eq!(p.byte_size as usize, in_s3.len());

    let (status, headers, served) = get_bytes(&r.mech, &photo_path(r.session, id)).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(served, in_s3);
    let (status, _, thumb) = get_bytes(&r.admin, &thumb_path(r.session, id)).await;
    assert_eq!((status, decoded(&thumb)), (StatusCode::OK, (320, 213)));
    let (status, _, _) = get_bytes(&r.stranger, &photo_path(r.session, id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // What is discarded (a photo whose row could not be written) leaves no object behind.
    let placed = s3.put(r.session, Uuid::new_v4(), vec![1, 2, 3], vec![4]).await.unwrap();
    let autodoctor::sessions::photos::store::Placement::External { key } = &placed else {
        panic!("external")
    };
    assert!(s3.get(key, Size::Full).await.unwrap().is_some());
    s3.discard(&placed).await;
    assert_eq!(s3.get(key, Size::Full).await.unwrap(), None);
    assert_eq!(s3.get(key, Size::Thumb).await.unwrap(), None);
}
