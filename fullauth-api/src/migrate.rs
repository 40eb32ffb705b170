//! The migration contract of the SQL backends: one catalogue of migrations,
//! one tracking table, one [`SqlMigrator`] trait.
//!
//! * **One catalogue.** [`CATALOG`] lists every migration once, per feature,
//!   with the same id on every backend (`core_0001_users`, …); each backend
//!   holds the SQL of each id in its dialect ([`SqlMigrator::migrations`]).
//!   Migrations are append-only: an applied one is never edited (its SHA-256
//!   is recorded; another one later is drift), changes come as new entries
//!   with a higher [`CatalogEntry::sequence`].
//! * **One tracking table**, `fullauth_schema_migrations` (never
//!   `_sqlx_migrations` or `PRAGMA user_version`, which are the app's), of the
//!   same layout on every backend ([`TRACKING_TABLE`]). Every column but `id`
//!   is nullable or has a default, so a row written by another tool needs
//!   only the id (and the checksum, or it reads as drift).
//! * **One trait**, [`SqlMigrator`], with the same semantics everywhere:
//!   [`status`](SqlMigrator::status) per feature ([`FeatureState`]: present,
//!   absent, not chosen, unrecorded — the tables exist without records, run
//!   adopt —, drifted, outdated), [`plan`](SqlMigrator::plan),
//!   [`apply`](SqlMigrator::apply), [`adopt`](SqlMigrator::adopt) of a
//!   database made by fastapi-fullauth, and the exports
//!   [`export_sql`](SqlMigrator::export_sql) (one script) and
//!   [`export_sqlx`](SqlMigrator::export_sqlx) (a folder of sqlx-cli files).
//!   Refusals are typed ([`MigrationRefusal`]) and are checked before
//!   anything is written: a refused `apply` leaves the database as it was.
//! * **0.1 databases carry over.** fullauth 0.1 recorded other ids
//!   (`0001_core_users`… on SQLite, `0001_core`… on PostgreSQL) in other
//!   layouts. [`LEGACY_SQLITE_0_1`] and [`LEGACY_POSTGRES_0_1`] map them to
//!   the catalogue: `status` reads them as the new ids (never as pending or
//!   drifted), and the next `apply` or `adopt` rewrites the table in the new
//!   layout with the new ids, in its own transaction.
//!
//! ```
//! use fullauth_api::migrate::{CATALOG, catalog_entry, feature_of};
//! use fullauth_api::Feature;
//! assert_eq!(CATALOG[0].id, "core_0001_users");
//! assert_eq!(catalog_entry("roles_0001_roles").unwrap().feature, Feature::Roles);
//! // The ids of fullauth 0.1 are known too.
//! assert_eq!(feature_of("0001_core"), Some(Feature::Core));
//! assert_eq!(feature_of("0004_roles"), Some(Feature::Roles));
//! ```

pub mod engine;
pub mod schema;
mod wrapper;

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::TokenDigest;
use crate::error::StoreError;
use crate::features::{Feature, Features};
use crate::timestamp::Timestamp;

/// The name of the tracking table, on every backend.
pub const TRACKING_TABLE: &str = "fullauth_schema_migrations";

/// One migration of the catalogue, whatever the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The id, the same on every backend: `<feature>_<nnnn>_<name>`.
    pub id: &'static str,
    /// Its place in the order migrations run, from 1; never reused, so it
    /// gives stable versions to exported files ([`SqlMigrator::export_sqlx`]).
    pub sequence: u32,
    /// The feature whose tables it creates or changes.
    pub feature: Feature,
    /// One line saying what it does.
    pub description: &'static str,
}

