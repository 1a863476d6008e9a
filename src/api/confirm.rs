//! The pages behind e-mailed confirmation links (`/confirm/{secret}`): plain HTML for people,
//! not JSON for programs. GET shows the change and a form; POST confirms or declines.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use maud::{html, Markup, DOCTYPE};

use super::{ApiError, AppState, Peer};
use crate::desk::links::{self, LinkForm, LinkOutcome, Refusal};

/// A page of its own (no portal layout: the link's page must stand alone), escaped by maud,
/// with the portal's security headers, never cached, its address never handed on.
fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="robots" content="noindex";
                title { (title) " - rootdesk" }
            }
            body {
                h1 { (title) }
                (body)
            }
        }
    };
    let mut response = (status, Html(markup.into_string())).into_response();
    let headers = response.headers_mut();
    // Never cache a page that carries a single-use secret in its address.
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    crate::portal::apply_headers(headers);
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
    let logged = if r == Refusal::Unknown {
        "logged"
    } else {
        "recorded"
    };
    page(
        status,
        "This link cannot be used",
        html! {
            p id="refused" data-reason=(r.code()) { (r.message()) }
            p { "Nothing was changed. The attempt has been " (logged) "." }
        },
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
            html! {
                p {
                    "Request " b { (request.ticket) } ", revision " (link.revision)
                    ", asks to change ." (request.tld) ". You are asked as contact "
                    b { (link.contact) } "."
                }
                @if let (handle, true) = crate::workflow::consent_subject(&link.contact) {
                    p id="new-address" {
                        "This link confirms the new e-mail address the request gives "
                        b { (handle) } ": confirm only if this address reaches " (handle) ". "
                        (handle) " is asked for its own consent separately, at the address \
                        the desk has on file."
                    }
                }
                h2 { "What changes" }
                pre { (changes) }
                p { "This link works once and expires at " (link.expires_at) "." }
                form method="post" {
                    input type="hidden" name="contact" value=(link.contact);
                    p {
                        label {
                            input type="radio" name="decision" value="confirm" checked;
                            " I confirm this change"
                        }
                    }
                    p {
                        label {
                            input type="radio" name="decision" value="decline";
                            " I decline it, because:"
                        }
                        " "
                        input type="text" name="reason" size="60" aria-label="why you decline";
                    }
                    p { button type="submit" { "Send my answer" } }
                }
            },
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
            html! {
                p id="done" {
                    (link.contact) " " (if confirmed { "confirmed" } else { "declined" })
                    " revision " (link.revision) " of " (request.ticket) " (." (request.tld)
                    "). The request is now in " (request.state.as_str()) "."
                }
            },
        ),
    }
}

fn failed(e: ApiError) -> Response {
    page(
        e.status,
        "Your answer was not recorded",
        html! {
            p id="error" data-error=(e.error) { (e.message) }
        },
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
