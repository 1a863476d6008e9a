//! `rootdesk check` from the command line: arguments, formats and exit status.

use std::process::{Command, Output};

use super::server::Faults;
use super::{test_zone, two_servers};

fn rootdesk(args: Vec<String>) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(dir.path().join("none.db"))
        .args(args)
        .env_remove("ROOTDESK_CONFIG")
        .output()
        .expect("run rootdesk")
}

fn lab_profile() -> String {
    format!("{}/fixtures/profiles/lab.toml", env!("CARGO_MANIFEST_DIR"))
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || rootdesk(args))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn pass_exits_0_with_json_report() {
    let (_s, p) = two_servers(test_zone(3), test_zone(3), Faults::default()).await;
    let mut args = vec!["check".to_string(), "test".into()];
    for ns in &p.nameservers {
        args.push("--ns".into());
        args.push(format!("{}/{}", ns.name, ns.addresses[0]));
    }
    args.extend([
        "--profile".into(),
        lab_profile(),
        "--format".into(),
        "json".into(),
    ]);
    let out = run(args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["zone"], "test.");
    assert!(json["queries"].as_array().is_some_and(|q| !q.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_exits_1_and_text_names_server_and_address() {
    let (_s, p) = two_servers(test_zone(3), test_zone(4), Faults::default()).await;
    let mut args = vec![
        "check".to_string(),
        "test.".into(),
        "--profile".into(),
        lab_profile(),
    ];
    for ns in &p.nameservers {
        args.push("--ns".into());
        args.push(format!("{}/{}", ns.name, ns.addresses[0]));
    }
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("soa-consistent"), "{text}");
    assert!(
        text.contains(&p.nameservers[1].addresses[0].to_string()),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warn_exits_0() {
    let f = Faults {
        formerr_on_edns: true,
        ..Faults::default()
    };
    let (_s, p) = two_servers(test_zone(3), test_zone(3), f).await;
    let mut args = vec![
        "check".to_string(),
        "test.".into(),
        "--profile".into(),
        lab_profile(),
        "--format".into(),
        "json".into(),
    ];
    for ns in &p.nameservers {
        args.push("--ns".into());
        args.push(format!("{}/{}", ns.name, ns.addresses[0]));
    }
    let out = run(args).await;
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(json["verdict"], "warn");
    assert_eq!(json["findings"][0]["check"], "edns");
    assert_eq!(json["findings"][0]["severity"], "warning");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["check", "test.", "--ns", "ns1.test/999.1.1.1"],
        vec![
            "check",
            "test.",
            "--ns",
            "ns1.test/127.0.0.1",
            "--ds",
            "1 13 2 zz",
        ],
        vec![
            "check",
            "test.",
            "--ns",
            "ns1.test",
            "--profile",
            "/nonexistent/profile.toml",
        ],
        vec!["check", "test."],
        vec!["check", "--tld", "de", "--ns", "ns1.de"],
    ] {
        let out = rootdesk(args.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn tld_without_delegation_in_the_database_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("desk.db");
    let bin = env!("CARGO_BIN_EXE_rootdesk");
    let init = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .arg("init")
        .output()
        .expect("init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let out = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args(["check", "--tld", "zz"])
        .output()
        .expect("check");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("zz"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tld_checks_the_delegation_in_the_database() {
    use super::server::{ip, Scripted};
    use super::zone::Zone;
    // The registry holds port-53 addresses: serve there (needs root), or say so.
    let zone = Zone::new(
        "zz.",
        1,
        &[
            ("ns1.nic.zz.", &[ip("127.0.0.61")]),
            ("ns2.nic.zz.", &[ip("127.0.0.62")]),
        ],
    );
    let a = Scripted::start_on(ip("127.0.0.61"), 53, zone.clone(), Faults::default()).await;
    let b = Scripted::start_on(ip("127.0.0.62"), 53, zone, Faults::default()).await;
    if a.is_none() || b.is_none() {
        crate::common::skip(
            "tld_checks_the_delegation_in_the_database needs port 53 on 127.0.0.61/62",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root.zone");
    std::fs::write(
        &root,
        "$ORIGIN .\n$TTL 86400\n\
         @ 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026112300 1800 900 604800 86400\n\
         @ 518400 IN NS a.root-servers.net.\n\
         a.root-servers.net. 518400 IN A 198.41.0.4\n\
         zz. 172800 IN NS ns1.nic.zz.\nzz. 172800 IN NS ns2.nic.zz.\n\
         ns1.nic.zz. 172800 IN A 127.0.0.61\nns2.nic.zz. 172800 IN A 127.0.0.62\n",
    )
    .expect("root zone");
    let db = dir.path().join("desk.db");
    let bin = env!("CARGO_BIN_EXE_rootdesk");
    let (db2, root2) = (db.clone(), root.clone());
    let out = tokio::task::spawn_blocking(move || {
        let init = Command::new(bin)
            .arg("--db")
            .arg(&db2)
            .arg("init")
            .output()
            .expect("init");
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        let import = Command::new(bin)
            .arg("--db")
            .arg(&db2)
            .arg("import-zone")
            .arg(&root2)
            .output()
            .expect("import");
        assert!(
            import.status.success(),
            "{}",
            String::from_utf8_lossy(&import.stderr)
        );
        Command::new(bin)
            .arg("--db")
            .arg(&db2)
            .args(["check", "--tld", "zz", "--format", "json", "--profile"])
            .arg(lab_profile())
            .output()
            .expect("check")
    })
    .await
    .expect("join");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(json["zone"], "zz.");
    assert_eq!(json["verdict"], "pass");
    let addresses: Vec<&str> = json["queries"]
        .as_array()
        .expect("queries")
        .iter()
        .filter_map(|q| q["address"].as_str())
        .collect();
    assert!(
        addresses.contains(&"127.0.0.61") && addresses.contains(&"127.0.0.62"),
        "{addresses:?}"
    );
}