/// Every migration, in the order they run.
pub static CATALOG: [CatalogEntry; 13] = [
    entry(
        1,
        "core_0001_users",
        Feature::Core,
        "users (fullauth_users)",
    ),
    entry(
        2,
        "core_0002_refresh_tokens",
        Feature::Core,
        "refresh tokens (fullauth_refresh_tokens) with the token and family indexes",
    ),
    entry(
        3,
        "core_0003_refresh_token_indexes",
        Feature::Core,
        "the fastapi-fullauth 0.17 indexes on refresh tokens' user_id and expires_at",
    ),
    entry(
        4,
        "roles_0001_roles",
        Feature::Roles,
        "roles and user-role links",
    ),
    entry(
        5,
        "permissions_0001_permissions",
        Feature::Permissions,
        "permissions and role-permission links",
    ),
    entry(
        6,
        "oauth_0001_accounts",
        Feature::OAuth,
        "OAuth account links with uq_oauth_provider_user",
    ),
    entry(
        7,
        "oauth_0002_user_index",
        Feature::OAuth,
        "the fastapi-fullauth 0.17 index on OAuth accounts' user_id",
    ),
    entry(
        8,
        "passkeys_0001_passkeys",
        Feature::Passkeys,
        "WebAuthn passkeys",
    ),
    entry(
        9,
        "mfa_0001_factors",
        Feature::Mfa,
        "TOTP factors (fastapi-fullauth 0.18)",
    ),
    entry(
        10,
        "blacklist_0001_blacklist",
        Feature::Blacklist,
        "token blacklist (fullauth addition)",
    ),
    entry(
        11,
        "lockout_0001_lockout",
        Feature::Lockout,
        "login lockout counters (fullauth addition)",
    ),
    entry(
        12,
        "rate_limit_0001_windows",
        Feature::RateLimit,
        "rate-limit windows (fullauth addition)",
    ),
    entry(
        13,
        "challenges_0001_challenges",
        Feature::Challenges,
        "one-time challenges (fullauth addition)",
    ),
];

const fn entry(
    sequence: u32,
    id: &'static str,
    feature: Feature,
    description: &'static str,
) -> CatalogEntry {
    CatalogEntry {
        id,
        sequence,
        feature,
        description,
    }
}

/// The catalogue entry of `id`.
pub fn catalog_entry(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.id == id)
}

/// The feature of a migration id: a catalogue id or an id of fullauth 0.1
/// on either backend.
pub fn feature_of(id: &str) -> Option<Feature> {
    if let Some(e) = catalog_entry(id) {
        return Some(e.feature);
    }
    LEGACY_SQLITE_0_1
        .iter()
        .chain(LEGACY_POSTGRES_0_1.iter())
        .find(|l| l.id == id)
        .and_then(|l| l.replaced_by.first())
        .and_then(|new| catalog_entry(new))
        .map(|e| e.feature)
}

/// One migration in one dialect: a catalogue entry and its SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// The catalogue id, e.g. `core_0001_users`.
    pub id: &'static str,
    /// The feature whose tables it creates or changes.
    pub feature: Feature,
    /// One line saying what it does.
    pub description: &'static str,
    /// The SQL it runs (on PostgreSQL with `{s}` for the quoted schema:
    /// [`SqlMigrator::render`] fills it in).
    pub sql: &'static str,
}

impl Migration {
    /// The migration of catalogue entry `id` with `sql` (its feature and
    /// description from the catalogue); `None` when `id` is not in
    /// [`CATALOG`]. A `const fn`, so a backend declares its list as a
    /// `static` and a wrong id fails the build:
    ///
    /// ```
    /// use fullauth_api::migrate::Migration;
    /// const fn known(m: Option<Migration>) -> Migration {
    ///     match m {
    ///         Some(m) => m,
    ///         None => panic!("not in the catalogue"), // evaluated at compile time
    ///     }
    /// }
    /// static USERS: Migration = known(Migration::of("core_0001_users", "CREATE TABLE …"));
    /// assert_eq!(USERS.feature, fullauth_api::Feature::Core);
    /// assert!(Migration::of("no_such_id", "").is_none());
    /// ```
    pub const fn of(id: &'static str, sql: &'static str) -> Option<Migration> {
        let mut i = 0;
        while i < CATALOG.len() {
            if const_str_eq(CATALOG[i].id, id) {
                return Some(Migration {
                    id,
                    feature: CATALOG[i].feature,
                    description: CATALOG[i].description,
                    sql,
                });
            }
            i += 1;
        }
        None
    }

    /// SHA-256 hex of the SQL text, recorded when applied; a different value
    /// later means the migration was edited after being applied (drift).
    pub fn checksum(&self) -> String {
        TokenDigest::of(self.sql).as_str().to_string()
    }

