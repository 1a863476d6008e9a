//! API tokens: random secrets shown once, stored as SHA-256 hashes.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use time::OffsetDateTime;

pub use crate::registry::{token_hash, Role};

use super::{append_event, timestamp, Result, Store, StoreError};
use crate::audit::{Actor, NewEvent};

/// A token as stored: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    pub id: String,
    pub role: Role,
    pub subject: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        StoreError::Conflict(format!("no randomness from the operating system: {e}"))
    })?;
    Ok(bytes)
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Token, String)> {
    let role: String = r.get(1)?;
    Ok((
        Token {
            id: r.get(0)?,
            role: Role::parse(&role).unwrap_or(Role::Auditor),
            subject: r.get(2)?,
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
            revoked_at: r.get(5)?,
        },
        role,
    ))
}

fn token_payload(token: &Token) -> serde_json::Value {
    serde_json::json!({
        "token": token.id,
        "role": token.role.as_str(),
        "subject": token.subject,
        "expires_at": token.expires_at,
    })
}

const TOKEN_COLUMNS: &str = "id, role, subject, created_at, expires_at, revoked_at";

impl Store {
    /// Issues a token; returns it with its secret, which is not stored and cannot be shown
    /// again. A contact token's subject must be a known contact handle.
    pub fn issue_token(
        &mut self,
        role: Role,
        subject: &str,
        expires_at: Option<OffsetDateTime>,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(Token, String)> {
        self.write(|tx| issue_token_tx(tx, role, subject, expires_at, actor, now))
    }

    /// Revokes a token; the revocation is an event.
    pub fn revoke_token(&mut self, id: &str, actor: &Actor, now: OffsetDateTime) -> Result<Token> {
        self.write(|tx| revoke_token_tx(tx, id, actor, now))
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<Token>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC, id"
        ))?;
        let rows = stmt.query_map([], token_from_row)?;
        Ok(rows
            .map(|r| r.map(|(t, _)| t))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The valid token for `secret` at `now`: known, not revoked, not expired.
    pub fn authenticate(&self, secret: &str, now: OffsetDateTime) -> Result<Option<Token>> {
        let token = self
            .conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"
            ))?
            .query_row([token_hash(secret)], token_from_row)
            .optional()?;
        let Some((token, _)) = token else {
            return Ok(None);
        };
        let now = timestamp(now);
        let expired = token.expires_at.as_ref().is_some_and(|e| *e <= now);
        if token.revoked_at.is_some() || expired {
            return Ok(None);
        }
        Ok(Some(token))
    }
}

/// Issues a token inside a caller's transaction.
pub fn issue_token_tx(
    tx: &rusqlite::Transaction<'_>,
    role: Role,
    subject: &str,
    expires_at: Option<OffsetDateTime>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<(Token, String)> {
    if subject.trim().is_empty() {
        return Err(StoreError::Conflict("a token needs a subject".into()));
    }
    if role == Role::Contact {
        let known: bool = tx
            .prepare_cached("SELECT 1 FROM contacts WHERE handle = ?1")?
            .exists([subject])?;
        if !known {
            return Err(StoreError::NotFound(format!(
                "contact {subject:?} (a contact token's subject is a contact handle; `rootdesk tld show LABEL` lists them)"
            )));
        }
    }
    if let Some(expiry) = expires_at {
        if expiry <= now {
            return Err(StoreError::Conflict("the expiry lies in the past".into()));
        }
    }
    let secret = format!(
        "rd_{}",
        data_encoding::BASE64URL_NOPAD.encode(&random_bytes::<32>()?)
    );
    let id = format!(
        "tok-{}",
        data_encoding::HEXLOWER.encode(&random_bytes::<4>()?)
    );
    tx.execute(
        "INSERT INTO tokens (id, hash, role, subject, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, token_hash(&secret), role.as_str(), subject, timestamp(now), expires_at.map(timestamp)],
    )?;
    let token = Token {
        id,
        role,
        subject: subject.to_string(),
        created_at: timestamp(now),
        expires_at: expires_at.map(timestamp),
        revoked_at: None,
    };
    // The event names the token, never its secret or hash.
    append_event(
        tx,
        &NewEvent::of(
            actor.clone(),
            crate::audit::Kind::TokenIssued,
            token_payload(&token),
        )
        .at(now),
    )?;
    Ok((token, secret))
}

/// Revokes a token inside a caller's transaction; revoking twice is an error.
pub fn revoke_token_tx(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Token> {
    let found = tx
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?
        .query_row([id], token_from_row)
        .optional()?;
    let Some((mut token, _)) = found else {
        return Err(StoreError::NotFound(format!(
            "token {id} (`rootdesk token list` shows them)"
        )));
    };
    if token.revoked_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "token {id} is already revoked"
        )));
    }
    tx.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1",
        params![id, timestamp(now)],
    )?;
    token.revoked_at = Some(timestamp(now));
    append_event(
        tx,
        &NewEvent::of(
            actor.clone(),
            crate::audit::Kind::TokenRevoked,
            token_payload(&token),
        )
        .at(now),
    )?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn issue_authenticate_expire_revoke() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(&dir.path().join("t.db")).expect("create");
        let now = OffsetDateTime::now_utc();
        let (token, secret) = store
            .issue_token(
                Role::Staff,
                "alice",
                Some(now + Duration::hours(1)),
                &Actor::cli(),
                now,
            )
            .expect("issue");
        assert!(secret.starts_with("rd_") && secret.len() > 40);
        let stored: String = store
            .conn()
            .query_row("SELECT hash FROM tokens", [], |r| r.get(0))
            .expect("hash");
        assert_ne!(stored, secret, "only the hash is stored");
        assert_eq!(
            store.authenticate(&secret, now).expect("auth"),
            Some(token.clone())
        );
        assert_eq!(store.authenticate("rd_wrong", now).expect("auth"), None);
        assert_eq!(
            store
                .authenticate(&secret, now + Duration::hours(2))
                .expect("auth"),
            None
        );
        store
            .revoke_token(&token.id, &Actor::cli(), now)
            .expect("revoke");
        assert_eq!(store.authenticate(&secret, now).expect("auth"), None);
        assert!(store.revoke_token(&token.id, &Actor::cli(), now).is_err());
        let err = store
            .issue_token(Role::Contact, "nobody", None, &Actor::cli(), now)
            .expect_err("unknown contact");
        let kinds: Vec<String> = store
            .events(&crate::audit::EventQuery::default())
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["token-issued", "token-revoked"]);
        assert!(err.to_string().contains("contact handle"), "{err}");
    }
}
