//! The parts of a migrator that do not depend on the dialect, shared by the
//! SQL backends so that their semantics cannot drift apart: reading 0.1
//! records as catalogue ids ([`carry_over`]), the status per feature
//! ([`compute_status`]), the checks before writing ([`check_apply`],
//! [`check_adopt`]), the tracking-table layout ([`tracking_layout_is_current`])
//! and the exports ([`export_script`], [`export_files`]).
//!
//! A backend reads its tracking table into [`TrackingRow`]s and the names of
//! the tables and indexes present, calls these functions, and runs the SQL
//! of its dialect. Apps do not need this module.

use std::collections::{BTreeMap, BTreeSet};

use super::schema::{LiveColumn, SchemaChange};
use super::{
    AppliedMigration, CATALOG, ExportedMigration, FeatureState, FeatureStatus, LegacyMigration,
    Migration, MigrationRefusal, MigrationStatus, check_sql_features, feature_of,
};
use crate::error::StoreError;
use crate::features::{Feature, Features};
use crate::timestamp::Timestamp;

/// A row of the tracking table as stored (any layout, 0.1 included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingRow {
    /// The migration id.
    pub id: String,
    /// The feature name, when the layout has the column and the row a value.
    pub feature: Option<String>,
    /// The recorded checksum (empty when the row has none).
    pub checksum: String,
    /// The description, when the layout has the column and the row a value.
    pub description: Option<String>,
    /// When it was applied or adopted.
    pub applied_at: Timestamp,
    /// True when recorded by `adopt`.
    pub adopted: bool,
}

impl TrackingRow {
    /// The row recording `m` now.
    pub fn of(m: &Migration, applied_at: Timestamp, adopted: bool) -> Self {
        TrackingRow {
            id: m.id.to_string(),
            feature: Some(m.feature.name().to_string()),
            checksum: m.checksum(),
            description: Some(m.description.to_string()),
            applied_at,
            adopted,
        }
    }
}

impl From<TrackingRow> for AppliedMigration {
    /// The row as [`MigrationStatus`] and `applied` report it.
    fn from(r: TrackingRow) -> Self {
        AppliedMigration {
            id: r.id,
            checksum: r.checksum,
            applied_at: r.applied_at,
            adopted: r.adopted,
        }
    }
}

/// The tracking rows read in catalogue terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CarryOver {
    /// Every row, 0.1 rows replaced by the catalogue rows they stand for
    /// (with this build's checksums, their time and `adopted` flag).
    pub rows: Vec<TrackingRow>,
    /// The 0.1 ids that were replaced.
    pub legacy: Vec<String>,
    /// 0.1 ids recorded with another checksum than 0.1's: kept as they are,
    /// and drifted.
    pub drifted_legacy: Vec<String>,
}

/// Reads 0.1 rows (`legacy`: the backend's list) as the catalogue rows they
/// stand for. A 0.1 row whose checksum is 0.1's becomes one row per
/// catalogue id it covers (unless that id is recorded too); one with another
/// checksum stays as it is and is reported in `drifted_legacy`.
pub fn carry_over(
    rows: Vec<TrackingRow>,
    migrations: &[Migration],
    legacy: &[LegacyMigration],
) -> CarryOver {
    let mut out = CarryOver::default();
    let recorded: BTreeSet<String> = rows.iter().map(|r| r.id.clone()).collect();
    for row in rows {
        let Some(l) = legacy.iter().find(|l| l.id == row.id) else {
            out.rows.push(row);
            continue;
        };
        if l.checksum != row.checksum {
            out.drifted_legacy.push(row.id.clone());
            out.rows.push(row);
            continue;
        }
        out.legacy.push(row.id.clone());
        for new in l.replaced_by {
            if recorded.contains(*new) || out.rows.iter().any(|r| r.id == *new) {
                continue;
            }
            if let Some(m) = migrations.iter().find(|m| m.id == *new) {
                out.rows
                    .push(TrackingRow::of(m, row.applied_at, row.adopted));
            }
        }
    }
    out.rows.sort_by_key(|r| order_of(&r.id));
    out
}

