//! The pages behind e-mailed confirmation links (`/confirm/{secret}`): plain HTML for people,
//! not JSON for programs. GET shows the change and a form; POST confirms or declines.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};

use super::{ApiError, AppState, Peer};
use crate::desk::links::{self, LinkForm, LinkOutcome, Refusal};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"robots\" content=\"noindex\"><title>{t} - rootdesk</title></head>\n\
         <body>\n<h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    // Never cache a page that carries a single-use secret in its address.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    // Nor hand its address to another site.
    response.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    response
}

fn refused(r: Refusal) -> Response {
    let status = match r {
        Refusal::Unknown => StatusCode::NOT_FOUND,
        Refusal::WrongContact => StatusCode::FORBIDDEN,
        Refusal::Used | Refusal::Expired | Refusal::OlderRevision | Refusal::NotPending => {
            StatusCode::GONE
        }
    };
    page(
        status,
        "This link cannot be used",
        &format!(
            "<p id=\"refused\" data-reason=\"{}\">{}</p>\n<p>Nothing was changed. The attempt has been {}.</p>",
            r.code(),
            escape(r.message()),
            if r == Refusal::Unknown { "logged" } else { "recorded" }
        ),
    )
}

fn render(outcome: LinkOutcome) -> Response {
    match outcome {
        LinkOutcome::Refused(r) => refused(r),
        LinkOutcome::Show {
            link,
            request,
            changes,
        } => page(
            StatusCode::OK,
            &format!("Your consent for {} (.{})", request.ticket, request.tld),
            &format!(
                "<p>Request <b>{ticket}</b>, revision {rev}, asks to change .{tld}. You are asked as contact <b>{contact}</b>.</p>\n{about}\
                 <h2>What changes</h2>\n<pre>{changes}</pre>\n\
                 <p>This link works once and expires at {expires}.</p>\n\
                 <form method=\"post\">\n\
                 <input type=\"hidden\" name=\"contact\" value=\"{contact}\">\n\
                 <p><label><input type=\"radio\" name=\"decision\" value=\"confirm\" checked> I confirm this change</label></p>\n\
                 <p><label><input type=\"radio\" name=\"decision\" value=\"decline\"> I decline it, because:</label>\n\
                 <input type=\"text\" name=\"reason\" size=\"60\"></p>\n\
                 <p><button type=\"submit\">Send my answer</button></p>\n</form>",
                ticket = escape(&request.ticket),
                rev = link.revision,
                tld = escape(&request.tld),
                contact = escape(&link.contact),
                about = match crate::workflow::consent_subject(&link.contact) {
                    (handle, true) => format!(
                        "<p id=\"new-address\">This link confirms the new e-mail address the request gives <b>{h}</b>: \
                         confirm only if this address reaches {h}. {h} is asked for its own consent separately, \
                         at the address the desk has on file.</p>\n",
                        h = escape(handle)
                    ),
                    (_, false) => String::new(),
                },
                changes = escape(&changes),
                expires = escape(&link.expires_at),
            ),
        ),
        LinkOutcome::Done {
            link,
            request,
            confirmed,
        } => page(
            StatusCode::OK,
            if confirmed {
                "Thank you: your consent is recorded"
            } else {
                "Your decline is recorded"
            },
            &format!(
                "<p id=\"done\">{contact} {what} revision {rev} of {ticket} (.{tld}). The request is now in {state}.</p>",
                contact = escape(&link.contact),
                what = if confirmed { "confirmed" } else { "declined" },
                rev = link.revision,
                ticket = escape(&request.ticket),
                tld = escape(&request.tld),
                state = request.state,
            ),
        ),
    }
}

fn failed(e: ApiError) -> Response {
    page(
        e.status,
        "Your answer was not recorded",
        &format!(
            "<p id=\"error\" data-error=\"{}\">{}</p>",
            e.error,
            escape(&e.message)
        ),
    )
}

pub(super) async fn show(
    State(desk): State<AppState>,
    peer: Option<Extension<Peer>>,
    Path(secret): Path<String>,
) -> Response {
    let source = peer.map(|p| p.0 .0.ip().to_string());
    match super::blocking(move || links::open(&desk, &secret, source.as_deref())).await {
        Ok(outcome) => render(outcome),
        Err(e) => failed(e),
    }
}

pub(super) async fn decide(
    State(desk): State<AppState>,
    peer: Option<Extension<Peer>>,
    Path(secret): Path<String>,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return failed(ApiError::invalid("form", e.body_text())),
    };
    let source = peer.map(|p| p.0 .0.ip().to_string());
    match super::blocking(move || links::decide(&desk, &secret, &form, source.as_deref())).await {
        Ok(outcome) => render(outcome),
        Err(e) => failed(e),
    }
}
