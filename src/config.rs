//! Settings: defaults, then a TOML file (`--config`), then `ROOTDESK_*` environment variables,
//! then command-line flags. Unknown keys are errors, so a typo never silently falls back to a
//! default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
}

/// All settings. Each section is documented in `rootdesk.example.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The SQLite database file.
    pub db: PathBuf,
    /// Start the daemon even when group or others may read the database or the signing key.
    pub allow_readable_files: bool,
    pub zone: ZoneSettings,
    pub audit: AuditSettings,
    pub check: CheckSettings,
    pub server: ServerSettings,
    pub workflow: WorkflowSettings,
    pub client: ClientSettings,
    /// Service levels of the timeliness metrics (DESIGN §7).
    pub service_levels: crate::metrics::ServiceLevels,
    pub smtp: SmtpSettings,
    pub sweep: SweepSettings,
    pub rdap: RdapSettings,
    /// DS automation from CDS/CDNSKEY (src/desk/cds.rs).
    pub cds: CdsSettings,
    /// Persons' logins, sessions and tokens (issue 14, src/desk/people.rs).
    pub accounts: AccountsSettings,
}

/// Persons' accounts (issue 14): session lifetimes, invitations and person tokens. Links in
/// invitations start with `[smtp] base_url`, like confirmation links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsSettings {
    /// A session unused for this long ends.
    pub session_idle_minutes: u32,
    /// A session ends this long after login, however busy.
    pub session_absolute_hours: u32,
    /// Days an invitation link stays valid.
    pub invitation_valid_days: u32,
    /// The longest expiry a person token may be given, in days.
    pub token_max_days: u32,
    /// Auditors (read only) may log in with a password alone.
    pub auditor_factor_optional: bool,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        AccountsSettings {
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            invitation_valid_days: 7,
            token_max_days: 365,
            auditor_factor_optional: false,
        }
    }
}

/// DS automation from CDS/CDNSKEY (issue 12 part 2, src/desk/cds.rs): how long a notify-only
/// request is held, and how often one problem is reported to a TLD's technical contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CdsSettings {
    /// Days a notify-only CDS request waits, withdrawable by the TLD's contacts, before review.
    pub hold_days: u32,
    /// Days before the same CDS problem of a TLD is reported to its technical contact again.
    pub report_days: u32,
    /// RFC 9615 bootstrapping of unsigned TLDs: a file of the root's DS or DNSKEY records to
    /// validate the name servers' signals from. Empty: off (unsigned TLDs are reported).
    pub trust_anchor: String,
    /// Resolvers ("ip:port") the signals and their chain of trust are fetched from; their
    /// answers are validated by the desk, not trusted.
    pub resolvers: Vec<String>,
}

impl CdsSettings {
    /// RFC 9615 bootstrapping as configured: `None` when `trust_anchor` is empty.
    pub fn bootstrap(&self) -> Result<Option<crate::check::dsboot::Bootstrap>, String> {
        if self.trust_anchor.is_empty() {
            return Ok(None);
        }
        let resolvers = self
            .resolvers
            .iter()
            .map(|r| {
                r.parse::<std::net::SocketAddr>().map_err(|_| {
                    format!("[cds] resolvers: {r:?} is not an address with a port, like \"127.0.0.1:53\"")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        crate::check::dsboot::Bootstrap::from_file(
            std::path::Path::new(&self.trust_anchor),
            resolvers,
        )
        .map(Some)
    }
}

impl Default for CdsSettings {
    fn default() -> Self {
        CdsSettings {
            hold_days: 3,
            report_days: 7,
            trust_anchor: String::new(),
            resolvers: Vec::new(),
        }
    }
}

/// The public RDAP service (`/rdap`, src/api/rdap.rs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RdapSettings {
    /// Show contacts' personal fields (name, e-mail, phone, postal address) in RDAP answers.
    /// false: they are removed and listed in a `redacted` array (RFC 9537); the organisation
    /// and the role stay visible.
    pub public_contacts: bool,
    /// The public base URL of the RDAP service, for `links` (`https://rdap.desk.example`);
    /// empty: `http://` and the request's Host header.
    pub base_url: String,
}

/// The daemon's sweep of every published delegation (`rootdesk sweep` on a schedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepSettings {
    /// Seconds from the start of one sweep to the start of the next; 0 turns it off.
    pub interval: u64,
    /// Queries in flight, over all TLDs together.
    pub concurrency: usize,
    /// TLD checks in progress at once.
    pub parallel: usize,
    /// Days between reminders while a reported TLD keeps failing; 0: no reminders.
    pub remind_after: u32,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            interval: 0,
            concurrency: 256,
            parallel: 128,
            remind_after: 7,
        }
    }
}