    /// Its catalogue entry.
    pub fn entry(&self) -> Option<&'static CatalogEntry> {
        catalog_entry(self.id)
    }

    /// Its place in the order ([`CatalogEntry::sequence`]); 0 for an id
    /// outside the catalogue.
    pub fn sequence(&self) -> u32 {
        self.entry().map_or(0, |e| e.sequence)
    }

    /// The migration as a database keyed by `t` records it in the tracking
    /// table: the same, except that `core_0001_users` on integer or text keys
    /// has the key type after its description (`… (user ids: int)`). The
    /// checksum stays the one of the SQL as written. Each description is
    /// made once per key type.
    ///
    /// ```
    /// use fullauth_api::UserIdType;
    /// use fullauth_api::migrate::Migration;
    /// let m = Migration::of("core_0001_users", "CREATE TABLE …").unwrap();
    /// assert_eq!(m.recorded_for(UserIdType::Uuid).description, m.description);
    /// let int = m.recorded_for(UserIdType::Int);
    /// assert_eq!(int.description, format!("{} (user ids: int)", m.description));
    /// assert_eq!(int.checksum(), m.checksum());
    /// ```
    pub fn recorded_for(&self, t: crate::UserIdType) -> Migration {
        use std::sync::OnceLock;
        if t == crate::UserIdType::Uuid || self.id != "core_0001_users" {
            return *self;
        }
        static INT: OnceLock<String> = OnceLock::new();
        static TEXT: OnceLock<String> = OnceLock::new();
        let slot = if t == crate::UserIdType::Int {
            &INT
        } else {
            &TEXT
        };
        let description = slot.get_or_init(|| format!("{} (user ids: {t})", self.description));
        Migration {
            description,
            ..*self
        }
    }
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A migration id recorded by fullauth 0.1, the checksum it recorded, and
/// the catalogue ids it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyMigration {
    /// The 0.1 id.
    pub id: &'static str,
    /// The SHA-256 0.1 recorded for it (of the SQL it ran).
    pub checksum: &'static str,
    /// The catalogue ids it covers.
    pub replaced_by: &'static [&'static str],
}

/// The migrations fullauth-sqlite 0.1 recorded.
pub static LEGACY_SQLITE_0_1: [LegacyMigration; 13] = [
    legacy(
        "0001_core_users",
        "8b8b2b60acb9db81e1125d38c7c4e945091c78f2501a476cfa3b084c338894c2",
        &["core_0001_users"],
    ),
    legacy(
        "0002_core_refresh_tokens",
        "7744041d8d4a108e34d591f9fb923cbb3aad57304f7d55ef15a06d8902e4e0e1",
        &["core_0002_refresh_tokens"],
    ),
    legacy(
        "0003_core_refresh_token_indexes",
        "ce3be4d4d1b44ed7da5c696923ec39294abccd3bafa2f6b16ccc2bac8ab094f8",
        &["core_0003_refresh_token_indexes"],
    ),
    legacy(
        "0004_roles",
        "7be87c40f28323a567efd8146d93df38459645c61d37fcc95743ba829c4fc0ed",
        &["roles_0001_roles"],
    ),
    legacy(
        "0005_permissions",
        "761521c12dffaf2cd633385e76375a52ec0f447b2a3d4859c3a232c9c09931a5",
        &["permissions_0001_permissions"],
    ),
    legacy(
        "0006_oauth",
        "dfefad7ad9f16a107d37d92d812e908b17a0191c1f3304aadbd967c47adf1139",
        &["oauth_0001_accounts"],
    ),
    legacy(
        "0007_oauth_user_index",
        "276feb72044bbb07178aeb1c2c12b1bd6344ec0e88a14a016ec8460296ec275d",
        &["oauth_0002_user_index"],
    ),
    legacy(
        "0008_passkeys",
        "f2275e3b81cfe2f1111c496526ffa53b47a77f06f83a0db48b0d74d959574dd3",
        &["passkeys_0001_passkeys"],
    ),
    legacy(
        "0009_mfa",
        "7e1af8b4f63f1a683c50dccd79943103890cd581b6c50db40bf61d2344e65b2b",
        &["mfa_0001_factors"],
    ),
    legacy(
        "0010_blacklist",
        "8aef512be5a55368c7809eb8fcd9b372835fd3d08b5d63bff9384c20d63c5b0a",
        &["blacklist_0001_blacklist"],
    ),
    legacy(
        "0011_lockout",
        "dd48b70fb2a4e827fb1cc1d499dd3c1deb081c0b310a91419e0e88fae4bfddbf",
        &["lockout_0001_lockout"],
    ),
    legacy(
        "0012_rate_limit",
        "eb1c43d682f972c77c1ed704620da658d856cc6b05a5f399a280242e46154040",
        &["rate_limit_0001_windows"],
    ),
    legacy(
        "0013_challenges",
        "b45e552a3b82bb32610ac4df6b093952122b3adba2c599c68f33cfbec15872ec",
        &["challenges_0001_challenges"],
    ),
];

