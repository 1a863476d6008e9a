//! `rootdesk request ...`: the API client. It talks to the daemon over the same HTTP API and
//! wire types as any other client.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{emit, Context, Format};
use crate::api::wire::{
    AmendBody, AnswerBody, CheckList, DocumentStored, EmptyBody, ErrorBody, EvaluateBody, NoteBody,
    QuestionBody, ReasonBody, RequestList, RequestView, SubmissionBody,
};
use crate::error::{Error, Result};
use crate::registry::{Delegation, DsRecord, HostName, NameServer};
use crate::workflow::{Evaluation, Priority, Proposal, State};

pub mod render;

/// Submit and act on change requests through the daemon's API
#[derive(Debug, Args)]
pub struct RequestCmd {
    /// The daemon's base URL [env: ROOTDESK_SERVER; default: client.server]
    #[arg(long, global = true, env = "ROOTDESK_SERVER")]
    pub server: Option<String>,
    /// Bearer token [env: ROOTDESK_TOKEN; default: client.token]
    #[arg(long, global = true, env = "ROOTDESK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output: table (readable), json, or csv (lists only)
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(subcommand)]
    pub command: RequestCommand,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Submit a request: a delegation from flags, or any kind from a JSON/TOML file
    Submit(SubmitArgs),
    /// List the requests you may see, newest first
    List {
        #[arg(long)]
        tld: Option<String>,
        /// Only requests in this state; repeat for several
        #[arg(long = "state", value_name = "STATE")]
        states: Vec<String>,
        /// Only requests waiting on this party: tld (the TLD must act) or desk
        #[arg(long, value_enum)]
        owner: Option<OwnerArg>,
        /// Only open requests
        #[arg(long)]
        open: bool,
        /// At most this many, newest first (fetched a page of up to 1000 at a time)
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show a request: the proposal, who must act now, what people wrote, checks, history
    Show { ticket: String },
    /// Show every check report of a request, its findings grouped by server
    Checks { ticket: String },
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
    /// Staff: record the out-of-band verification a TLD's special handling asks for (by
    /// someone other than the approver)
    Verify {
        ticket: String,
        #[arg(long)]
        note: String,
    },
    /// Upload an evidence document; prints its SHA-256 for a transfer's evidence list
    Upload {
        file: PathBuf,
        #[arg(long, default_value = "application/octet-stream")]
        media_type: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OwnerArg {
    Tld,
    Desk,
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
fn delegation_from_flags(args: &ProposalArgs) -> Result<Proposal> {
    if args.ns.is_empty() {
        return Err(Error::Usage(
            "name the name servers with --ns NAME[/ADDR] (or give --file)".into(),
        ));
    }
    let mut servers: Vec<NameServer> = Vec::new();
    for arg in &args.ns {
        let (name, address) = match arg.split_once('/') {
            Some((n, a)) => (n, Some(a)),
            None => (arg.as_str(), None),
        };
        let name = HostName::parse(name)?;
        let position = match servers.iter().position(|s| s.name == name) {
            Some(p) => p,
            None => {
                servers.push(NameServer {
                    name,
                    addresses: Vec::new(),
                });
                servers.len() - 1
            }
        };
        if let Some(a) = address {
            let ip: IpAddr = a
                .parse()
                .map_err(|_| Error::Usage(format!("--ns {arg}: {a:?} is not an IP address")))?;
            servers[position].addresses.push(ip);
        }
    }
    let ds = args
        .ds
        .iter()
        .map(|d| DsRecord::parse(d))
        .collect::<std::result::Result<_, _>>()?;
    Ok(Proposal::Delegation {
        delegation: Delegation::from_parts(servers, ds)?,
    })
}

/// A body as the API's wire types write it.
fn to_value<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(Error::failed)
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// One API call: the body as a wire type, the answer read as one.
    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        headers: &[(&str, &str)],
    ) -> Result<R> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::answer(request, &url).await
    }

    async fn answer<R: DeserializeOwned>(request: reqwest::RequestBuilder, url: &str) -> Result<R> {
        let response = request
            .send()
            .await
            .map_err(|e| Error::Failed(format!("cannot reach the desk at {url}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Failed(format!("{url}: the answer broke off: {e}")))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => Error::Failed(format!("{status} {}: {}", e.error, e.message)),
                Err(_) => Error::Failed(format!(
                    "{url} answered {status}: {}",
                    String::from_utf8_lossy(&bytes).trim()
                )),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Failed(format!(
                "{url} answered {status} with a body this client cannot read ({e}); are client and desk the same version?"
            ))
        })
    }

    /// Posts an action, then reads the request back whole (history and checks), so that
    /// every action prints what `show` prints.
    async fn act<B: Serialize>(&self, ticket: &str, action: &str, body: &B) -> Result<Answer> {
        let path = format!("/v1/requests/{ticket}/{action}");
        let _: RequestView = self
            .call(reqwest::Method::POST, &path, Some(body), &[])
            .await?;
        self.show(ticket).await
    }

    async fn show(&self, ticket: &str) -> Result<Answer> {
        let path = format!("/v1/requests/{ticket}");
        let none: Option<&EmptyBody> = None;
        let view: RequestView = self.call(reqwest::Method::GET, &path, none, &[]).await?;
        Ok(Answer::Request(Box::new(view)))
    }
}

/// What a subcommand got back, typed.
enum Answer {
    Request(Box<RequestView>),
    List(RequestList),
    Checks(CheckList),
    Document(DocumentStored),
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
        let format = self.format;
        if format == Format::Csv && !matches!(self.command, RequestCommand::List { .. }) {
            return Err(Error::Usage(
                "--format csv is for lists (request list); use table or json".into(),
            ));
        }
        if let RequestCommand::List { states, .. } = &self.command {
            for s in states {
                if !State::ALL.iter().any(|k| k.as_str() == s) {
                    let names: Vec<&str> = State::ALL.iter().map(|k| k.as_str()).collect();
                    return Err(Error::Usage(format!(
                        "--state {s}: not a state; one of {}",
                        names.join(", ")
                    )));
                }
            }
        }
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
        let answer = runtime.block_on(self.call(&client))?;
        let now = time::OffsetDateTime::now_utc();
        let text = match (&answer, format) {
            (Answer::List(list), _) => render::request_list(list, format, now)?,
            (Answer::Request(view), Format::Json) => pretty(view)?,
            (Answer::Checks(list), Format::Json) => pretty(list)?,
            (Answer::Document(doc), Format::Json) => pretty(doc)?,
            (Answer::Request(view), _) => render::request_show(view, now),
            (Answer::Checks(list), _) => render::request_checks(list),
            (Answer::Document(doc), _) => format!("stored document {}\n", doc.sha256),
        };
        emit(&text)
    }

    async fn call(self, client: &Client) -> Result<Answer> {
        use reqwest::Method;
        let none: Option<&EmptyBody> = None;
        match self.command {
            RequestCommand::Submit(args) => {
                let body = match &args.proposal.file {
                    Some(path) => read_document(path)?,
                    None => {
                        let tld = args
                            .tld
                            .clone()
                            .ok_or_else(|| Error::Usage("name the TLD with --tld".into()))?;
                        let emergency = args.emergency.is_some();
                        to_value(&SubmissionBody {
                            tld,
                            priority: if emergency {
                                Priority::Emergency
                            } else {
                                Priority::Normal
                            },
                            emergency_reason: args.emergency.clone(),
                            proposal: to_value(&delegation_from_flags(&args.proposal)?)?,
                        })?
                    }
                };
                let key = args.idempotency_key.clone();
                let headers: Vec<(&str, &str)> = key
                    .as_deref()
                    .map(|k| ("Idempotency-Key", k))
                    .into_iter()
                    .collect();
                let view: RequestView = client
                    .call(Method::POST, "/v1/requests", Some(&body), &headers)
                    .await?;
                client.show(&view.request.ticket).await
            }
            RequestCommand::List {
                tld,
                states,
                owner,
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
                if !states.is_empty() {
                    query.push(format!("state={}", states.join(",")));
                }
                if let Some(o) = owner {
                    query.push(format!(
                        "owner={}",
                        match o {
                            OwnerArg::Tld => "tld",
                            OwnerArg::Desk => "desk",
                        }
                    ));
                }
                // Follow the daemon's `next` links until `limit` requests or the end.
                let mut path = format!("/v1/requests?{}", query.join("&"));
                let mut requests = Vec::new();
                loop {
                    let page: RequestList = client.call(Method::GET, &path, none, &[]).await?;
                    requests.extend(page.requests);
                    match page.next {
                        Some(next) if requests.len() < limit => path = next,
                        _ => break,
                    }
                }
                requests.truncate(limit);
                Ok(Answer::List(RequestList {
                    requests,
                    next: None,
                }))
            }
            RequestCommand::Show { ticket } => client.show(&ticket).await,
            RequestCommand::Checks { ticket } => {
                let path = format!("/v1/requests/{ticket}/checks");
                Ok(Answer::Checks(
                    client.call(Method::GET, &path, none, &[]).await?,
                ))
            }
            RequestCommand::Amend { ticket, proposal } => {
                let proposal = match &proposal.file {
                    Some(path) => read_document(path)?,
                    None => to_value(&delegation_from_flags(&proposal)?)?,
                };
                client.act(&ticket, "amend", &AmendBody { proposal }).await
            }
            RequestCommand::Confirm { ticket } => {
                client.act(&ticket, "confirm", &EmptyBody {}).await
            }
            RequestCommand::Decline { ticket, reason } => {
                client.act(&ticket, "decline", &ReasonBody { reason }).await
            }
            RequestCommand::Answer { ticket, answer } => {
                client.act(&ticket, "answer", &AnswerBody { answer }).await
            }
            RequestCommand::Withdraw { ticket, reason } => {
                client
                    .act(&ticket, "withdraw", &ReasonBody { reason })
                    .await
            }
            RequestCommand::Approve { ticket, note } => {
                client.act(&ticket, "approve", &NoteBody { note }).await
            }
            RequestCommand::Reject { ticket, reason } => {
                client.act(&ticket, "reject", &ReasonBody { reason }).await
            }
            RequestCommand::Ask { ticket, question } => {
                client.act(&ticket, "ask", &QuestionBody { question }).await
            }
            RequestCommand::Evaluate { ticket, file } => {
                let evaluation: Evaluation = serde_json::from_value(read_document(&file)?)
                    .map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
                client
                    .act(&ticket, "evaluate", &EvaluateBody { evaluation })
                    .await
            }
            RequestCommand::Implement { ticket } => {
                client.act(&ticket, "implement", &EmptyBody {}).await
            }
            RequestCommand::Verify { ticket, note } => {
                client.act(&ticket, "verify", &NoteBody { note }).await
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
                Ok(Answer::Document(Client::answer(request, &url).await?))
            }
        }
    }
}

/// Pretty JSON of an answer, as the API gave it.
fn pretty<T: Serialize>(value: &T) -> Result<String> {
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(value).map_err(Error::failed)?
    ))
}