/// How the outbox is delivered (src/notify, README.md, Notifications).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// The mail relay's host name; empty: no sender runs and notifications wait in the outbox.
    pub relay: String,
    pub port: u16,
    /// `none` (plain, lab only), `starttls` or `tls` (implicit TLS, usually port 465).
    pub tls: SmtpTls,
    /// Credentials for the relay; prefer ROOTDESK_SMTP__PASSWORD to keeping it in a file.
    pub username: Option<String>,
    pub password: Option<String>,
    /// A CA certificate (PEM) to trust besides the public roots, for a relay with a private
    /// certificate.
    pub ca_file: Option<PathBuf>,
    /// The sender address of every notification.
    pub from: String,
    /// The desk's public base URL, for links in messages (`https://desk.example`).
    pub base_url: String,
    /// Where requests waiting for review are announced.
    pub staff_address: String,
    /// Where emergency submissions are raised at once.
    pub emergency_address: String,
    /// How often the sender looks for due messages, in milliseconds.
    pub poll_ms: u64,
    /// The first retry waits this long; each further one twice as long, up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// How long one SMTP conversation may take, in milliseconds.
    pub timeout_ms: u64,
    /// How long after it was queued a message that could not be delivered is given up, in
    /// milliseconds (default 72 hours): a `notification-failed` event and a staff alert.
    pub give_up_after_ms: u64,
}

/// Transport security towards the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            relay: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            ca_file: None,
            from: "rootdesk@localhost".into(),
            base_url: "http://127.0.0.1:8053".into(),
            staff_address: "root-mgmt@localhost".into(),
            emergency_address: "root-emergency@localhost".into(),
            poll_ms: 1000,
            retry_initial_ms: 30_000,
            retry_max_ms: 3_600_000,
            timeout_ms: 30_000,
            give_up_after_ms: 72 * 3_600_000,
        }
    }
}

/// The API client (`rootdesk request ...`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientSettings {
    /// The daemon's base URL.
    pub server: Option<String>,
    /// A bearer token; prefer ROOTDESK_TOKEN to keeping it in a file.
    pub token: Option<String>,
}

/// How the root zone is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZoneSettings {
    /// SOA values used when no zone has been imported yet.
    pub soa_mname: String,
    pub soa_rname: String,
    pub soa_refresh: u32,
    pub soa_retry: u32,
    pub soa_expire: u32,
    pub soa_minimum: u32,
    pub soa_ttl: u32,
    /// TTLs of records the desk publishes for a change.
    pub ns_ttl: u32,
    pub ds_ttl: u32,
    pub glue_ttl: u32,
}

/// The audit trail's signing key and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Ed25519 private key (PKCS#8 PEM, mode 0600) that signs checkpoints; relative paths are
    /// taken beside the database.
    pub signing_key: PathBuf,
    /// How often the daemon signs a checkpoint, in seconds (0: never on its own).
    pub checkpoint_interval_secs: u64,
}

/// The technical check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckSettings {
    /// Policy profile (TOML); empty: the built-in default profile.
    pub profile: Option<PathBuf>,
    /// Lab only: the port to probe at an address instead of 53 (`"127.0.0.11" = 5301`).
    pub ports: std::collections::BTreeMap<String, u16>,
}

/// The daemon (`rootdesk serve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub listen: String,
    /// Certificate chain and private key (PEM) for HTTPS; both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `text` or `json` logs.
    pub log_format: String,
    /// How often the daemon looks for checks to run, in milliseconds.
    pub check_poll_ms: u64,
    /// How often reminders and expiry are swept, in seconds.
    pub sweep_interval_secs: u64,
    /// Seconds a connection may take to send a request's headers (or a TLS handshake).
    pub header_read_timeout_secs: u64,
    /// Connections open at once, in all, and from one source address.
    pub max_connections: usize,
    pub max_connections_per_source: usize,
}

