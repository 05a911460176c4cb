//! Moving a deployment to another database (`openciam db copy`): tenants, apps, users (password
//! hashes, attributes, status), signing keys and refresh-token families with their tokens, so
//! users keep their passwords and stay signed in.
//!
//! Flows, continuation tokens, one-time codes and code-send records are not copied: they live
//! minutes, and a user caught mid-flow starts again. Secrets move in their stored form, so the
//! target must be served with the source's master key (the signing keys are encrypted under it).
//!
//! The target must be empty unless the caller forces a replace: copying into a live directory
//! would mix two user bases, and a replace deletes everything the target held.

use crate::admin::AdminError;
use crate::model::Snapshot;
use crate::ports::Store;

/// How many records of each kind were copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Tenants.
    pub tenants: usize,
    /// Apps.
    pub apps: usize,
    /// Users.
    pub users: usize,
    /// Signing keys.
    pub signing_keys: usize,
    /// Refresh-token families (sign-ins), revoked ones included.
    pub refresh_families: usize,
    /// Refresh tokens, rotated ones included.
    pub refresh_tokens: usize,
}

impl CopyReport {
    /// The counts of `snapshot`.
    pub fn of(snapshot: &Snapshot) -> Self {
        Self {
            tenants: snapshot.tenants.len(),
            apps: snapshot.apps.len(),
            users: snapshot.users.len(),
            signing_keys: snapshot.signing_keys.len(),
            refresh_families: snapshot.refresh_families.len(),
            refresh_tokens: snapshot.refresh_tokens.len(),
        }
    }
}

/// Copies everything durable from `from` to `to`, in one transaction on `to`.
///
/// Refuses ([`AdminError::Invalid`], nothing written) when `to` already holds tenants, apps,
/// users or signing keys, unless `force`, which first deletes everything `to` holds. Also
/// refuses an empty source whatever `force` says: a forced copy from the wrong side would
/// otherwise wipe the real directory.
pub async fn copy_store(from: &dyn Store, to: &dyn Store, force: bool) -> Result<CopyReport, AdminError> {
    if !force && !to.is_empty().await? {
        return Err(AdminError::Invalid(
            "the target database is not empty (it has tenants, apps, users or signing keys); \
             nothing was copied. `openciam db copy --force` deletes everything in it first"
                .into(),
        ));
    }
    let snapshot = from.export_snapshot().await?;
    if snapshot.tenants.is_empty() && snapshot.signing_keys.is_empty() {
        return Err(AdminError::Invalid(
            "the source database is empty (no tenants, no signing keys); nothing was copied. \
             Are --from and --to the right way round?"
                .into(),
        ));
    }
    to.import_snapshot(&snapshot, force).await?;
    Ok(CopyReport::of(&snapshot))
}
