//! Bodies of the API's requests and responses. Every body refuses unknown fields.

use serde::{Deserialize, Serialize};

use super::ApiError;

use crate::registry::Delegation;
use crate::store::{CheckJob, RequestSummary};
use crate::workflow::{Evaluation, Proposal, Recorded, Request};

/// A request as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: Request,
    pub pending_consents: Vec<String>,
    /// Each pending consent in words: whose, and at which address.
    pub pending_consent_details: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckJob>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Recorded>>,
}

impl RequestView {
    pub fn new(request: Request) -> RequestView {
        RequestView {
            pending_consents: request
                .pending_consents()
                .into_iter()
                .map(String::from)
                .collect(),
            pending_consent_details: request.pending_consent_details(),
            request,
            checks: None,
            history: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RequestList {
    pub requests: Vec<RequestSummary>,
    /// The next page (the same query with `after`), when there may be more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `GET /v1/requests/{ticket}/checks`: every check run of a request, with its report once
/// it finished.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckList {
    pub checks: Vec<CheckRun>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CheckRun {
    pub job: CheckJob,
    /// A [`crate::check::Report`] as stored when the check ran (kept as written, so that a
    /// report of an older version is shown as it was).
    pub report: Option<serde_json::Value>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable label (`auth-forbidden`, `invalid-input`, ...).
    pub error: String,
    pub message: String,
    /// The input field at fault, for `invalid-input`.
    #[serde(default)]
    pub field: Option<String>,
}

// Request bodies: the server reads them (refusing unknown fields), the CLI client writes them.

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendBody {
    pub proposal: serde_json::Value,
}

/// A submission as received; the proposal is read by [`proposal_from_value`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBody {
    pub tld: String,
    #[serde(default)]
    pub priority: crate::workflow::Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_reason: Option<String>,
    pub proposal: serde_json::Value,
}

/// Reads a proposal by its `kind`, so that an error names the exact field
/// (`proposal.delegation.ds[0].key_tag`), which serde's tagged enums cannot.
pub fn proposal_from_value(value: serde_json::Value) -> Result<Proposal, ApiError> {
    use crate::registry::Contact;
    use crate::workflow::Evidence;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct DelegationP {
        delegation: Delegation,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ContactsP {
        #[serde(default)]
        admin: Option<Contact>,
        #[serde(default)]
        tech: Option<Contact>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SponsorP {
        sponsor: String,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TransferP {
        sponsor: String,
        admin: Contact,
        tech: Contact,
        #[serde(default)]
        delegation: Option<Delegation>,
        evidence: Vec<Evidence>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AuthorityP {
        authority: crate::workflow::Authority,
    }
    fn read<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "proposal".to_string()
            } else {
                format!("proposal.{path}")
            };
            ApiError::invalid(&field, format!("{field}: {}", e.inner()))
        })
    }
    let serde_json::Value::Object(mut map) = value else {
        return Err(ApiError::invalid(
            "proposal",
            "proposal: expected an object with a `kind`",
        ));
    };
    let kind = map.remove("kind");
    let rest = serde_json::Value::Object(map);
    match kind.as_ref().and_then(|k| k.as_str()) {
        Some("delegation") => Ok(Proposal::Delegation { delegation: read::<DelegationP>(rest)?.delegation }),
        Some("contacts") => {
            let p: ContactsP = read(rest)?;
            Ok(Proposal::Contacts { admin: p.admin, tech: p.tech })
        }
        Some("sponsor") => Ok(Proposal::Sponsor { sponsor: read::<SponsorP>(rest)?.sponsor }),
        Some("transfer") => {
            let p: TransferP = read(rest)?;
            Ok(Proposal::Transfer {
                sponsor: p.sponsor,
                admin: p.admin,
                tech: p.tech,
                delegation: p.delegation,
                evidence: p.evidence,
            })
        }
        Some("authority") => Ok(Proposal::Authority { authority: read::<AuthorityP>(rest)?.authority }),
        Some(other) => Err(ApiError::invalid(
            "proposal.kind",
            format!("proposal.kind: unknown variant `{other}`, expected one of `delegation`, `contacts`, `sponsor`, `transfer`, `authority`"),
        )),
        None => Err(ApiError::invalid("proposal.kind", "proposal.kind: missing; use delegation, contacts, sponsor, transfer or authority")),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub answer: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionBody {
    pub question: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateBody {
    pub evaluation: Evaluation,
}

/// `POST /v1/check`: a dry run of the technical checks.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    pub zone: String,
    pub delegation: Delegation,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DocumentStored {
    pub sha256: String,
}
