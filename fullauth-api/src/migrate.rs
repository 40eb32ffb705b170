//! Vocabulary shared by the SQL backends' migrators.
//!
//! Each SQL backend embeds its migrations per feature, append-only and
//! checksummed, and records them in its own table `fullauth_schema_migrations`
//! (never `_sqlx_migrations` or `PRAGMA user_version`, which belong to the
//! app). The migrators of `fullauth-sqlite` and `fullauth-postgres` share these
//! types and method names: `plan`, `apply`, `status`, `adopt`, `export_sql`.

use serde::{Deserialize, Serialize};

use crate::digest::TokenDigest;
use crate::error::StoreError;
use crate::features::{Feature, Features};
use crate::timestamp::Timestamp;

/// One embedded migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Unique, ordered id, e.g. `0001_core`.
    pub id: &'static str,
    /// The feature whose tables it creates or changes.
    pub feature: Feature,
    /// One line saying what it does.
    pub description: &'static str,
    /// The SQL it runs.
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 hex of the SQL text, recorded when applied; a different value
    /// later means the migration was edited after being applied (drift).
    pub fn checksum(&self) -> String {
        TokenDigest::of(self.sql).as_str().to_string()
    }
}

/// A row of `fullauth_schema_migrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMigration {
    /// The migration id.
    pub id: String,
    /// The checksum recorded when it was applied.
    pub checksum: String,
    /// When it was applied or adopted.
    pub applied_at: Timestamp,
    /// True when recorded by `adopt` (the objects already existed) rather than run.
    pub adopted: bool,
}

/// What the migrator found: applied, pending and drifted migrations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationStatus {
    /// Migrations recorded as applied whose checksum matches.
    pub applied: Vec<AppliedMigration>,
    /// Ids of migrations of the requested features not yet applied, in order.
    pub pending: Vec<String>,
    /// Ids of applied migrations whose recorded checksum differs from the
    /// embedded one, or that the binary does not know.
    pub drifted: Vec<String>,
}

impl MigrationStatus {
    /// True when nothing is pending or drifted.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.drifted.is_empty()
    }
}

/// What `adopt` found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptReport {
    /// Migrations whose objects already existed and were recorded as applied.
    pub adopted: Vec<String>,
    /// Migrations that were run because what they create was missing.
    pub applied: Vec<String>,
    /// Observations worth a human's attention (a missing index created, an
    /// unexpected column kept, ...).
    pub notes: Vec<String>,
}

/// Checks a feature set for the SQL schema of the reference: besides
/// [`Features::validate`] (Permissions needs Roles), every durable table
/// references `fullauth_users`, so a SQL migration of any durable feature
/// needs [`Feature::Core`]'s tables. (A store of the contract may serve a
/// durable feature without Core over the app's own user table; the
/// reference's SQL schema cannot.)
///
/// # Errors
/// [`StoreError::InvalidInput`] (field `features`) naming what to add.
pub fn check_sql_features(features: Features) -> Result<(), StoreError> {
    features.validate()?;
    if let Some(f) = features
        .iter()
        .find(|f| !f.is_short_lived() && *f != Feature::Core)
        .filter(|_| !features.contains(Feature::Core))
    {
        return Err(StoreError::invalid(
            "features",
            format!(
                "the {f} tables reference fullauth_users: migrate core too (add Feature::Core)"
            ),
        ));
    }
    Ok(())
}
