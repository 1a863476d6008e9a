//! Issuing and minting confirmation links for the outbox's messages. Using one is the desk's
//! ([`crate::desk::links`]): it acts through the desk's pipeline.

use rusqlite::Transaction;
use time::OffsetDateTime;

use crate::store::{self, ConfirmLink, StoreError};
use crate::workflow::Request;

/// What an unsent link is stored under: no secret hashes to it (a hash is hex).
const UNSENT: &str = "unsent:";

/// Where an invitation's placeholder stands in a message (issue 14's migration).
const INVITATION_MARK: &str = "/v1/invitations/{secret:";

/// What an invitation's template row is stored under, and what stands in its message.
pub(crate) fn invitation_placeholder() -> Result<(String, String), StoreError> {
    let mut id = [0u8; 6];
    random(&mut id)?;
    let id = format!("inv-{}", data_encoding::HEXLOWER.encode(&id));
    Ok((format!("{UNSENT}{id}"), placeholder(&id)))
}

/// Mints the invitation whose placeholder is at `marker` of the `Link:` line
/// (`body[start..end]`): a fresh secret, its hash stored as a new invitation from the template.
fn mint_invitation(
    tx: &Transaction<'_>,
    body: &str,
    start: usize,
    end: usize,
    marker: usize,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let line = &body[start..end];
    let id = line[marker..]
        .strip_prefix("{secret:")
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| StoreError::Corrupt(format!("malformed invitation placeholder {line:?}")))?;
    let mut bytes = [0u8; 32];
    random(&mut bytes)?;
    let secret = data_encoding::BASE64URL_NOPAD.encode(&bytes);
    store::persons::mint_invitation_tx(
        tx,
        &format!("{UNSENT}{id}"),
        &store::token_hash(&secret),
        now,
    )?;
    let mut out = String::with_capacity(body.len());
    out.push_str(&body[..start]);
    out.push_str(&line[..marker]);
    out.push_str(&secret);
    out.push_str(&body[end..]);
    Ok(out)
}

/// What stands in the outbox for a link's secret until the sender mints it.
fn placeholder(id: &str) -> String {
    format!("{{secret:{id}}}")
}

fn random(bytes: &mut [u8]) -> Result<(), StoreError> {
    getrandom::fill(bytes)
        .map_err(|e| StoreError::Conflict(format!("no randomness from the operating system: {e}")))
}

/// Issues a link for `contact` on the request's current revision; returns what goes into
/// the message in place of the secret. No secret exists yet: the sender mints it when it
/// hands the message to the relay ([`mint`]), so the database never holds a usable link.
pub(crate) fn issue(
    tx: &Transaction<'_>,
    request: &Request,
    contact: &str,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<String, StoreError> {
    let mut id = [0u8; 6];
    random(&mut id)?;
    let id = format!("lnk-{}", data_encoding::HEXLOWER.encode(&id));
    let link = ConfirmLink {
        id: id.clone(),
        ticket: request.ticket.clone(),
        revision: request.revision(),
        contact: contact.to_string(),
        created_at: store::timestamp(now),
        expires_at: store::timestamp(expires),
        used_at: None,
    };
    store::insert_link(tx, &format!("{UNSENT}{id}"), &link)?;
    Ok(placeholder(&id))
}

/// The message as it goes to the relay: the link in the desk's own `Link:` line (the last
/// one, after every piece of user text) gets a fresh secret, and only its SHA-256 is
/// stored. The first send gives the issued link its hash; a resend (after a failure or a
/// crash, when the earlier secret is gone) adds a sibling link for the same contact and
/// revision, so that a copy the relay did take keeps working. Returns `body` unchanged when
/// it carries no link.
pub(crate) fn mint(
    tx: &Transaction<'_>,
    body: &str,
    ticket: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    const LINE: &str = "\nLink:\n  ";
    let Some(at) = body.rfind(LINE) else {
        return Ok(body.to_string());
    };
    let start = at + LINE.len();
    let end = body[start..].find('\n').map_or(body.len(), |i| start + i);
    let line = &body[start..end];
    if let Some(i) = line.find(INVITATION_MARK) {
        return mint_invitation(tx, body, start, end, i + "/v1/invitations/".len(), now);
    }
    let Some(marker) = line
        .find("/confirm/{secret:")
        .map(|i| i + "/confirm/".len())
    else {
        return Ok(body.to_string());
    };
    let id = line[marker..]
        .strip_prefix("{secret:")
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| StoreError::Corrupt(format!("malformed link placeholder {line:?}")))?;
    let (link, hash) = store::link_by_id(tx, id)?.ok_or_else(|| {
        StoreError::Corrupt(format!("the outbox names link {id}, which does not exist"))
    })?;
    if Some(link.ticket.as_str()) != ticket {
        return Err(StoreError::Corrupt(format!(
            "link {id} belongs to {}, not to this message's request",
            link.ticket
        )));
    }
    // 192 bits: unguessable, and short enough to keep the link on one line.
    let mut bytes = [0u8; 24];
    random(&mut bytes)?;
    let secret = data_encoding::BASE64URL_NOPAD.encode(&bytes);
    let new_hash = store::token_hash(&secret);
    if !(hash.starts_with(UNSENT) && store::set_link_hash(tx, id, &hash, &new_hash)?) {
        let mut sibling = [0u8; 6];
        random(&mut sibling)?;
        let sibling = ConfirmLink {
            id: format!("lnk-{}", data_encoding::HEXLOWER.encode(&sibling)),
            created_at: store::timestamp(now),
            used_at: None,
            ..link
        };
        store::insert_link(tx, &new_hash, &sibling)?;
    }
    let mut out = String::with_capacity(body.len());
    out.push_str(&body[..start]);
    out.push_str(&line[..marker]);
    out.push_str(&secret);
    out.push_str(&body[end..]);
    Ok(out)
}

#[cfg(test)]
mod invitation_tests {
    use super::*;

    /// An invitation queued with a placeholder gets its secret when sent, and each send's
    /// link opens the same person's invitation.
    #[test]
    fn invitations_are_minted_at_send_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store::Store::create(&dir.path().join("t.db")).expect("create");
        let now = OffsetDateTime::now_utc();
        let expires = now + time::Duration::days(7);
        let (template, placeholder) = invitation_placeholder().expect("placeholder");
        let body = format!("Hello\nLink:\n  http://d/v1/invitations/{placeholder}\n");
        let sent = store
            .write(|tx| {
                store::persons::insert_person_tx(
                    tx,
                    "p-1",
                    "Ann",
                    "ann@nic.xa",
                    store::Role::Manager,
                    now,
                )?;
                store::persons::insert_unsent_invitation_tx(tx, &template, "p-1", now, expires)?;
                Ok::<_, StoreError>((mint(tx, &body, None, now)?, mint(tx, &body, None, now)?))
            })
            .expect("mint");
        for text in [&sent.0, &sent.1] {
            let secret = text
                .rsplit("/v1/invitations/")
                .next()
                .expect("link")
                .trim_end();
            assert!(!secret.contains('{'), "{text}");
            assert_eq!(
                store::persons::open_invitation(store.conn(), &store::token_hash(secret), now)
                    .expect("read")
                    .as_deref(),
                Some("p-1")
            );
        }
        assert_ne!(sent.0, sent.1, "each send its own secret");
        assert_eq!(
            store::persons::open_invitation(store.conn(), &store::token_hash(&template), now)
                .expect("read"),
            None,
            "no secret reaches the template: secrets are looked up by their hex hash"
        );
    }
}
