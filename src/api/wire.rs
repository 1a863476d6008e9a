//! Bodies of the API's requests and responses. Every body refuses unknown fields.

use serde::{Deserialize, Serialize};

use crate::registry::Delegation;
use crate::store::{CheckJob, RequestSummary};
use crate::workflow::{Evaluation, Proposal, Recorded, Request};

/// A request as the API shows it.
#[derive(Debug, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: Request,
    pub pending_consents: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckJob>>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
            request,
            checks: None,
            history: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RequestList {
    pub requests: Vec<RequestSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendBody {
    pub proposal: Proposal,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub answer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionBody {
    pub question: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateBody {
    pub evaluation: Evaluation,
}

/// `POST /v1/check`: a dry run of the technical checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    pub zone: String,
    pub delegation: Delegation,
}

#[derive(Debug, Serialize)]
pub struct DocumentStored {
    pub sha256: String,
}