/// The request workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowSettings {
    /// Days a request may wait on the TLD before it expires.
    pub expire_days: u32,
    /// Days of waiting on the TLD after which it is reminded.
    pub reminder_days: Vec<u32>,
    /// Four eyes on the desk's side (issue 14): the staff member who approved a request may
    /// not implement it.
    pub four_eyes: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:8053".into(),
            tls_cert: None,
            tls_key: None,
            max_body_bytes: 1 << 20,
            log_format: "text".into(),
            check_poll_ms: 500,
            sweep_interval_secs: 300,
            header_read_timeout_secs: 10,
            max_connections: 512,
            max_connections_per_source: 32,
        }
    }
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            expire_days: 30,
            reminder_days: vec![7, 21],
            four_eyes: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: PathBuf::from("rootdesk.db"),
            allow_readable_files: false,
            zone: ZoneSettings::default(),
            audit: AuditSettings::default(),
            check: CheckSettings::default(),
            server: ServerSettings::default(),
            workflow: WorkflowSettings::default(),
            client: ClientSettings::default(),
            service_levels: crate::metrics::ServiceLevels::default(),
            smtp: SmtpSettings::default(),
            sweep: SweepSettings::default(),
            rdap: RdapSettings::default(),
            cds: CdsSettings::default(),
            accounts: AccountsSettings::default(),
        }
    }
}

impl Default for ZoneSettings {
    fn default() -> Self {
        ZoneSettings {
            soa_mname: "a.root-servers.net.".into(),
            soa_rname: "nstld.verisign-grs.com.".into(),
            soa_refresh: 1800,
            soa_retry: 900,
            soa_expire: 604800,
            soa_minimum: 86400,
            soa_ttl: 86400,
            ns_ttl: 172800,
            ds_ttl: 86400,
            glue_ttl: 172800,
        }
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            signing_key: PathBuf::from("rootdesk-audit.key"),
            checkpoint_interval_secs: 3600,
        }
    }
}

impl Config {
    /// Loads the settings: defaults, the file if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut value =
            toml::Value::try_from(Config::default()).map_err(|e| ConfigError::Parse {
                path: PathBuf::from("(defaults)"),
                message: e.to_string(),
            })?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let overlay: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            merge(&mut value, overlay);
            // Validate the file on its own too, so that errors name the file.
            value
                .clone()
                .try_into::<Config>()
                .map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        }
        for (name, text) in std::env::vars() {
            let Some(key) = name.strip_prefix("ROOTDESK_") else {
                continue;
            };
            // Variables the CLI reads itself are not settings.
            if CLI_VARIABLES.contains(&key) {
                continue;
            }
            apply_env(&mut value, &name, key, &text)?;
        }
        value.try_into::<Config>().map_err(|e| ConfigError::Env {
            name: "ROOTDESK_*".into(),
            message: e.to_string(),
        })
    }

    /// A path setting taken relative to the database's folder unless absolute.
    pub fn beside_db(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        match self.db.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// `ROOTDESK_*` variables that are command-line options, not settings.
const CLI_VARIABLES: &[&str] = &["CONFIG", "DB", "LOG", "SERVER", "TOKEN"];

/// `ROOTDESK_ZONE__NS_TTL=3600` sets `zone.ns_ttl`: sections and keys joined by a double
/// underscore, upper case.
fn apply_env(
    value: &mut toml::Value,
    name: &str,
    key: &str,
    text: &str,
) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError::Env {
        name: name.to_string(),
        message,
    };
    let path: Vec<String> = key.split("__").map(|p| p.to_ascii_lowercase()).collect();
    let mut node = value;
    for (i, part) in path.iter().enumerate() {
        let table = node
            .as_table_mut()
            .ok_or_else(|| error(format!("{part} is not a section")))?;
        let last = i + 1 == path.len();
        if !table.contains_key(part) {
            if last && is_optional_key(&path) {
                table.insert(part.clone(), toml::Value::String(text.to_string()));
                return Ok(());
            }
            return Err(error(format!(
                "unknown setting {} (see rootdesk.example.toml)",
                path.join(".")
            )));
        }
        let Some(existing) = table.get_mut(part) else {
            return Ok(());
        };
        if last {
            *existing = match existing {
                toml::Value::Integer(_) => toml::Value::Integer(
                    text.parse()
                        .map_err(|_| error(format!("expected a whole number, got {text:?}")))?,
                ),
                toml::Value::Boolean(_) => toml::Value::Boolean(
                    text.parse()
                        .map_err(|_| error(format!("expected true or false, got {text:?}")))?,
                ),
                _ => toml::Value::String(text.to_string()),
            };
            return Ok(());
        }
        node = existing;
    }
    Ok(())
}