/// Sort key: catalogue order first, then unknown ids by name.
fn order_of(id: &str) -> (u32, String) {
    match super::catalog_entry(id) {
        Some(e) => (e.sequence, String::new()),
        None => (u32::MAX, id.to_string()),
    }
}

/// The status of the `chosen` features from the rows (after
/// [`carry_over`]), the names of the tables and indexes present, and what
/// each migration creates (`change_of`).
///
/// # Errors
/// [`StoreError::InvalidInput`] for an inconsistent feature set.
pub fn compute_status(
    chosen: Features,
    migrations: &[Migration],
    carried: &CarryOver,
    present: &BTreeSet<String>,
    change_of: &dyn Fn(&str) -> Option<&'static SchemaChange>,
) -> Result<MigrationStatus, StoreError> {
    check_sql_features(chosen)?;
    let known: BTreeMap<&str, &Migration> = migrations.iter().map(|m| (m.id, m)).collect();
    let mut status = MigrationStatus {
        legacy: carried.legacy.clone(),
        ..MigrationStatus::default()
    };
    let mut recorded_ok: BTreeSet<&str> = BTreeSet::new();
    let mut recorded_any: BTreeSet<&str> = BTreeSet::new();
    for row in &carried.rows {
        match known.get(row.id.as_str()) {
            Some(m) if m.checksum() == row.checksum => {
                recorded_ok.insert(m.id);
                recorded_any.insert(m.id);
                status.applied.push(AppliedMigration {
                    id: row.id.clone(),
                    checksum: row.checksum.clone(),
                    applied_at: row.applied_at,
                    adopted: row.adopted,
                });
            }
            Some(m) => {
                recorded_any.insert(m.id);
                status.drifted.push(row.id.clone());
            }
            None if carried.drifted_legacy.contains(&row.id) => {
                status.drifted.push(row.id.clone());
            }
            None => status.unknown.push(row.id.clone()),
        }
    }
    let objects_present = |m: &Migration| -> Vec<String> {
        change_of(m.id)
            .map(|c| {
                c.object_names()
                    .filter(|n| present.contains(*n))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    for feature in Feature::ALL {
        let is_chosen = chosen.contains(feature);
        let mine: Vec<&Migration> = migrations.iter().filter(|m| m.feature == feature).collect();
        let mut fs = FeatureStatus {
            feature,
            state: FeatureState::NotChosen,
            chosen: is_chosen,
            applied: Vec::new(),
            pending: Vec::new(),
            drifted: status
                .drifted
                .iter()
                .filter(|id| feature_of(id) == Some(feature))
                .cloned()
                .collect(),
            tables_found: Vec::new(),
        };
        let mut unrecorded_here = false;
        for m in &mine {
            if let Some(c) = change_of(m.id) {
                for t in c.tables {
                    if present.contains(t.name) && !fs.tables_found.iter().any(|x| x == t.name) {
                        fs.tables_found.push(t.name.to_string());
                    }
                }
            }
            if recorded_ok.contains(m.id) {
                fs.applied.push(m.id.to_string());
                continue;
            }
            if recorded_any.contains(m.id) {
                continue;
            }
            fs.pending.push(m.id.to_string());
            let found = objects_present(m);
            if !found.is_empty() {
                unrecorded_here = true;
                if is_chosen {
                    status.unrecorded.push(m.id.to_string());
                }
            } else if is_chosen {
                status.pending.push(m.id.to_string());
            }
        }
        fs.state = if !fs.drifted.is_empty() {
            FeatureState::Drifted
        } else if mine.is_empty() && !is_chosen {
            FeatureState::NotChosen
        } else if fs.pending.is_empty() {
            FeatureState::Present
        } else if unrecorded_here {
            FeatureState::Unrecorded
        } else if !fs.applied.is_empty() {
            FeatureState::Outdated
        } else if is_chosen {
            FeatureState::Absent
        } else {
            FeatureState::NotChosen
        };
        status.features.push(fs);
    }
    // Catalogue order for the id lists.
    status.pending.sort_by_key(|id| order_of(id));
    status.unrecorded.sort_by_key(|id| order_of(id));
    Ok(status)
}

/// The refusal `apply` answers for `status`, if any: drift first, then
/// objects that exist without a record (with their names).
pub fn check_apply(
    status: &MigrationStatus,
    migrations: &[Migration],
    present: &BTreeSet<String>,
    change_of: &dyn Fn(&str) -> Option<&'static SchemaChange>,
) -> Result<(), MigrationRefusal> {
    if !status.drifted.is_empty() {
        return Err(MigrationRefusal::Drifted {
            ids: status.drifted.clone(),
        });
    }
    if status.unrecorded.is_empty() {
        return Ok(());
    }
    let mut features = Vec::new();
    let mut objects = Vec::new();
    for id in &status.unrecorded {
        let Some(m) = migrations.iter().find(|m| m.id == id.as_str()) else {
            continue;
        };
        if !features.contains(&m.feature) {
            features.push(m.feature);
        }
        if let Some(c) = change_of(m.id) {
            objects.extend(
                c.object_names()
                    .filter(|n| present.contains(*n))
                    .map(str::to_string),
            );
        }
    }
    Err(MigrationRefusal::Unrecorded { features, objects })
}

/// The refusal `adopt` answers before looking at tables: drift.
pub fn check_adopt(status: &MigrationStatus) -> Result<(), MigrationRefusal> {
    if status.drifted.is_empty() {
        Ok(())
    } else {
        Err(MigrationRefusal::Drifted {
            ids: status.drifted.clone(),
        })
    }
}

/// The migrations `adopt` considers, in order: every migration of the
/// chosen features that is not recorded (pending or unrecorded).
pub fn adopt_candidates<'m>(
    status: &MigrationStatus,
    migrations: &'m [Migration],
) -> Vec<&'m Migration> {
    migrations
        .iter()
        .filter(|m| {
            status.pending.iter().any(|p| p == m.id) || status.unrecorded.iter().any(|p| p == m.id)
        })
        .collect()
}

/// The columns of the tracking table's current layout.
pub const TRACKING_COLUMNS: [&str; 6] = [
    "id",
    "feature",
    "checksum",
    "description",
    "applied_at",
    "adopted",
];

/// True when a tracking table with these columns has the current layout:
/// exactly [`TRACKING_COLUMNS`], `feature` and `description` nullable,
/// `checksum`, `applied_at` and `adopted` with a default. A table of another
/// layout (fullauth 0.1's) is rewritten by the next `apply` or `adopt`.
pub fn tracking_layout_is_current(columns: &[LiveColumn]) -> bool {
    let names: BTreeSet<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let want: BTreeSet<&str> = TRACKING_COLUMNS.into_iter().collect();
    names == want
        && columns.iter().all(|c| match c.name.as_str() {
            "feature" | "description" => c.nullable,
            "checksum" | "applied_at" | "adopted" => c.has_default,
            _ => true,
        })
}

/// How a dialect writes the exported SQL.
#[derive(Clone, Copy, Debug)]
pub struct ExportDialect<'a> {
    /// The first line of a script (a comment, without `-- `).
    pub title: &'a str,
    /// Statements before the tracking table (PostgreSQL: the advisory lock
    /// and `CREATE SCHEMA IF NOT EXISTS`); may be empty.
    pub preamble: &'a str,
    /// `CREATE TABLE IF NOT EXISTS` of the tracking table, ending in `;`.
    pub tracking_table: &'a str,
    /// The tracking table's (qualified) name.
    pub table: &'a str,
    /// An SQL expression of the current time in the dialect's stored form.
    pub now: &'a str,
    /// The literal `false` of a boolean column.
    pub false_literal: &'a str,
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn record_sql(d: &ExportDialect<'_>, m: &Migration) -> String {
    format!(
        "INSERT INTO {} (id, feature, checksum, description, applied_at, adopted) VALUES \
         ({}, {}, {}, {}, {}, {});\n",
        d.table,
        quote_literal(m.id),
        quote_literal(m.feature.name()),
        quote_literal(&m.checksum()),
        quote_literal(m.description),
        d.now,
        d.false_literal,
    )
}

fn checked(
    features: Features,
    items: &[(Migration, String)],
) -> Result<Vec<&(Migration, String)>, StoreError> {
    check_sql_features(features)?;
    Ok(items
        .iter()
        .filter(|(m, _)| features.contains(m.feature))
        .collect())
}

/// One script for `features`: `BEGIN`, the preamble, the tracking table,
/// each migration (rendered SQL given with it) and its record, `COMMIT`.
///
/// # Errors
/// [`StoreError::InvalidInput`] for an inconsistent feature set.
pub fn export_script(
    d: &ExportDialect<'_>,
    features: Features,
    items: &[(Migration, String)],
) -> Result<String, StoreError> {
    let items = checked(features, items)?;
    let mut out = format!("-- {} (features: {features})\nBEGIN;\n", d.title);
    if !d.preamble.is_empty() {
        out.push_str(d.preamble.trim_end());
        out.push('\n');
    }
    out.push_str(d.tracking_table.trim_end());
    out.push('\n');
    for (m, sql) in items {
        out.push_str(&format!(
            "\n-- {} ({}): {}\n{}\n{}",
            m.id,
            m.feature,
            m.description,
            sql.trim_end(),
            record_sql(d, m)
        ));
    }
    out.push_str("\nCOMMIT;\n");
    Ok(out)
}

/// One file per migration of `features`, version `version_base + sequence`:
/// the preamble, the tracking table, the migration and its record, no
/// transaction statements. The content depends only on the migration, the
/// dialect and the schema, never on the release or the time.
///
/// # Errors
/// [`StoreError::InvalidInput`] for an inconsistent feature set (field
/// `features`) or a negative or overflowing base (field `version_base`).
pub fn export_files(
    d: &ExportDialect<'_>,
    features: Features,
    items: &[(Migration, String)],
    version_base: i64,
) -> Result<Vec<ExportedMigration>, StoreError> {
    if version_base < 0 {
        return Err(StoreError::invalid(
            "version_base",
            "a migration version base is zero or positive",
        ));
    }
    let items = checked(features, items)?;
    items
        .into_iter()
        .map(|(m, sql)| {
            let entry = super::catalog_entry(m.id).ok_or_else(|| {
                StoreError::invalid("migration", format!("{} is not in the catalogue", m.id))
            })?;
            let version = version_base
                .checked_add(i64::from(entry.sequence))
                .ok_or_else(|| {
                    StoreError::invalid("version_base", "too large: the versions overflow i64")
                })?;
            let mut text = format!("-- fullauth migration {}: {}\n", m.id, m.description);
            if !d.preamble.is_empty() {
                text.push_str(d.preamble.trim_end());
                text.push('\n');
            }
            text.push_str(d.tracking_table.trim_end());
            text.push('\n');
            text.push_str(sql.trim_end());
            text.push('\n');
            text.push_str(&record_sql(d, m));
            Ok(ExportedMigration {
                id: m.id,
                version,
                description: m.description,
                sql: text,
            })
        })
        .collect()
}

/// One backend's migrations as the steps below need them: its list in
/// catalogue order, the 0.1 ids it carries over, and what each migration
/// creates. A backend declares it once as a `const` and reads, decides and
/// checks through it; only the SQL it runs is its own.
#[derive(Clone, Copy, Debug)]
pub struct MigrationSet {
    /// Every migration of the backend, in catalogue order.
    pub migrations: &'static [Migration],
    /// The ids its fullauth 0.1 recorded ([`super::LEGACY_SQLITE_0_1`],
    /// [`super::LEGACY_POSTGRES_0_1`], or none).
    pub legacy: &'static [LegacyMigration],
    /// What migration `id` creates in this dialect (`None` for an unknown
    /// id).
    pub change_of: fn(&str) -> Option<&'static SchemaChange>,
}

/// What a database holds for the migrator: the tracking rows in catalogue
/// terms, whether the tracking table exists and has the current layout, and
/// the names of the tables and indexes present. Made by
/// [`MigrationSet::state`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedState {
    /// The tracking rows after [`carry_over`].
    pub carried: CarryOver,
    /// True when `fullauth_schema_migrations` exists.
    pub tracking_exists: bool,
    /// True when it has the current layout (or does not exist).
    pub layout_current: bool,
    /// The names of the tables and indexes present.
    pub present: BTreeSet<String>,
}