/// The migrations fullauth-postgres 0.1 recorded.
pub static LEGACY_POSTGRES_0_1: [LegacyMigration; 10] = [
    legacy(
        "0001_core",
        "e23215ecf583e8b1c6071af6c12ca4077b1075bd4a862501f4083e0dd72b0277",
        &[
            "core_0001_users",
            "core_0002_refresh_tokens",
            "core_0003_refresh_token_indexes",
        ],
    ),
    legacy(
        "0002_roles",
        "8f735206d01cf7657cfd1ef7bf0514ab6077dafdb58695a43705820ab29882f0",
        &["roles_0001_roles"],
    ),
    legacy(
        "0003_permissions",
        "752e8e374791c1738d420c9b36b61e4b758acb3a763ecc2d072524af76dfa35f",
        &["permissions_0001_permissions"],
    ),
    legacy(
        "0004_oauth",
        "667ee26b3043728349818deb3256f7003d03ecb0795e57e7463d9ac513de39e2",
        &["oauth_0001_accounts", "oauth_0002_user_index"],
    ),
    legacy(
        "0005_passkeys",
        "9a988be7f3cde17fd399a4cc5cf484db9a45f72fbeb8ab01ad4527d2b5807827",
        &["passkeys_0001_passkeys"],
    ),
    legacy(
        "0006_mfa",
        "89a654454fe3cdb31dd257fdd83e64f44403b80bc51422858a09533e367d80bb",
        &["mfa_0001_factors"],
    ),
    legacy(
        "0007_blacklist",
        "abc7c4dcc6cbfe46ab68ed0d859aebb581fa1ab5c22416a558634c4c760bfefc",
        &["blacklist_0001_blacklist"],
    ),
    legacy(
        "0008_lockout",
        "9adf93c5880d181da08f03053741442e3af0b617a92c6535eec6f04f729894ed",
        &["lockout_0001_lockout"],
    ),
    legacy(
        "0009_rate_limit",
        "6a11cc4ff1f39f98bb4c8ee65d36b0e73b0554b6f557dd3aadb9c25a5d6f01c4",
        &["rate_limit_0001_windows"],
    ),
    legacy(
        "0010_challenges",
        "d52dd291027c19f5ab2c66b4399a422002981730ddf0defc7abdb19593b5f7c0",
        &["challenges_0001_challenges"],
    ),
];

const fn legacy(
    id: &'static str,
    checksum: &'static str,
    replaced_by: &'static [&'static str],
) -> LegacyMigration {
    LegacyMigration {
        id,
        checksum,
        replaced_by,
    }
}

/// A row of `fullauth_schema_migrations`, as [`MigrationStatus`] reports it.
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

/// Where one feature's tables stand, from the catalogue, the tracking table
/// and the tables present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeatureState {
    /// Every migration of the feature is recorded with its checksum.
    Present,
    /// Chosen, nothing recorded, none of its tables exist: `apply` creates
    /// them.
    Absent,
    /// Not chosen, nothing recorded, none of its tables exist.
    NotChosen,
    /// Its tables (or indexes) exist but a migration that creates them is not
    /// recorded — a database made by fastapi-fullauth or by hand: run
    /// `adopt` (`apply` refuses).
    Unrecorded,
    /// A recorded migration of it has another checksum than this build's.
    Drifted,
    /// Some of its migrations are recorded, newer ones are not (and their
    /// objects do not exist): `apply` adds them.
    Outdated,
}

