//! [`BulkStore`] on PostgreSQL: the whole durable store out and in (`openciam db copy`).
//!
//! * The export reads inside one `REPEATABLE READ READ ONLY` transaction: every query sees the
//!   same snapshot, so nodes writing meanwhile cannot tear it (say, a family exported without
//!   the token rotated into it a moment later). Text keys sort `COLLATE "C"` (byte order, as in
//!   SQLite), whatever the database's collation.
//! * The import is one transaction: all or nothing. Foreign keys are checked per statement, so
//!   rows go in parents first and a replace deletes children first ([`TABLES_CHILD_FIRST`]).

use super::PostgresStore;
use super::apps::insert_app;
use super::auth_methods::insert_auth_method;
use super::keys::insert_key;
use super::tenants::insert_tenant;
use super::users::insert_user;
use crate::error::{map_sqlx, naming_conflict};
use crate::rows::{
    AppRow, AuthMethodRow, RefreshFamilyRow, RefreshRow, SigningKeyRow, TABLES_CHILD_FIRST, TenantRow,
    UserRow, encode_list, uuid_text,
};
use async_trait::async_trait;
use openciam_core::model::{RefreshFamilyRecord, RefreshRecord, Snapshot};
use openciam_core::ports::{BulkStore, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

const TENANTS: &str =
    "SELECT id, name, domain, password_policy, security, created_at FROM tenants ORDER BY id COLLATE \"C\"";
const APPS: &str = "SELECT client_id, tenant_id, display_name, public_client, native_auth, method, \
                    cors_origins, identifier_uri, scopes, signup_attributes, mfa_policy, created_at \
                    FROM apps ORDER BY client_id COLLATE \"C\"";
const USERS: &str = "SELECT id, tenant_id, username, username_normalized, password_hash, disabled, \
                     attributes, created_at, updated_at FROM users ORDER BY id COLLATE \"C\"";
const KEYS: &str = "SELECT kid, alg, private_key_enc, created_at, activate_at, retired_at \
                    FROM signing_keys ORDER BY kid";
const FAMILIES: &str = "SELECT id, tenant_id, client_id, user_id, created_at, revoked_at, revoke_reason \
                        FROM refresh_families ORDER BY id COLLATE \"C\"";
const TOKENS: &str = "SELECT t.token_hash, t.family_id, f.tenant_id, f.client_id, f.user_id, t.scopes, \
                      t.issued_at, t.expires_at, t.rotated_at, f.revoked_at, \
                      f.created_at AS family_created_at \
                      FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                      ORDER BY t.token_hash";

const AUTH_METHODS: &str = "SELECT id, tenant_id, user_id, kind, target, created_at, last_used_at \
                            FROM auth_methods ORDER BY id";

#[async_trait]
impl BulkStore for PostgresStore {
    async fn export_snapshot(&self) -> StoreResult<Snapshot> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(map_sqlx)?;
        let snapshot = Snapshot {
            tenants: rows(&mut tx, TENANTS, TenantRow::into_record).await?,
            apps: rows(&mut tx, APPS, AppRow::into_record).await?,
            users: rows(&mut tx, USERS, UserRow::into_record).await?,
            signing_keys: rows(&mut tx, KEYS, |row: SigningKeyRow| Ok(row.into_record())).await?,
            refresh_families: rows(&mut tx, FAMILIES, RefreshFamilyRow::into_record).await?,
            refresh_tokens: rows(&mut tx, TOKENS, RefreshRow::into_record).await?,
            auth_methods: rows(&mut tx, AUTH_METHODS, AuthMethodRow::into_record).await?,
        };
        tx.commit().await.map_err(map_sqlx)?;
        Ok(snapshot)
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        let (occupied,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM tenants) OR EXISTS (SELECT 1 FROM apps) \
             OR EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM signing_keys)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(!occupied)
    }

    async fn import_snapshot(&self, snapshot: &Snapshot, replace: bool) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if replace {
            for table in TABLES_CHILD_FIRST {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
            }
        }
        // An error drops `tx`, which rolls back: nothing of the snapshot stays.
        for tenant in &snapshot.tenants {
            insert_tenant(&mut tx, tenant)
                .await
                .map_err(naming_conflict(format_args!("tenant {}", tenant.id)))?;
        }
        for app in &snapshot.apps {
            insert_app(&mut tx, app)
                .await
                .map_err(naming_conflict(format_args!("app {}", app.client_id)))?;
        }
        for user in &snapshot.users {
            insert_user(&mut tx, user)
                .await
                .map_err(naming_conflict(format_args!("user {}", user.id)))?;
        }
        for key in &snapshot.signing_keys {
            insert_key(&mut tx, key)
                .await
                .map_err(naming_conflict(format_args!("signing key {}", key.kid)))?;
        }
        for family in &snapshot.refresh_families {
            insert_family(&mut tx, family)
                .await
                .map_err(naming_conflict(format_args!(
                    "refresh-token family {}",
                    family.id
                )))?;
        }
        for token in &snapshot.refresh_tokens {
            insert_token(&mut tx, token)
                .await
                .map_err(naming_conflict(format_args!(
                    "a refresh token of family {}",
                    token.family_id
                )))?;
        }
        for method in &snapshot.auth_methods {
            insert_auth_method(&mut tx, method)
                .await
                .map_err(naming_conflict(format_args!("strong-auth method {}", method.id)))?;
        }
        tx.commit().await.map_err(map_sqlx)
    }
}

/// Every row of a parameterless query, each turned into a record by `into_record`.
async fn rows<R, T>(
    conn: &mut PgConnection,
    sql: &'static str,
    into_record: impl Fn(R) -> StoreResult<T>,
) -> StoreResult<Vec<T>>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    sqlx::query_as::<_, R>(sql)
        .fetch_all(conn)
        .await
        .map_err(map_sqlx)?
        .into_iter()
        .map(into_record)
        .collect()
}

/// Inserts a family with its revocation as recorded (unlike `create_family`, which starts one).
async fn insert_family(conn: &mut PgConnection, family: &RefreshFamilyRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_families (id, tenant_id, client_id, user_id, created_at, revoked_at, \
         revoke_reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid_text(family.id.0))
    .bind(uuid_text(family.tenant_id.0))
    .bind(family.client_id.as_str())
    .bind(uuid_text(family.user_id.0))
    .bind(family.created_at)
    .bind(family.revoked_at)
    .bind(&family.revoke_reason)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}

/// Inserts one token into its (already inserted) family. The owner and `revoked_at` the record
/// carries are the family's, stored there.
async fn insert_token(conn: &mut PgConnection, token: &RefreshRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, expires_at, \
         rotated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.token_hash)
    .bind(uuid_text(token.family_id.0))
    .bind(encode_list(&token.scopes)?)
    .bind(token.issued_at)
    .bind(token.expires_at)
    .bind(token.rotated_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