impl TrackedState {
    /// True when the tracking table must be rewritten before anything is
    /// recorded: it exists in another layout, or holds 0.1 ids.
    pub fn needs_rewrite(&self) -> bool {
        self.tracking_exists && (!self.layout_current || !self.carried.legacy.is_empty())
    }
}

impl MigrationSet {
    /// The state from the names of the tables and indexes `present` and,
    /// when the tracking table exists, its rows as stored and its columns
    /// (`None` when it does not).
    pub fn state(
        &self,
        present: BTreeSet<String>,
        tracking: Option<(Vec<TrackingRow>, &[LiveColumn])>,
    ) -> TrackedState {
        let (rows, layout_current, tracking_exists) = match tracking {
            Some((rows, columns)) => (rows, tracking_layout_is_current(columns), true),
            None => (Vec::new(), true, false),
        };
        TrackedState {
            carried: carry_over(rows, self.migrations, self.legacy),
            tracking_exists,
            layout_current,
            present,
        }
    }

    /// The status of the `chosen` features in `state` ([`compute_status`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set.
    pub fn status(
        &self,
        state: &TrackedState,
        chosen: Features,
    ) -> Result<MigrationStatus, StoreError> {
        compute_status(
            chosen,
            self.migrations,
            &state.carried,
            &state.present,
            &self.change_of,
        )
    }