impl FeatureState {
    /// The stable name: `present`, `absent`, `not_chosen`, `unrecorded`,
    /// `drifted`, `outdated`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureState::Present => "present",
            FeatureState::Absent => "absent",
            FeatureState::NotChosen => "not_chosen",
            FeatureState::Unrecorded => "unrecorded",
            FeatureState::Drifted => "drifted",
            FeatureState::Outdated => "outdated",
        }
    }

    /// What to do about it, when there is something to do.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            FeatureState::Present | FeatureState::NotChosen => None,
            FeatureState::Absent => Some("apply the migrations to create its tables"),
            FeatureState::Unrecorded => Some(
                "its tables exist but no migration recorded them (a fastapi-fullauth database): \
                 run adopt",
            ),
            FeatureState::Drifted => Some(
                "a recorded migration differs from this build's (edited after being applied): \
                 compare the schema by hand before recording it again",
            ),
            FeatureState::Outdated => Some("apply the migrations to add its newer migrations"),
        }
    }
}

impl fmt::Display for FeatureState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn ser_feature<S: Serializer>(f: &Feature, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}

fn de_feature<'de, D: Deserializer<'de>>(d: D) -> Result<Feature, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// One feature in a [`MigrationStatus`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeatureStatus {
    /// The feature (serialized as its name).
    #[serde(serialize_with = "ser_feature", deserialize_with = "de_feature")]
    pub feature: Feature,
    /// Where it stands.
    pub state: FeatureState,
    /// True when it was in the feature set given to `status`.
    pub chosen: bool,
    /// Its migrations recorded with a matching checksum.
    pub applied: Vec<String>,
    /// Its migrations not recorded (whether chosen or not).
    pub pending: Vec<String>,
    /// Its recorded migrations whose checksum differs (0.1 ids included).
    pub drifted: Vec<String>,
    /// Its tables present in the database.
    pub tables_found: Vec<String>,
}

/// What the migrator found, for a chosen feature set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MigrationStatus {
    /// Recorded migrations whose checksum matches (every feature), in
    /// catalogue order. 0.1 rows appear under their new ids.
    pub applied: Vec<AppliedMigration>,
    /// Migrations of the chosen features that `apply` would run, in order.
    pub pending: Vec<String>,
    /// Recorded migrations whose checksum differs from this build's (they
    /// block `apply` and `adopt`).
    pub drifted: Vec<String>,
    /// Recorded ids this build does not know (a newer fullauth recorded
    /// them). Reported, not blocking.
    pub unknown: Vec<String>,
    /// Migrations of the chosen features whose objects exist without a
    /// record: run `adopt` (`apply` refuses).
    pub unrecorded: Vec<String>,
    /// 0.1 ids found in the tracking table (read as their new ids; the next
    /// `apply` or `adopt` rewrites them).
    pub legacy: Vec<String>,
    /// Every feature, in [`Feature::ALL`] order.
    pub features: Vec<FeatureStatus>,
}

impl MigrationStatus {
    /// True when nothing is pending, drifted or unrecorded for the chosen
    /// features.
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty() && self.drifted.is_empty() && self.unrecorded.is_empty()
    }

    /// True when tables of the chosen features exist without records: run
    /// `adopt`.
    pub fn needs_adopt(&self) -> bool {
        !self.unrecorded.is_empty()
    }

    /// The status of `feature`.
    pub fn feature(&self, feature: Feature) -> Option<&FeatureStatus> {
        self.features.iter().find(|f| f.feature == feature)
    }

    /// The features with at least one recorded migration (applied or
    /// drifted).
    pub fn recorded_features(&self) -> Features {
        self.features
            .iter()
            .filter(|f| !f.applied.is_empty() || !f.drifted.is_empty())
            .map(|f| f.feature)
            .collect()
    }
}

/// What `adopt` found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdoptReport {
    /// Migrations whose objects already existed and were recorded as applied.
    pub adopted: Vec<String>,
    /// Migrations that were run because what they create was missing.
    pub applied: Vec<String>,
    /// Observations worth a human's attention (a missing index created, an
    /// application column kept, …), the same texts on every backend.
    pub notes: Vec<String>,
    /// 0.1 ids rewritten as catalogue ids.
    pub carried_over: Vec<String>,
}

