//! `openciam user import`: users from another system, with their existing password hashes, as
//! JSON lines. One object per line; blank lines are skipped:
//!
//! ```json
//! {"email": "ada@example.com", "password_hash": "$2b$12$…", "attributes": {"displayName": "Ada"}, "disabled": false}
//! ```
//!
//! * `email` (required): an e-mail address, normalised as sign-up does;
//! * `password_hash` (optional; absent or `null` makes a code-only account): a hash in one of the
//!   forms of [`crate::strategy::password::formats`]. It is verified as it is until the user's
//!   next successful sign-in, which replaces it with argon2id at today's parameters;
//! * `attributes` (optional): a JSON object, stored as given (as `user create --attr` does);
//! * `disabled` (optional, default `false`).
//!
//! Any other field is an error, so that a misspelt `passwordHash` cannot import accounts without
//! their passwords. Every line is checked before anything is written: valid JSON of this shape,
//! a valid address, a recognised hash within the cost limits, an address neither repeated in the
//! file (after normalisation) nor taken in the tenant. Any bad line rejects the whole file, with
//! every bad line reported by number; otherwise all users are written in one transaction.

use super::{AdminError, AdminResult, AdminService};
use crate::audit::{Entry, event};
use crate::ids::{TenantId, UserId};
use crate::model::User;
use crate::ports::StoreError;
use crate::strategy::password::{formats, needs_rehash};
use crate::username::Username;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Users created.
    pub imported: usize,
    /// Of those, users whose hash will be replaced at their next sign-in.
    pub to_rehash: usize,
}

/// One rejected line of an import file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number in the file.
    pub line: usize,
    /// What is wrong with it (never the password hash itself).
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    disabled: bool,
}

/// A line that passed every check.
#[derive(Debug)]
struct Checked {
    username: Username,
    record: ImportLine,
}

impl AdminService {
    /// Imports the users of a JSON-lines file (format above) into `tenant`: all of them, or none
    /// with [`AdminError::ImportRejected`] listing every bad line.
    pub async fn import_users(&self, tenant: &str, lines: &str) -> AdminResult<ImportReport> {
        let tenant = self.tenant(tenant).await?;
        let taken: HashSet<String> = self
            .store
            .list_users(tenant.id)
            .await?
            .into_iter()
            .map(|u| u.username_normalized)
            .collect();
        let checked = check_lines(lines, &taken).map_err(AdminError::ImportRejected)?;
        let now = self.clock.unix();
        let users: Vec<User> = checked.into_iter().map(|c| c.into_user(tenant.id, now)).collect();
        let to_rehash = users
            .iter()
            .filter_map(|u| u.password_hash.as_deref())
            .filter(|h| needs_rehash(h))
            .count();
        self.store.import_users(&users).await.map_err(|e| match e {
            // Someone took an address between the check and the write: nothing was written.
            StoreError::Conflict(name) => AdminError::AlreadyExists(format!("user '{name}'")),
            other => AdminError::Store(other),
        })?;
        let entry = Entry::new(event::ADMIN_USER_IMPORT)
            .tenant(tenant.id)
            .detail("imported", users.len());
        self.audit.record(entry).await;
        Ok(ImportReport {
            imported: users.len(),
            to_rehash,
        })
    }
}