    /// The pending migrations of `status`, in order: what `plan` returns
    /// and `apply` runs.
    pub fn pending(&self, status: &MigrationStatus) -> Vec<&'static Migration> {
        self.migrations
            .iter()
            .filter(|m| status.pending.iter().any(|p| p == m.id))
            .collect()
    }

    /// What `apply(chosen)` runs on `state`, in order, after its refusals
    /// ([`check_apply`]); `None` when there is nothing to write (no pending
    /// migration, no tracking table to rewrite).
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; a [`MigrationRefusal`].
    pub fn apply_steps(
        &self,
        state: &TrackedState,
        chosen: Features,
    ) -> Result<Option<Vec<&'static Migration>>, StoreError> {
        let status = self.status(state, chosen)?;
        check_apply(&status, self.migrations, &state.present, &self.change_of)?;
        let pending = self.pending(&status);
        Ok((!pending.is_empty() || state.needs_rewrite()).then_some(pending))
    }

    /// What `adopt(chosen)` considers on `state`, in order
    /// ([`adopt_candidates`]), after its refusal ([`check_adopt`]); `None`
    /// when there is nothing to write.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; a [`MigrationRefusal`].
    pub fn adopt_steps(
        &self,
        state: &TrackedState,
        chosen: Features,
    ) -> Result<Option<Vec<&'static Migration>>, StoreError> {
        let status = self.status(state, chosen)?;
        check_adopt(&status)?;
        let candidates = adopt_candidates(&status, self.migrations);
        Ok((!candidates.is_empty() || state.needs_rewrite()).then_some(candidates))
    }

    /// What `m` creates.
    ///
    /// # Errors
    /// A backend error for a migration without a description (a bug of the
    /// backend).
    pub fn change(&self, m: &Migration) -> Result<&'static SchemaChange, StoreError> {
        (self.change_of)(m.id).ok_or_else(|| {
            StoreError::backend_message(format!("no schema description for {}", m.id))
        })
    }
}