/// Why `apply` or `adopt` refused to touch the database. It reaches the
/// caller as the source of a [`StoreError::Backend`]; find it with
/// [`MigrationRefusal::of`]. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationRefusal {
    /// Tables or indexes that pending migrations would create already exist
    /// without a record: a database made by fastapi-fullauth or by hand.
    #[error(
        "the database already has {} for the {} feature(s) but no migration recorded them",
        objects.join(", "),
        features.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
    )]
    Unrecorded {
        /// The features concerned.
        features: Vec<Feature>,
        /// The tables and indexes found.
        objects: Vec<String>,
    },
    /// Recorded migrations whose checksum differs from this build's.
    #[error(
        "migrations {} are recorded with another checksum than this build's (edited after \
         being applied)",
        ids.join(", ")
    )]
    Drifted {
        /// The drifted ids.
        ids: Vec<String>,
    },
    /// `adopt` found a table without a NOT NULL column the schema needs
    /// (its values cannot be invented).
    #[error("{table} has no column {column}, which fullauth needs (NOT NULL)")]
    MissingColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: String,
    },
    /// `adopt` found a column of another type than the migrator's schema:
    /// for `fullauth_users.id`, a database keyed by another
    /// [`UserIdType`](crate::UserIdType) than the migrator's.
    #[error("{table}.{column} is {found}; fullauth needs {expected}")]
    Incompatible {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type in the database.
        found: String,
        /// The type fullauth needs.
        expected: String,
    },
}

impl MigrationRefusal {
    /// The refusal behind `error`, when it is one.
    ///
    /// ```
    /// use fullauth_api::migrate::MigrationRefusal;
    /// let e: fullauth_api::StoreError =
    ///     MigrationRefusal::Drifted { ids: vec!["core_0001_users".into()] }.into();
    /// assert!(matches!(MigrationRefusal::of(&e), Some(MigrationRefusal::Drifted { .. })));
    /// assert!(e.to_string().contains("core_0001_users"));
    /// ```
    pub fn of(error: &StoreError) -> Option<&MigrationRefusal> {
        match error {
            StoreError::Backend {
                source: Some(source),
                ..
            } => source.downcast_ref::<MigrationRefusal>(),
            _ => None,
        }
    }

    /// What to do about it, in one line.
    pub fn hint(&self) -> &'static str {
        match self {
            MigrationRefusal::Unrecorded { .. } => {
                "run adopt: it records the existing tables and adds only what is missing"
            }
            MigrationRefusal::Drifted { .. } => {
                "compare the schema with this build's migrations by hand; status lists the \
                 drifted ids"
            }
            MigrationRefusal::MissingColumn { .. } => {
                "add the column with values for the existing rows, then adopt again"
            }
            MigrationRefusal::Incompatible { .. } => {
                "the database keys its users by another type than this migrator: open the \
                 store (and its migrator) with the database's user id type (--user-id-type on \
                 the CLI), on a backend that serves it"
            }
        }
    }
}

impl From<MigrationRefusal> for StoreError {
    fn from(r: MigrationRefusal) -> Self {
        StoreError::backend(format!("{r}; {}", r.hint()), r)
    }
}

/// The version base of [`SqlMigrator::export_sqlx`] when the app has no
/// reason to choose another: versions 1, 2, … (sorting before sqlx-cli's
/// timestamp versions, so fullauth's tables exist before the app's own
/// migrations run).
pub const DEFAULT_SQLX_VERSION_BASE: i64 = 0;

/// One file of a migrations folder ([`SqlMigrator::export_sqlx`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportedMigration {
    /// The catalogue id.
    pub id: &'static str,
    /// The version: the base given plus [`CatalogEntry::sequence`].
    pub version: i64,
    /// What it does.
    pub description: &'static str,
    /// The file's content: the migration and its record in the tracking
    /// table, without `BEGIN`/`COMMIT` (the tool wraps each file in a
    /// transaction). The same for the same id, base and schema in every
    /// release, so a tool that checksums its files never sees a change.
    pub sql: String,
}

impl ExportedMigration {
    /// The sqlx-cli (and `sqlx::migrate!`) file name:
    /// `<version>_fullauth_<id>.sql`.
    pub fn file_name(&self) -> String {
        format!("{}_fullauth_{}.sql", self.version, self.id)
    }