/// Settings whose default is absent (None), so that they are missing from the defaults table.
fn is_optional_key(path: &[String]) -> bool {
    matches!(
        path,
        [a, b] if (a == "check" && b == "profile")
            || (a == "server" && (b == "tls_cert" || b == "tls_key"))
            || (a == "client" && (b == "server" || b == "token"))
            || (a == "smtp" && (b == "username" || b == "password" || b == "ca_file"))
    )
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// The settings that `defaults` has and the example file does not name, as dotted paths:
/// "example equals defaults" alone passes on an empty example, since missing keys take their
/// defaults. A commented-out line `# key = ...` names an optional setting (one without a
/// default), and must itself be a real setting: `uncommented` is the example with those
/// lines enabled, which the caller parses strictly.
#[cfg(test)]
pub(crate) fn unnamed_settings(defaults: &toml::Value, example: &str) -> (Vec<String>, String) {
    fn walk(value: &toml::Value, named: &toml::Value, path: &str, out: &mut Vec<String>) {
        let toml::Value::Table(table) = value else {
            return;
        };
        for (key, value) in table {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match named.get(key) {
                None => out.push(here),
                Some(inner) => walk(value, inner, &here, out),
            }
        }
    }
    let uncommented: String = example
        .lines()
        .map(|line| {
            let rest = line.trim_start().strip_prefix("# ").unwrap_or(line);
            let is_setting = rest.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            }) && toml::from_str::<toml::Value>(rest).is_ok();
            if is_setting {
                rest
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let named: toml::Value =
        toml::from_str(example).unwrap_or(toml::Value::Table(Default::default()));
    let mut missing = Vec::new();
    walk(defaults, &named, "", &mut missing);
    (missing, uncommented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_config_parses_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootdesk.example.toml");
        let config = Config::load(Some(&path)).expect("example config parses");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn reference_config_names_every_setting() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootdesk.example.toml");
        let text = std::fs::read_to_string(&path).expect("read example");
        let defaults = toml::Value::try_from(Config::default()).expect("defaults");
        let (missing, uncommented) = unnamed_settings(&defaults, &text);
        assert!(
            missing.is_empty(),
            "rootdesk.example.toml does not name {missing:?}"
        );
        // The commented-out optional settings are real ones.
        let dir = tempfile::tempdir().expect("tempdir");
        let all = dir.path().join("all.toml");
        std::fs::write(&all, uncommented).expect("write");
        Config::load(Some(&all)).expect("every commented-out setting is a real one");
        // And the check itself can fail.
        let (missing, _) = unnamed_settings(&defaults, "[zone]\n");
        assert!(missing.contains(&"server".to_string()), "{missing:?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[zone]\nns_tll = 5\n").expect("write");
        let err = Config::load(Some(&path)).expect_err("typo refused");
        assert!(err.to_string().contains("ns_tll"), "{err}");
    }

    #[test]
    fn environment_overrides() {
        let mut value = toml::Value::try_from(Config::default()).expect("defaults");
        apply_env(&mut value, "ROOTDESK_ZONE__NS_TTL", "ZONE__NS_TTL", "3600").expect("set");
        let config: Config = value.clone().try_into().expect("valid");
        assert_eq!(config.zone.ns_ttl, 3600);
        assert!(apply_env(&mut value, "ROOTDESK_ZONE__NOPE", "ZONE__NOPE", "1").is_err());
        assert!(apply_env(&mut value, "ROOTDESK_ZONE__NS_TTL", "ZONE__NS_TTL", "x").is_err());
    }

    #[test]
    fn smtp_credentials_and_tls_from_the_environment() {
        let mut value = toml::Value::try_from(Config::default()).expect("defaults");
        for (name, text) in [
            ("SMTP__PASSWORD", "s3cret"),
            ("SMTP__USERNAME", "desk"),
            ("SMTP__TLS", "tls"),
            ("SMTP__PORT", "465"),
        ] {
            apply_env(&mut value, &format!("ROOTDESK_{name}"), name, text).expect("set");
        }
        let config: Config = value.clone().try_into().expect("valid");
        assert_eq!(config.smtp.password.as_deref(), Some("s3cret"));
        assert_eq!(config.smtp.username.as_deref(), Some("desk"));
        assert_eq!(config.smtp.tls, SmtpTls::Tls);
        assert_eq!(config.smtp.port, 465);
        apply_env(&mut value, "ROOTDESK_SMTP__TLS", "SMTP__TLS", "ssl").expect("set");
        let err = value.try_into::<Config>().expect_err("unknown TLS mode");
        assert!(err.to_string().contains("ssl"), "{err}");
    }
}
