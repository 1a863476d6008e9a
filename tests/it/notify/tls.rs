//! Delivery over STARTTLS and implicit TLS to a relay with a private certificate, trusted
//! through `[smtp] ca_file` (rustls on ring, as in production), with AUTH PLAIN credentials.

use std::sync::Arc;

use super::smtp::{Relay, Security};
use super::*;
use crate::daemon::healthy;

/// A certificate for 127.0.0.1, the acceptor that presents it, and its PEM file.
fn certificate(dir: &std::path::Path) -> (tokio_rustls::TlsAcceptor, std::path::PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let pem = dir.join("relay-ca.pem");
    std::fs::write(&pem, cert.cert.pem()).expect("write certificate");
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .expect("server config");
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem)
}

async fn delivers_over(tls: SmtpTls) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (acceptor, ca) = certificate(dir.path());
    let security = match tls {
        SmtpTls::Tls => Security::Implicit(acceptor),
        _ => Security::StartTls(acceptor),
    };
    let relay = Relay::start_with(security).await;
    let mut settings = smtp(relay.port);
    settings.tls = tls;
    settings.ca_file = Some(ca);
    settings.username = Some("rootdesk".into());
    settings.password = Some("s3cret".into());
    let t = TestDesk::start_with(settings).await;
    let ticket = t.submit(healthy()).await;
    let mail = relay.wait_for_mail(ADMIN, "your consent is needed").await;
    assert!(mail.tls, "{tls:?}: the message came in the clear");
    assert_eq!(mail.user.as_deref(), Some("rootdesk"), "not authenticated");
    assert!(mail.body().contains(&ticket));
    wait_delivered(&t).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_over_starttls() {
    delivers_over(SmtpTls::Starttls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_over_implicit_tls() {
    delivers_over(SmtpTls::Tls).await;
}

/// Without the private CA the relay's certificate is not trusted: nothing goes out in the
/// clear instead, the attempt fails and is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_relay_gets_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (acceptor, _) = certificate(dir.path());
    let relay = Relay::start_with(Security::StartTls(acceptor)).await;
    let mut settings = smtp(relay.port);
    settings.tls = SmtpTls::Starttls;
    let t = TestDesk::start_with(settings).await;
    t.submit(healthy()).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while events(&t, "notification-attempt-failed").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", outbox(&t));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(relay.mails().is_empty());
    let error = events(&t, "notification-attempt-failed")[0].payload["error"].to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(outbox(&t).iter().all(|n| n.delivered_at.is_none()));
    t.stop().await;
}

/// Credentials the relay refuses: the attempt fails with the relay's answer, recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_a_recorded_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (acceptor, ca) = certificate(dir.path());
    let relay = Relay::start_with(Security::StartTls(acceptor)).await;
    let mut settings = smtp(relay.port);
    settings.tls = SmtpTls::Starttls;
    settings.ca_file = Some(ca);
    settings.username = Some("rootdesk".into());
    settings.password = Some("wrong".into());
    let t = TestDesk::start_with(settings).await;
    t.submit(healthy()).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while events(&t, "notification-attempt-failed").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", outbox(&t));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let error = events(&t, "notification-attempt-failed")[0].payload["error"].to_string();
    assert!(error.contains("authentication failed"), "{error}");
    assert!(relay.mails().is_empty());
    t.stop().await;
}