    /// The refinery file name: `V<version>__fullauth_<id>.sql`.
    pub fn refinery_file_name(&self) -> String {
        format!("V{}__fullauth_{}.sql", self.version, self.id)
    }
}

/// Writes `files` into `dir` (created if missing) under their
/// [`file_name`](ExportedMigration::file_name)s and returns the paths. A
/// file that already exists with the same content is left alone; one with
/// different content is an error and nothing is overwritten (an applied
/// migration must never change).
///
/// # Errors
/// I/O errors; [`std::io::ErrorKind::AlreadyExists`] for a file that exists
/// with other content (checked for every file before any is written).
pub fn write_migration_files(
    dir: &Path,
    files: &[ExportedMigration],
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for f in files {
        let path = dir.join(f.file_name());
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing != f.sql => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists with other content; an exported migration must not change \
                         once applied (export with the same version base and schema, or into \
                         another folder)",
                        path.display()
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        out.push(path);
    }
    for (f, path) in files.iter().zip(&out) {
        if !path.exists() {
            std::fs::write(path, &f.sql)?;
        }
    }
    Ok(out)
}

/// The migration contract every SQL backend implements with the same
/// semantics (`fullauth_sqlite::SqliteMigrator`,
/// `fullauth_postgres::PgMigrator`). Object safe: a tool holds a
/// `Box<dyn SqlMigrator>` and needs no per-backend code.
///
/// Every method that takes features refuses an inconsistent set for the
/// SQL schema with [`StoreError::InvalidInput`] (field `features`):
/// permissions without roles, a durable feature without core
/// ([`check_sql_features`]). Methods that write run in one transaction and
/// check everything first: a refusal ([`MigrationRefusal`]) or a failure
/// leaves the database as it was.
#[async_trait]
pub trait SqlMigrator: Send + Sync {
    /// `sqlite`, `postgres`, …
    fn backend_name(&self) -> &'static str;

    /// Every migration of this backend, in [`CATALOG`] order, with its SQL.
    fn migrations(&self) -> &'static [Migration];

    /// The SQL of `migration` exactly as `apply` runs it.
    fn render(&self, migration: &Migration) -> String;

    /// Where each feature stands, for the `chosen` features (see
    /// [`FeatureState`]). Reads only.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; backend errors.
    async fn status(&self, chosen: Features) -> Result<MigrationStatus, StoreError>;

    /// The migrations `apply(chosen)` would run now, in order. Reads only.
    ///
    /// # Errors
    /// As [`status`](Self::status).
    async fn plan(&self, chosen: Features) -> Result<Vec<Migration>, StoreError>;

    /// The plan as one SQL text with a comment before each migration.
    ///
    /// # Errors
    /// As [`status`](Self::status).
    async fn plan_sql(&self, chosen: Features) -> Result<String, StoreError> {
        let mut out = String::new();
        for m in self.plan(chosen).await? {
            out.push_str(&format!(
                "-- {} ({}): {}\n{}\n",
                m.id,
                m.feature,
                m.description,
                self.render(&m).trim_end()
            ));
        }
        Ok(out)
    }

    /// Applies the pending migrations of `chosen`, in order, in one
    /// transaction, and returns their ids (empty when up to date: applying
    /// again is a no-op; a larger set later adds only the new features).
    /// Rewrites 0.1 records first.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; a [`MigrationRefusal`]
    /// (`Drifted`, or `Unrecorded` when tables exist without records);
    /// backend errors. Nothing is changed then.
    async fn apply(&self, chosen: Features) -> Result<Vec<String>, StoreError>;

    /// Takes over an existing database for `chosen`: tables made by
    /// fastapi-fullauth 0.14–0.18 (Alembic or `create_all`, SQLAlchemy or
    /// SQLModel) or by fullauth. For each migration not recorded: when none
    /// of its objects exist it is run (`applied`); otherwise what is missing
    /// is added — nullable columns, indexes, the unique constraint, `ON
    /// DELETE CASCADE` — and it is recorded as `adopted`. Differences kept
    /// (application columns, other types) are reported in `notes`, the same
    /// texts on every backend. One transaction.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; a [`MigrationRefusal`]
    /// (`Drifted`, `MissingColumn`, `Incompatible`); backend errors. Nothing
    /// is changed then.
    async fn adopt(&self, chosen: Features) -> Result<AdoptReport, StoreError>;

