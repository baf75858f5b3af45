//! The configuration's `Debug` output, on a full configuration (the test
//! settings with every secret filled in).

use autodoctor::config::{PhotoStorage, S3Settings};

#[test]
fn debug_output_never_carries_a_secret() {
    let mut c = crate::testing::test_config();
    c.database_url = "postgres://app:db-password-123@db.internal/autodoctor".into();
    c.smtp_url = Some("smtps://mailer:smtp-password-456@smtp.example".into());
    c.stripe_secret_key = Some("sk_live_stripe-key-789".into());
    c.stripe_webhook_secret = "whsec_webhook-secret-000".into();
    c.bootstrap_admin = Some(("admin@example.com".into(), "bootstrap-password-111".into()));
    c.photo_storage = PhotoStorage::S3(S3Settings {
        endpoint: "http://127.0.0.1:9000".into(),
        bucket: "photos".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "s3-secret-222".into(),
    });
    let printed = format!("{c:?} {c:#?}");
    for secret in [
        "db-password-123",
        "smtp-password-456",
        "stripe-key-789",
        "webhook-secret-000",
        "bootstrap-password-111",
        "s3-secret-222",
    ] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
    assert!(
        printed.contains("admin@example.com") && printed.contains("platform_fee_bps"),
        "the rest is printed"
    );
}