impl Checked {
    fn into_user(self, tenant: TenantId, now: i64) -> User {
        User {
            id: UserId::new_random(),
            tenant_id: tenant,
            username: self.username.display().to_owned(),
            username_normalized: self.username.normalized().to_owned(),
            password_hash: self.record.password_hash,
            disabled: self.record.disabled,
            attributes: self.record.attributes,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Checks every non-blank line against the format and against `taken` (normalised addresses
/// already in the tenant). All lines' errors, or none.
fn check_lines(lines: &str, taken: &HashSet<String>) -> Result<Vec<Checked>, Vec<LineError>> {
    let mut checked = Vec::new();
    let mut errors = Vec::new();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (index, text) in lines.lines().enumerate() {
        let line = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let result = check_line(text).and_then(|c| {
            let norm = c.username.normalized().to_owned();
            if let Some(first) = first_seen.get(&norm) {
                return Err(format!("{norm} is already on line {first}"));
            }
            first_seen.insert(norm.clone(), line);
            if taken.contains(&norm) {
                return Err(format!("user '{norm}' already exists in the tenant"));
            }
            Ok(c)
        });
        match result {
            Ok(c) => checked.push(c),
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}

fn check_line(text: &str) -> Result<Checked, String> {
    let record: ImportLine = serde_json::from_str(text).map_err(|e| json_error(&e))?;
    let username = Username::parse(&record.email)
        .ok_or_else(|| format!("'{}' is not an e-mail address", record.email))?;
    if let Some(hash) = &record.password_hash {
        formats::recognise(hash).map_err(|e| format!("password_hash: {e}"))?;
    }
    Ok(Checked { username, record })
}

/// serde's message without its "at line 1 column N" (every line is parsed alone), plus the column.
fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    format!("not an import record: {message} (column {})", e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT: &str = "$2b$05$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6";

    fn errors(lines: &str, taken: &[&str]) -> Vec<String> {
        let taken = taken.iter().map(|s| (*s).to_owned()).collect();
        match check_lines(lines, &taken) {
            Ok(_) => vec![],
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_good_file_checks_with_defaults() {
        let file = format!(
            "{{\"email\": \"Ada@Example.com\", \"password_hash\": \"{BCRYPT}\", \
             \"attributes\": {{\"displayName\": \"Ada\"}}, \"disabled\": true}}\n\
             \n   \n\
             {{\"email\": \"bob@example.com\", \"password_hash\": null}}\n\
             {{\"email\": \"carol@example.com\"}}"
        );
        let checked = check_lines(&file, &HashSet::new()).unwrap();
        let users: Vec<User> = checked
            .into_iter()
            .map(|c| c.into_user(TenantId::new_random(), 7))
            .collect();
        assert_eq!(users.len(), 3, "blank lines are skipped");
        assert_eq!(users[0].username, "Ada@Example.com");
        assert_eq!(users[0].username_normalized, "ada@example.com");
        assert_eq!(users[0].password_hash.as_deref(), Some(BCRYPT));
        assert_eq!(users[0].attributes["displayName"], "Ada");
        assert!(users[0].disabled);
        assert_eq!(users[1].password_hash, None);
        assert!(!users[2].disabled);
        assert_eq!((users[2].created_at, users[2].updated_at), (7, 7));
    }

    #[test]
    fn every_bad_line_is_reported_by_number() {
        let file = format!(
            "{{\"email\": \"ok@example.com\"}}\n\
             not json\n\
             {{\"email\": \"nobody\"}}\n\
             {{\"email\": \"x@example.com\", \"password_hash\": \"$1$md5$crypt\"}}\n\
             {{\"email\": \"y@example.com\", \"passwordHash\": \"{BCRYPT}\"}}\n\
             {{\"email\": \"OK@example.com\"}}\n\
             {{\"email\": \"taken@example.com\"}}\n\
             {{\"email\": \"z@example.com\", \"attributes\": [1]}}\n\
             {{\"password_hash\": \"{BCRYPT}\"}}"
        );
        let found = errors(&file, &["taken@example.com"]);
        let lines: Vec<&str> = found.iter().map(|e| e.split(':').next().unwrap()).collect();
        assert_eq!(
            lines,
            [
                "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"
            ]
        );
        assert!(
            found[0].starts_with("line 2: not an import record: expected "),
            "{}",
            found[0]
        );
        assert_eq!(found[1], "line 3: 'nobody' is not an e-mail address");
        assert!(
            found[2].contains("not a recognised password hash"),
            "{}",
            found[2]
        );
        assert!(found[3].contains("unknown field `passwordHash`"), "{}", found[3]);
        assert_eq!(found[4], "line 6: ok@example.com is already on line 1");
        assert_eq!(
            found[5],
            "line 7: user 'taken@example.com' already exists in the tenant"
        );
        assert!(
            found[6].contains("attributes") || found[6].contains("map"),
            "{}",
            found[6]
        );
        assert!(found[7].contains("missing field `email`"), "{}", found[7]);
        assert!(
            found.iter().all(|e| !e.contains("ciQngeg")),
            "hashes are never echoed"
        );
    }

    #[test]
    fn costly_and_malformed_hashes_are_bad_lines() {
        let file = "{\"email\": \"a@example.com\", \"password_hash\": \"$2b$20$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6\"}\n\
                    {\"email\": \"b@example.com\", \"password_hash\": \"$pbkdf2-sha256$1000$c2FsdA$aGFzaA\"}";
        let found = errors(file, &[]);
        assert_eq!(found.len(), 2);
        assert!(
            found[0].starts_with("line 1: password_hash: bcrypt hash too costly"),
            "{}",
            found[0]
        );
        assert!(
            found[1].starts_with("line 2: password_hash: malformed pbkdf2-sha256"),
            "{}",
            found[1]
        );
    }
}