    /// Every migration of `features` as one script for the app's own tool:
    /// one transaction that creates the tracking table if missing, runs each
    /// migration and records it, so `status` then reports them applied.
    /// Needs no database.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set.
    fn export_sql(&self, features: Features) -> Result<String, StoreError>;

    /// Every migration of `features` as the files of a sqlx-cli migrations
    /// folder (see [`ExportedMigration`], [`write_migration_files`]): version
    /// `version_base + sequence`, stable across releases, so the app's own
    /// migrations interleave by version. Each file records itself in the
    /// tracking table. Needs no database.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set, or a negative or overflowing
    /// `version_base`.
    fn export_sqlx(
        &self,
        features: Features,
        version_base: i64,
    ) -> Result<Vec<ExportedMigration>, StoreError>;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_ordered_unique_and_covers_every_feature() {
        for (i, e) in CATALOG.iter().enumerate() {
            assert_eq!(e.sequence as usize, i + 1);
            assert!(e.id.starts_with(e.feature.name()), "{}", e.id);
        }
        let mut ids: Vec<&str> = CATALOG.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        for f in Feature::ALL {
            assert!(CATALOG.iter().any(|e| e.feature == f), "{f}");
        }
        // Core first: every durable table references fullauth_users.
        assert_eq!(CATALOG[0].feature, Feature::Core);
    }

    #[test]
    fn legacy_ids_cover_the_catalogue_once_per_backend() {
        for legacy in [&LEGACY_SQLITE_0_1[..], &LEGACY_POSTGRES_0_1[..]] {
            let mut covered: Vec<&str> = legacy
                .iter()
                .flat_map(|l| l.replaced_by.iter().copied())
                .collect();
            let order: Vec<&str> = CATALOG.iter().map(|e| e.id).collect();
            assert_eq!(covered, order, "in catalogue order");
            covered.dedup();
            assert_eq!(covered.len(), CATALOG.len());
            for l in legacy {
                assert!(catalog_entry(l.id).is_none());
                assert_eq!(l.checksum.len(), 64);
            }
        }
    }

    #[test]
    fn migrations_are_declared_from_the_catalogue() {
        const FOUND: Option<Migration> =
            Migration::of("roles_0001_roles", "CREATE TABLE x (a INT);");
        let Some(m) = FOUND else {
            panic!("roles_0001_roles is in the catalogue")
        };
        assert_eq!(m.feature, Feature::Roles);
        assert_eq!(m.sequence(), 4);
        assert_eq!(m.checksum().len(), 64);
    }

    #[test]
    fn exported_file_names() {
        let f = ExportedMigration {
            id: "core_0001_users",
            version: 20240101000001,
            description: "users",
            sql: String::new(),
        };
        assert_eq!(f.file_name(), "20240101000001_fullauth_core_0001_users.sql");
        assert_eq!(
            f.refinery_file_name(),
            "V20240101000001__fullauth_core_0001_users.sql"
        );
    }

    #[test]
    fn migration_files_are_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("fullauth-export-{}", uuid::Uuid::new_v4()));
        let mut f = ExportedMigration {
            id: "core_0001_users",
            version: 1,
            description: "users",
            sql: "SELECT 1;\n".into(),
        };
        let paths = write_migration_files(&dir, std::slice::from_ref(&f)).unwrap();
        assert_eq!(std::fs::read_to_string(&paths[0]).unwrap(), "SELECT 1;\n");
        // The same content again: fine.
        write_migration_files(&dir, std::slice::from_ref(&f)).unwrap();
        f.sql = "SELECT 2;\n".into();
        let e = write_migration_files(&dir, std::slice::from_ref(&f)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&paths[0]).unwrap(), "SELECT 1;\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn feature_states_serialize_as_their_names() {
        let s = serde_json::to_string(&FeatureState::NotChosen).unwrap();
        assert_eq!(s, "\"not_chosen\"");
        assert_eq!(FeatureState::Unrecorded.to_string(), "unrecorded");
        assert!(FeatureState::Unrecorded.hint().unwrap().contains("adopt"));
    }
}
