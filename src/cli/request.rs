//! `rootdesk request ...`: the API client. It talks to the daemon over the same HTTP API and
//! wire types as any other client.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{emit, Context, Format};
use crate::error::{Error, Result};
use crate::registry::{DsRecord, HostName};

/// Submit and act on change requests through the daemon's API
#[derive(Debug, Args)]
pub struct RequestCmd {
    /// The daemon's base URL [env: ROOTDESK_SERVER; default: client.server]
    #[arg(long, global = true, env = "ROOTDESK_SERVER")]
    pub server: Option<String>,
    /// Bearer token [env: ROOTDESK_TOKEN; default: client.token]
    #[arg(long, global = true, env = "ROOTDESK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output: table (readable) or json
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(subcommand)]
    pub command: RequestCommand,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Submit a request: a delegation from flags, or any kind from a JSON/TOML file
    Submit(SubmitArgs),
    /// List the requests you may see
    List {
        #[arg(long)]
        tld: Option<String>,
        #[arg(long)]
        state: Option<String>,
        /// Only open requests
        #[arg(long)]
        open: bool,
        /// At most this many, newest first (fetched a page of up to 1000 at a time)
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show a request with its history and checks
    Show { ticket: String },
    /// Replace the proposal with a new revision (from flags or a file, as for submit)
    Amend {
        ticket: String,
        #[command(flatten)]
        proposal: ProposalArgs,
    },
    /// Confirm a request as one of the contacts asked
    Confirm { ticket: String },
    /// Decline a request as one of the contacts asked
    Decline {
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Answer the desk's question
    Answer {
        ticket: String,
        #[arg(long)]
        answer: String,
    },
    /// Withdraw a request
    Withdraw {
        ticket: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Staff: approve after review
    Approve {
        ticket: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Staff: reject
    Reject {
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Staff: ask the submitter a question
    Ask {
        ticket: String,
        #[arg(long)]
        question: String,
    },
    /// Staff: record a transfer's evaluation (JSON file with assessments, approve, summary)
    Evaluate { ticket: String, file: PathBuf },
    /// Staff: implement (publish) an approved request
    Implement { ticket: String },
    /// Upload an evidence document; prints its SHA-256 for a transfer's evidence list
    Upload {
        file: PathBuf,
        #[arg(long, default_value = "application/octet-stream")]
        media_type: String,
    },
}

/// A delegation from flags, or a proposal from a file.
#[derive(Debug, Clone, Args)]
pub struct ProposalArgs {
    /// A name server, optionally with an address: NAME[/ADDR]; repeat per server or address
    #[arg(long = "ns", value_name = "NAME[/ADDR]")]
    pub ns: Vec<String>,
    /// A DS record: 'KEYTAG ALGORITHM DIGESTTYPE HEX'; repeat
    #[arg(long = "ds")]
    pub ds: Vec<String>,
    /// A file (JSON, or TOML by its .toml name) holding the request (submit) or the proposal
    /// (amend) instead of flags
    #[arg(long, conflicts_with_all = ["ns", "ds"])]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The TLD (with --ns/--ds)
    #[arg(long)]
    pub tld: Option<String>,
    #[command(flatten)]
    pub proposal: ProposalArgs,
    /// Flag a technical emergency, with its reason
    #[arg(long, value_name = "REASON")]
    pub emergency: Option<String>,
    /// Makes a retried submission return the first one's ticket
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

fn read_document(path: &PathBuf) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if path.extension().is_some_and(|e| e == "toml") {
        let value: toml::Value =
            toml::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        serde_json::to_value(value).map_err(Error::failed)
    } else {
        serde_json::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
    }
}

/// The delegation proposal the flags describe.
fn delegation_from_flags(args: &ProposalArgs) -> Result<Value> {
    if args.ns.is_empty() {
        return Err(Error::Usage(
            "name the name servers with --ns NAME[/ADDR] (or give --file)".into(),
        ));
    }
    let mut servers: Vec<(String, Vec<String>)> = Vec::new();
    for arg in &args.ns {
        let (name, address) = match arg.split_once('/') {
            Some((n, a)) => (n, Some(a)),
            None => (arg.as_str(), None),
        };
        let name = HostName::parse(name)?.to_string();
        let position = match servers.iter().position(|(n, _)| *n == name) {
            Some(p) => p,
            None => {
                servers.push((name, Vec::new()));
                servers.len() - 1
            }
        };
        if let Some(a) = address {
            let ip: IpAddr = a
                .parse()
                .map_err(|_| Error::Usage(format!("--ns {arg}: {a:?} is not an IP address")))?;
            servers[position].1.push(ip.to_string());
        }
    }
    let ds: Vec<Value> = args
        .ds
        .iter()
        .map(|d| DsRecord::parse(d).map(|r| serde_json::to_value(r).unwrap_or(Value::Null)))
        .collect::<std::result::Result<_, _>>()?;
    let nameservers: Vec<Value> = servers
        .into_iter()
        .map(|(name, addresses)| json!({ "name": name, "addresses": addresses }))
        .collect();
    Ok(json!({ "kind": "delegation", "delegation": { "nameservers": nameservers, "ds": ds } }))
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Failed(format!("cannot reach the desk at {url}: {e}")))?;
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .map_err(|e| Error::Failed(format!("{url} answered {status} without JSON: {e}")))?;
        if !status.is_success() {
            let label = value["error"].as_str().unwrap_or("error");
            let message = value["message"].as_str().unwrap_or("");
            return Err(Error::Failed(format!("{status} {label}: {message}")));
        }
        Ok(value)
    }
}

impl RequestCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let base = self
            .server
            .clone()
            .or_else(|| ctx.config.client.server.clone())
            .ok_or_else(|| {
                Error::Usage("name the desk with --server URL (or ROOTDESK_SERVER)".into())
            })?;
        let token = self
            .token
            .clone()
            .or_else(|| ctx.config.client.token.clone());
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(Error::failed)?;
        let client = Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::failed)?;
        let format = self.format;
        let value = runtime.block_on(self.call(&client))?;
        if format == Format::Json {
            return emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&value).map_err(Error::failed)?
            ));
        }
        emit(&render(&value))
    }

    async fn call(self, client: &Client) -> Result<Value> {
        use reqwest::Method;
        let post = |ticket: &str, action: &str| format!("/v1/requests/{ticket}/{action}");
        match self.command {
            RequestCommand::Submit(args) => {
                let body = match &args.proposal.file {
                    Some(path) => read_document(path)?,
                    None => {
                        let tld = args
                            .tld
                            .clone()
                            .ok_or_else(|| Error::Usage("name the TLD with --tld".into()))?;
                        let mut body = json!({ "tld": tld, "proposal": delegation_from_flags(&args.proposal)? });
                        if let Some(reason) = &args.emergency {
                            body["priority"] = json!("emergency");
                            body["emergency_reason"] = json!(reason);
                        }
                        body
                    }
                };
                let key = args.idempotency_key.clone();
                let headers: Vec<(&str, &str)> = key
                    .as_deref()
                    .map(|k| ("Idempotency-Key", k))
                    .into_iter()
                    .collect();
                client
                    .call(Method::POST, "/v1/requests", Some(body), &headers)
                    .await
            }
            RequestCommand::List {
                tld,
                state,
                open,
                limit,
            } => {
                if limit == 0 {
                    return Err(Error::Usage("--limit must be at least 1".into()));
                }
                let page = limit.min(1000);
                let mut query = vec![format!("open={open}"), format!("limit={page}")];
                if let Some(t) = tld {
                    query.push(format!("tld={t}"));
                }
                if let Some(s) = state {
                    query.push(format!("state={s}"));
                }
                // Follow the daemon's `next` links until `limit` requests or the end.
                let mut path = format!("/v1/requests?{}", query.join("&"));
                let mut requests: Vec<Value> = Vec::new();
                loop {
                    let mut answer = client.call(Method::GET, &path, None, &[]).await?;
                    if let Some(Value::Array(list)) = answer.get_mut("requests").map(Value::take) {
                        requests.extend(list);
                    }
                    let next = answer.get("next").and_then(Value::as_str);
                    match next {
                        Some(next) if requests.len() < limit => path = next.to_string(),
                        _ => break,
                    }
                }
                requests.truncate(limit);
                Ok(json!({ "requests": requests }))
            }
            RequestCommand::Show { ticket } => {
                client
                    .call(Method::GET, &format!("/v1/requests/{ticket}"), None, &[])
                    .await
            }
            RequestCommand::Amend { ticket, proposal } => {
                let proposal = match &proposal.file {
                    Some(path) => read_document(path)?,
                    None => delegation_from_flags(&proposal)?,
                };
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "amend"),
                        Some(json!({ "proposal": proposal })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Confirm { ticket } => {
                client
                    .call(Method::POST, &post(&ticket, "confirm"), None, &[])
                    .await
            }
            RequestCommand::Decline { ticket, reason } => {
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "decline"),
                        Some(json!({ "reason": reason })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Answer { ticket, answer } => {
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "answer"),
                        Some(json!({ "answer": answer })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Withdraw { ticket, reason } => {
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "withdraw"),
                        Some(json!({ "reason": reason })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Approve { ticket, note } => {
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "approve"),
                        Some(json!({ "note": note })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Reject { ticket, reason } => {
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "reject"),
                        Some(json!({ "reason": reason })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Ask { ticket, question } => {
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "ask"),
                        Some(json!({ "question": question })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Evaluate { ticket, file } => {
                let evaluation = read_document(&file)?;
                client
                    .call(
                        Method::POST,
                        &post(&ticket, "evaluate"),
                        Some(json!({ "evaluation": evaluation })),
                        &[],
                    )
                    .await
            }
            RequestCommand::Implement { ticket } => {
                client
                    .call(Method::POST, &post(&ticket, "implement"), None, &[])
                    .await
            }
            RequestCommand::Upload { file, media_type } => {
                let content = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
                let url = format!("{}/v1/documents", client.base);
                let mut request = client
                    .http
                    .post(&url)
                    .header("Content-Type", media_type)
                    .body(content);
                if let Some(token) = &client.token {
                    request = request.bearer_auth(token);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| Error::Failed(format!("cannot reach {url}: {e}")))?;
                let status = response.status();
                let value: Value = response.json().await.map_err(Error::failed)?;
                if !status.is_success() {
                    return Err(Error::Failed(format!(
                        "{status}: {}",
                        value["message"].as_str().unwrap_or("")
                    )));
                }
                Ok(value)
            }
        }
    }
}

/// The readable form of an API answer.
fn render(value: &Value) -> String {
    if let Some(list) = value["requests"].as_array() {
        let mut out = format!(
            "{:<18} {:<8} {:<11} {:<9} {:<22} {}\n",
            "TICKET", "TLD", "KIND", "PRIORITY", "STATE", "SINCE"
        );
        for r in list {
            out.push_str(&format!(
                "{:<18} {:<8} {:<11} {:<9} {:<22} {}\n",
                r["ticket"].as_str().unwrap_or(""),
                r["tld"].as_str().unwrap_or(""),
                r["kind"].as_str().unwrap_or(""),
                r["priority"].as_str().unwrap_or(""),
                r["state"].as_str().unwrap_or(""),
                r["state_since"].as_str().unwrap_or(""),
            ));
        }
        return out;
    }
    if let Some(sha) = value["sha256"].as_str() {
        return format!("stored document {sha}\n");
    }
    let Some(ticket) = value["ticket"].as_str() else {
        return format!("{value}\n");
    };
    let mut out = format!(
        "{ticket}  {}  {}  {}\n",
        value["tld"].as_str().unwrap_or(""),
        value["kind"].as_str().unwrap_or(""),
        value["priority"].as_str().unwrap_or("")
    );
    let owner = match value["owner"].as_str() {
        Some("tld") => "waiting on the TLD",
        Some("desk") => "with the desk",
        _ => "closed",
    };
    out.push_str(&format!(
        "state      {} ({owner} since {})\n",
        value["state"].as_str().unwrap_or(""),
        value["state_since"].as_str().unwrap_or("")
    ));
    if let Some(revisions) = value["revisions"].as_array() {
        out.push_str(&format!("revision   {}\n", revisions.len()));
    }
    if let Some(consents) = value["consents"].as_object() {
        let list: Vec<String> = consents
            .iter()
            .map(|(c, done)| {
                format!(
                    "{c} {}",
                    if done.as_bool() == Some(true) {
                        "confirmed"
                    } else {
                        "pending"
                    }
                )
            })
            .collect();
        out.push_str(&format!("consents   {}\n", list.join(", ")));
        if let Some(details) = value["pending_consent_details"].as_array() {
            for d in details.iter().filter_map(Value::as_str) {
                out.push_str(&format!("  waiting  {d}\n"));
            }
        }
    }
    if let Some(serial) = value["serial"].as_u64() {
        out.push_str(&format!("published  serial {serial}\n"));
    }
    if let Some(history) = value["history"].as_array() {
        out.push_str("history\n");
        for h in history {
            let by = &h["by"];
            let who = match by["id"].as_str() {
                Some(id) => format!("{} {id}", by["party"].as_str().unwrap_or("")),
                None => by["party"].as_str().unwrap_or("").to_string(),
            };
            let mut line = format!(
                "  {}  {:<16} {who}",
                h["time"].as_str().unwrap_or(""),
                h["event"]["event"].as_str().unwrap_or("")
            );
            if let Some(summary) = h["event"]["summary"].as_str() {
                line.push_str(&format!("  {summary}"));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