impl MigrationSet {
    /// What a backend's unit tests check of its set: the migrations are the
    /// catalogue's, in order; each is described; its SQL creates each table
    /// of the description (`TABLE <qualifier><name> (`) and each index
    /// (as [`IndexSpec::create_sql`](super::schema::IndexSpec::create_sql)
    /// gives it, or inline as `INDEX <name> (<columns>)`). Returns what is
    /// wrong, one line each; empty when all is well.
    pub fn inconsistencies(&self, qualifier: &str) -> Vec<String> {
        let mut out = Vec::new();
        let ids: Vec<&str> = self.migrations.iter().map(|m| m.id).collect();
        if !ids.iter().copied().eq(catalog_ids()) {
            out.push(format!(
                "the migrations {ids:?} are not the catalogue's, in order"
            ));
        }
        for m in self.migrations {
            let Some(change) = (self.change_of)(m.id) else {
                out.push(format!("{} is not described", m.id));
                continue;
            };
            for t in change.tables {
                if !m.sql.contains(&format!("TABLE {qualifier}{} (", t.name)) {
                    out.push(format!("{} does not create {}", m.id, t.name));
                }
            }
            for i in change.indexes {
                let inline = format!("INDEX {} ({})", i.name, i.columns.join(", "));
                if !m.sql.contains(&i.create_sql(qualifier)) && !m.sql.contains(&inline) {
                    out.push(format!("{} does not create the index {}", m.id, i.name));
                }
            }
        }
        out
    }
}

/// What a backend's unit tests check of its exported files: one per
/// migration of the set (`expected`), none with a `BEGIN;` or `COMMIT;`
/// line (the tool wraps each file in a transaction). Returns what is wrong.
pub fn export_file_problems(files: &[ExportedMigration], expected: usize) -> Vec<String> {
    let mut out = Vec::new();
    if files.len() != expected {
        out.push(format!("{} files, {expected} expected", files.len()));
    }
    for f in files {
        if f.sql.lines().any(|l| l == "BEGIN;" || l == "COMMIT;") {
            out.push(format!("{} has transaction statements", f.file_name()));
        }
    }
    out
}

/// The ids of `migrations`, in order (what `apply` returns).
pub fn ids(migrations: &[&Migration]) -> Vec<String> {
    migrations.iter().map(|m| m.id.to_string()).collect()
}

/// True when none of the tables and indexes `change` creates is `present`:
/// `adopt` runs the migration instead of adopting it.
pub fn nothing_present(change: &SchemaChange, present: &BTreeSet<String>) -> bool {
    !change.object_names().any(|n| present.contains(n))
}

/// The catalogue ids in order (for backends checking their lists).
pub fn catalog_ids() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|e| e.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::schema::reference_change;
    use crate::migrate::{LEGACY_POSTGRES_0_1, Migration};

    const fn known(m: Option<Migration>) -> Migration {
        match m {
            Some(m) => m,
            None => panic!("a catalogue id"),
        }
    }

    static MIGS: [Migration; 3] = [
        known(Migration::of("core_0001_users", "A")),
        known(Migration::of("core_0002_refresh_tokens", "B")),
        known(Migration::of("core_0003_refresh_token_indexes", "C")),
    ];

    fn row(id: &str, checksum: &str) -> TrackingRow {
        TrackingRow {
            id: id.into(),
            feature: None,
            checksum: checksum.into(),
            description: None,
            applied_at: Timestamp::from_unix_micros(0).unwrap_or_else(|_| Timestamp::now()),
            adopted: false,
        }
    }

    fn change_of(id: &str) -> Option<&'static SchemaChange> {
        reference_change(id)
    }

    #[test]
    fn legacy_rows_read_as_their_catalogue_ids() {
        let rows = vec![row("0001_core", LEGACY_POSTGRES_0_1[0].checksum)];
        let c = carry_over(rows, &MIGS, &LEGACY_POSTGRES_0_1);
        assert_eq!(c.legacy, ["0001_core"]);
        let ids: Vec<&str> = c.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "core_0001_users",
                "core_0002_refresh_tokens",
                "core_0003_refresh_token_indexes"
            ]
        );
        let s = compute_status(
            Features::from(Feature::Core),
            &MIGS,
            &c,
            &BTreeSet::new(),
            &change_of,
        )
        .unwrap();
        assert!(s.is_up_to_date(), "{s:?}");
        assert_eq!(
            s.feature(Feature::Core).unwrap().state,
            FeatureState::Present
        );

        // Edited before the upgrade: drift, under the old id.
        let c = carry_over(
            vec![row("0001_core", "edited")],
            &MIGS,
            &LEGACY_POSTGRES_0_1,
        );
        let s = compute_status(
            Features::from(Feature::Core),
            &MIGS,
            &c,
            &BTreeSet::new(),
            &change_of,
        )
        .unwrap();
        assert_eq!(s.drifted, ["0001_core"]);
        assert_eq!(
            s.feature(Feature::Core).unwrap().state,
            FeatureState::Drifted
        );
    }

    #[test]
    fn states_from_records_and_tables() {
        let present: BTreeSet<String> = ["fullauth_users", "ix_fullauth_users_email"]
            .into_iter()
            .map(String::from)
            .collect();
        let s = compute_status(
            Features::from(Feature::Core),
            &MIGS,
            &CarryOver::default(),
            &present,
            &change_of,
        )
        .unwrap();
        let core = s.feature(Feature::Core).unwrap();
        assert_eq!(core.state, FeatureState::Unrecorded);
        assert_eq!(core.tables_found, ["fullauth_users"]);
        assert_eq!(s.unrecorded, ["core_0001_users"]);
        assert_eq!(
            s.pending,
            [
                "core_0002_refresh_tokens",
                "core_0003_refresh_token_indexes"
            ]
        );
        assert!(s.needs_adopt());
        let refusal = check_apply(&s, &MIGS, &present, &change_of).unwrap_err();
        assert_eq!(
            refusal,
            MigrationRefusal::Unrecorded {
                features: vec![Feature::Core],
                objects: vec!["fullauth_users".into(), "ix_fullauth_users_email".into()],
            }
        );

        let c = carry_over(
            vec![row("core_0001_users", &MIGS[0].checksum())],
            &MIGS,
            &[],
        );
        let s = compute_status(Features::empty(), &MIGS, &c, &BTreeSet::new(), &change_of).unwrap();
        assert_eq!(
            s.feature(Feature::Core).unwrap().state,
            FeatureState::Outdated
        );
        assert_eq!(
            s.feature(Feature::Roles).unwrap().state,
            FeatureState::NotChosen
        );
        assert!(s.pending.is_empty());
        let s = compute_status(
            Features::from(Feature::Core),
            &MIGS,
            &c,
            &BTreeSet::new(),
            &change_of,
        )
        .unwrap();
        assert_eq!(s.pending.len(), 2);
        let c = carry_over(vec![row("from_the_future", "x")], &MIGS, &[]);
        let s = compute_status(Features::empty(), &MIGS, &c, &BTreeSet::new(), &change_of).unwrap();
        assert_eq!(s.unknown, ["from_the_future"]);
        assert!(s.is_up_to_date());
    }

    #[test]
    fn exports_refuse_bad_input() {
        let d = ExportDialect {
            title: "t",
            preamble: "",
            tracking_table: "CREATE TABLE IF NOT EXISTS t (id TEXT);",
            table: "t",
            now: "now()",
            false_literal: "false",
        };
        let items: Vec<(Migration, String)> = MIGS.iter().map(|m| (*m, m.sql.into())).collect();
        assert!(export_files(&d, Features::from(Feature::Core), &items, -1).is_err());
        assert!(export_files(&d, Features::from(Feature::Core), &items, i64::MAX).is_err());
        assert!(export_script(&d, Features::from(Feature::Roles), &items).is_err());
        let files = export_files(&d, Features::from(Feature::Core), &items, 100).unwrap();
        assert_eq!(
            files.iter().map(|f| f.version).collect::<Vec<_>>(),
            [101, 102, 103]
        );
        assert!(files[0].sql.contains("INSERT INTO t"));
        assert!(!files[0].sql.contains("BEGIN"));
        let script = export_script(&d, Features::from(Feature::Core), &items).unwrap();
        assert!(script.starts_with("-- t (features: core)\nBEGIN;"));
        assert!(script.ends_with("COMMIT;\n"));
    }
}
