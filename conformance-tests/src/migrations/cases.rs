//! The cases of the migrator suite, one function each. Every case makes its
//! own databases from the harness and closes them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use fullauth_api::migrate::{
    AdoptReport, CATALOG, FeatureState, MigrationRefusal, MigrationStatus,
};
use fullauth_api::{
    Feature, Features, NewRefreshToken, NewUser, StoreError, Timestamp, TokenDigest,
};

use super::fixtures::FastapiFullauth;
use super::{MigrationCaseResult, MigrationDatabase, MigrationHarness};

fn core() -> Features {
    Features::from(Feature::Core)
}

fn core_roles() -> Features {
    core().with(Feature::Roles)
}

/// The catalogue ids of `features`, in order.
fn ids(features: Features) -> Vec<String> {
    CATALOG
        .iter()
        .filter(|e| features.contains(e.feature))
        .map(|e| e.id.to_string())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn state(s: &MigrationStatus, f: Feature) -> FeatureState {
    s.feature(f)
        .unwrap_or_else(|| panic!("status lists {f}"))
        .state
}

fn refusal(r: Result<impl std::fmt::Debug, StoreError>) -> MigrationRefusal {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => MigrationRefusal::of(&e)
            .unwrap_or_else(|| panic!("expected a MigrationRefusal, got {e:?}"))
            .clone(),
    }
}

/// The notes every backend reports the same: `notes` without the repairs
/// only this dialect makes ([`Dialect::is_repair_note`](super::Dialect::is_repair_note)).
fn common_notes(h: &Arc<dyn MigrationHarness>, notes: &[String]) -> Vec<String> {
    notes
        .iter()
        .filter(|n| !h.dialect().is_repair_note(n))
        .cloned()
        .collect()
}

/// True (after a notice) when the backend released no 0.1, so the 0.1
/// carry-over cases have nothing to check.
fn no_0_1_release(h: &Arc<dyn MigrationHarness>, case: &str) -> bool {
    if h.dialect().legacy_0_1().is_empty() {
        eprintln!(
            "{case}: {:?} had no 0.1 release; nothing to carry over",
            h.dialect()
        );
        return true;
    }
    false
}

fn is_invalid_features<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(
        r,
        Err(StoreError::InvalidInput {
            field: "features",
            ..
        })
    )
}

/// The catalog of a fresh database with `features` applied.
async fn applied_catalog(
    h: &Arc<dyn MigrationHarness>,
    features: Features,
) -> Result<Vec<String>, StoreError> {
    let db = h.fresh().await?;
    db.migrator().apply(features).await?;
    let c = db.catalog().await?;
    db.close().await;
    Ok(c)
}

async fn with_fixture(
    h: &Arc<dyn MigrationHarness>,
    ddl: &str,
) -> Result<Box<dyn MigrationDatabase>, StoreError> {
    let db = h.fresh().await?;
    db.execute(ddl).await?;
    Ok(db)
}

/// Apply creates every table once; applying again changes nothing.
pub async fn apply_creates_every_feature_and_again_is_a_no_op(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    let first = m.apply(Features::all()).await?;
    assert_eq!(first, ids(Features::all()));
    let before = db.catalog().await?;
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("column fullauth_users.email "))
    );
    assert!(m.apply(Features::all()).await?.is_empty());
    assert_eq!(db.catalog().await?, before);
    let status = m.status(Features::all()).await?;
    assert!(status.is_up_to_date(), "{status:?}");
    assert_eq!(status.applied.len(), CATALOG.len());
    assert!(status.applied.iter().all(|a| !a.adopted));
    for f in Feature::ALL {
        assert_eq!(state(&status, f), FeatureState::Present, "{f}");
    }
    db.close().await;
    Ok(())
}

/// A feature added later creates only its own tables.
pub async fn features_added_later_create_only_their_tables(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    assert_eq!(m.apply(core()).await?, ids(core()));
    let before = db.catalog().await?;
    assert!(!before.iter().any(|l| l.contains("fullauth_roles")));
    assert_eq!(
        m.plan(core_roles())
            .await?
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        ["roles_0001_roles"]
    );
    assert_eq!(m.apply(core_roles()).await?, ["roles_0001_roles"]);
    let after = db.catalog().await?;
    assert!(before.iter().all(|l| after.contains(l)));
    let added: BTreeSet<String> = after
        .iter()
        .filter(|l| !before.contains(l))
        .cloned()
        .collect();
    assert!(
        added
            .iter()
            .all(|l| l.contains("fullauth_roles") || l.contains("fullauth_user_roles")),
        "{added:?}"
    );
    assert!(added.contains("unique fullauth_roles (name)"), "{added:?}");
    // The store serves it.
    let store = db.store(core_roles()).await?;
    let u = store
        .create_user(NewUser::new(format!(
            "later-{}@example.test",
            uuid::Uuid::new_v4()
        ))?)
        .await?;
    store.assign_role(&u.id, &"editor".parse()?).await?;
    assert_eq!(store.get_user_roles(&u.id).await?, ["editor"]);
    db.close().await;
    Ok(())
}

/// A fresh database: the chosen features are absent, the others not
/// chosen; nothing to adopt.
pub async fn status_of_a_fresh_database(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let s = db.migrator().status(core_roles()).await?;
    assert_eq!(state(&s, Feature::Core), FeatureState::Absent);
    assert_eq!(state(&s, Feature::Roles), FeatureState::Absent);
    for f in [Feature::Permissions, Feature::OAuth, Feature::Blacklist] {
        assert_eq!(state(&s, f), FeatureState::NotChosen, "{f}");
    }
    assert_eq!(s.pending, ids(core_roles()));
    assert!(!s.is_up_to_date() && !s.needs_adopt());
    assert!(s.recorded_features().is_empty());
    assert!(s.feature(Feature::Roles).is_some_and(|f| f.chosen));
    assert!(s.feature(Feature::Mfa).is_some_and(|f| !f.chosen));
    // Reading the status created nothing.
    assert!(db.tables().await?.is_empty(), "{:?}", db.tables().await?);
    db.close().await;
    Ok(())
}

/// After migrating core and roles, the other features are not chosen (not
/// pending) for that set, and absent when asked for.
pub async fn status_after_migrating_some_features(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(core_roles()).await?;
    let s = m.status(core_roles()).await?;
    assert!(s.is_up_to_date(), "{s:?}");
    assert_eq!(state(&s, Feature::Core), FeatureState::Present);
    assert_eq!(state(&s, Feature::Roles), FeatureState::Present);
    assert_eq!(state(&s, Feature::OAuth), FeatureState::NotChosen);
    assert_eq!(s.recorded_features(), core_roles());
    let all = m.status(Features::all()).await?;
    assert_eq!(state(&all, Feature::OAuth), FeatureState::Absent);
    assert_eq!(
        all.pending,
        ids(Features::all()
            .without(Feature::Core)
            .without(Feature::Roles))
    );
    // The tables found are named.
    assert_eq!(
        s.feature(Feature::Roles).map(|f| f.tables_found.clone()),
        Some(strings(&["fullauth_roles", "fullauth_user_roles"]))
    );
    db.close().await;
    Ok(())
}

/// Every method refuses a feature set the SQL schema cannot hold, and
/// nothing is created.
pub async fn inconsistent_feature_sets_are_refused_everywhere(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    for bad in [
        core().with(Feature::Permissions),
        Features::from(Feature::Roles),
        Features::from(Feature::Mfa).with(Feature::Blacklist),
    ] {
        assert!(is_invalid_features(m.status(bad).await), "{bad}");
        assert!(is_invalid_features(m.plan(bad).await), "{bad}");
        assert!(is_invalid_features(m.plan_sql(bad).await), "{bad}");
        assert!(is_invalid_features(m.apply(bad).await), "{bad}");
        assert!(is_invalid_features(m.adopt(bad).await), "{bad}");
        assert!(is_invalid_features(m.export_sql(bad)), "{bad}");
        assert!(is_invalid_features(m.export_sqlx(bad, 0)), "{bad}");
    }
    // Short-lived features stand alone.
    assert!(m.plan(Features::from(Feature::Blacklist)).await.is_ok());
    assert!(db.tables().await?.is_empty());
    db.close().await;
    Ok(())
}

/// Planning lists what apply would run, with its SQL, and changes nothing;
/// applying an empty set does nothing.
pub async fn plan_lists_pending_and_changes_nothing(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    let plan = m.plan(Features::durable()).await?;
    assert_eq!(
        plan.iter().map(|p| p.id.to_string()).collect::<Vec<_>>(),
        ids(Features::durable())
    );
    let sql = m.plan_sql(core()).await?;
    assert!(sql.contains("-- core_0001_users"));
    assert!(sql.contains(&m.render(&plan[0])));
    assert!(m.render(&plan[0]).contains("fullauth_users ("));
    assert!(m.apply(Features::empty()).await?.is_empty());
    assert!(db.tables().await?.is_empty(), "{:?}", db.tables().await?);
    db.close().await;
    Ok(())
}

/// A recorded checksum that differs is drift: reported per feature, and it
/// blocks apply and adopt, which change nothing.
pub async fn drift_is_reported_and_blocks_apply_and_adopt(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(core()).await?;
    db.execute(
        "UPDATE fullauth_schema_migrations SET checksum = 'edited' WHERE id = 'core_0001_users'",
    )
    .await?;
    let s = m.status(Features::all()).await?;
    assert_eq!(s.drifted, ["core_0001_users"]);
    assert_eq!(state(&s, Feature::Core), FeatureState::Drifted);
    assert!(!s.is_up_to_date());
    let before = db.catalog().await?;
    assert_eq!(
        refusal(m.apply(Features::all()).await),
        MigrationRefusal::Drifted {
            ids: strings(&["core_0001_users"])
        }
    );
    assert!(matches!(
        refusal(m.adopt(Features::all()).await),
        MigrationRefusal::Drifted { .. }
    ));
    assert_eq!(db.catalog().await?, before);
    db.close().await;
    Ok(())
}

/// A row of a newer release (only an id and a checksum, as another tool
/// may write it) is reported, not blocking.
pub async fn ids_of_a_newer_release_are_reported_not_blocking(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(core()).await?;
    db.execute(
        "INSERT INTO fullauth_schema_migrations (id, checksum) \
         VALUES ('core_9999_from_a_newer_release', 'x')",
    )
    .await?;
    let s = m.status(core()).await?;
    assert_eq!(s.unknown, ["core_9999_from_a_newer_release"]);
    assert!(s.is_up_to_date(), "{s:?}");
    assert_eq!(m.apply(core_roles()).await?, ["roles_0001_roles"]);
    db.close().await;
    Ok(())
}

/// A fastapi-fullauth database not yet adopted: its features are
/// unrecorded (tables found, run adopt), chosen or not; missing pieces are
/// pending.
pub async fn status_of_an_unadopted_fastapi_fullauth_database(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::V0_18.ddl(h.dialect())).await?;
    let m = db.migrator();
    let s = m.status(Features::durable()).await?;
    for f in Features::durable().iter() {
        assert_eq!(state(&s, f), FeatureState::Unrecorded, "{f}");
    }
    assert_eq!(state(&s, Feature::Blacklist), FeatureState::NotChosen);
    assert_eq!(s.unrecorded, ids(Features::durable()));
    assert!(s.pending.is_empty() && s.needs_adopt() && !s.is_up_to_date());
    assert_eq!(
        s.feature(Feature::Core).map(|f| f.tables_found.clone()),
        Some(strings(&["fullauth_users", "fullauth_refresh_tokens"]))
    );
    // Not chosen, the roles tables are still reported as there.
    let s = m.status(core()).await?;
    assert_eq!(state(&s, Feature::Roles), FeatureState::Unrecorded);
    assert_eq!(s.unrecorded, ids(core()));

    // A 0.16 database: the 0.17 indexes are simply pending.
    let old = with_fixture(&h, &FastapiFullauth::V0_16.ddl(h.dialect())).await?;
    let s = old.migrator().status(Features::durable()).await?;
    assert_eq!(state(&s, Feature::Core), FeatureState::Unrecorded);
    assert_eq!(state(&s, Feature::Mfa), FeatureState::Absent);
    assert_eq!(
        s.pending,
        strings(&[
            "core_0003_refresh_token_indexes",
            "oauth_0002_user_index",
            "mfa_0001_factors"
        ])
    );
    db.close().await;
    old.close().await;
    Ok(())
}

/// Apply over tables nobody recorded refuses, names them, and leaves the
/// database exactly as it was (no tracking table).
pub async fn refused_migrate_leaves_nothing_behind(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::V0_18.ddl(h.dialect())).await?;
    let tables = db.tables().await?;
    let catalog = db.catalog().await?;
    let m = db.migrator();
    let err = match m.apply(Features::all()).await {
        Ok(applied) => panic!("apply over unrecorded tables ran {applied:?}"),
        Err(e) => e,
    };
    match MigrationRefusal::of(&err) {
        Some(MigrationRefusal::Unrecorded { features, objects }) => {
            assert_eq!(features, &Features::durable().iter().collect::<Vec<_>>());
            assert!(objects.iter().any(|o| o == "fullauth_users"), "{objects:?}");
            assert!(
                objects.iter().any(|o| o == "ix_fullauth_mfa_user_id"),
                "{objects:?}"
            );
        }
        other => panic!("expected Unrecorded, got {other:?} ({err:?})"),
    }
    let message = err.to_string();
    assert!(message.contains("adopt"), "{message}");
    assert_eq!(db.tables().await?, tables);
    assert_eq!(db.catalog().await?, catalog);
    // Core only: refused as well.
    assert!(matches!(
        refusal(m.apply(core()).await),
        MigrationRefusal::Unrecorded { .. }
    ));
    assert_eq!(db.tables().await?, tables);
    db.close().await;
    Ok(())
}

/// Adopts a fixture for the durable features and checks the report.
async fn adopt_fixture(
    h: &Arc<dyn MigrationHarness>,
    fixture: FastapiFullauth,
    applied: &[&str],
    notes: &[&str],
) -> Result<(Box<dyn MigrationDatabase>, AdoptReport), StoreError> {
    let db = with_fixture(h, &fixture.ddl(h.dialect())).await?;
    let m = db.migrator();
    let report = m.adopt(Features::durable()).await?;
    let expected_adopted: Vec<String> = ids(Features::durable())
        .into_iter()
        .filter(|id| !applied.contains(&id.as_str()))
        .collect();
    assert_eq!(report.adopted, expected_adopted, "{fixture:?}: {report:?}");
    assert_eq!(report.applied, strings(applied), "{fixture:?}: {report:?}");
    assert_eq!(
        common_notes(h, &report.notes),
        strings(notes),
        "{fixture:?}: {report:?}"
    );
    assert!(report.carried_over.is_empty());
    let s = m.status(Features::durable()).await?;
    assert!(s.is_up_to_date(), "{fixture:?}: {s:?}");
    assert_eq!(
        s.applied.iter().filter(|a| a.adopted).count(),
        expected_adopted.len()
    );
    // Adopting again finds nothing to do; applying too.
    let again = m.adopt(Features::durable()).await?;
    assert!(again.adopted.is_empty() && again.applied.is_empty() && again.notes.is_empty());
    assert!(m.apply(Features::durable()).await?.is_empty());
    Ok((db, report))
}

/// Adopts a fixture and compares its schema with a fresh apply.
async fn adopt_matches_fresh(
    h: Arc<dyn MigrationHarness>,
    fixture: FastapiFullauth,
    applied: &[&str],
    notes: &[&str],
) -> MigrationCaseResult {
    let (db, _) = adopt_fixture(&h, fixture, applied, notes).await?;
    assert_eq!(
        db.catalog().await?,
        applied_catalog(&h, Features::durable()).await?,
        "{fixture:?} adopted differs from a fresh apply"
    );
    db.close().await;
    Ok(())
}

const INDEXES_AND_MFA: [&str; 3] = [
    "core_0003_refresh_token_indexes",
    "oauth_0002_user_index",
    "mfa_0001_factors",
];

/// fastapi-fullauth 0.18 (SQLAlchemy): everything adopted, nothing changed,
/// no note.
pub async fn adopt_fastapi_fullauth_0_18(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    adopt_matches_fresh(h, FastapiFullauth::V0_18, &[], &[]).await
}

/// fastapi-fullauth 0.18 (SQLModel): its `transports VARCHAR` is kept and
/// noted.
pub async fn adopt_fastapi_fullauth_0_18_sqlmodel(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let (db, _) = adopt_fixture(
        &h,
        FastapiFullauth::V0_18SqlModel,
        &[],
        &[&format!(
            "kept fullauth_passkeys.transports as {} (this schema says VARCHAR(200))",
            h.dialect().sqlmodel_varchar()
        )],
    )
    .await?;
    db.close().await;
    Ok(())
}

/// fastapi-fullauth 0.17: the MFA table is created.
pub async fn adopt_fastapi_fullauth_0_17(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    adopt_matches_fresh(h, FastapiFullauth::V0_17, &["mfa_0001_factors"], &[]).await
}

/// fastapi-fullauth 0.16: the 0.17 indexes and the MFA table are created.
pub async fn adopt_fastapi_fullauth_0_16(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    adopt_matches_fresh(h, FastapiFullauth::V0_16, &INDEXES_AND_MFA, &[]).await
}

/// fastapi-fullauth 0.15: as 0.16.
pub async fn adopt_fastapi_fullauth_0_15(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    adopt_matches_fresh(h, FastapiFullauth::V0_15, &INDEXES_AND_MFA, &[]).await
}

/// fastapi-fullauth 0.14 (SQLAlchemy): its `credential_id TEXT` is kept and
/// noted.
pub async fn adopt_fastapi_fullauth_0_14(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    let (db, _) = adopt_fixture(
        &h,
        FastapiFullauth::V0_14,
        &INDEXES_AND_MFA,
        &["kept fullauth_passkeys.credential_id as TEXT (this schema says VARCHAR(512))"],
    )
    .await?;
    db.close().await;
    Ok(())
}

/// fastapi-fullauth 0.14 (SQLModel): every foreign key gets its
/// `ON DELETE CASCADE`, the two passkey types are kept; deleting a user
/// then deletes its tokens.
pub async fn adopt_fastapi_fullauth_0_14_sqlmodel(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let (db, _) = adopt_fixture(
        &h,
        FastapiFullauth::V0_14SqlModel,
        &INDEXES_AND_MFA,
        &[
            "recreated the foreign key fullauth_refresh_tokens.user_id with ON DELETE CASCADE",
            "recreated the foreign key fullauth_user_roles.user_id with ON DELETE CASCADE",
            "recreated the foreign key fullauth_user_roles.role_id with ON DELETE CASCADE",
            "recreated the foreign key fullauth_role_permissions.role_id with ON DELETE CASCADE",
            "recreated the foreign key fullauth_role_permissions.permission_id with ON DELETE \
             CASCADE",
            "recreated the foreign key fullauth_oauth_accounts.user_id with ON DELETE CASCADE",
            "recreated the foreign key fullauth_passkeys.user_id with ON DELETE CASCADE",
            "kept fullauth_passkeys.credential_id as TEXT (this schema says VARCHAR(512))",
            &format!(
                "kept fullauth_passkeys.transports as {} (this schema says VARCHAR(200))",
                h.dialect().sqlmodel_varchar()
            ),
        ],
    )
    .await?;
    // The schema is the fresh one but for the two kept types.
    let fresh = applied_catalog(&h, Features::durable()).await?;
    let adopted = db.catalog().await?;
    let only_adopted: Vec<&String> = adopted.iter().filter(|l| !fresh.contains(l)).collect();
    let only_fresh: Vec<&String> = fresh.iter().filter(|l| !adopted.contains(l)).collect();
    assert_eq!(only_adopted.len(), 2, "{only_adopted:?}");
    assert!(
        only_adopted
            .iter()
            .chain(&only_fresh)
            .all(|l| l.contains("fullauth_passkeys.credential_id")
                || l.contains("fullauth_passkeys.transports")),
        "{only_adopted:?} / {only_fresh:?}"
    );
    // The cascade works.
    let store = db.store(Features::durable()).await?;
    let u = store
        .create_user(NewUser::new(format!(
            "cascade-{}@example.test",
            uuid::Uuid::new_v4()
        ))?)
        .await?;
    let digest = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
    store
        .store_refresh_token(NewRefreshToken {
            digest: digest.clone(),
            user_id: u.id.clone(),
            family_id: fullauth_api::FamilyId::generate(),
            expires_at: Timestamp::now() + Duration::from_secs(3600),
            client: Default::default(),
        })
        .await?;
    store.assign_role(&u.id, &"auditor".parse()?).await?;
    assert!(store.delete_user(&u.id).await?);
    assert!(store.get_refresh_token(&digest).await?.is_none());
    db.close().await;
    Ok(())
}

/// An older layout: the session columns, the OAuth unique constraint and
/// the passkeys cascade are added; the result is the fresh schema.
pub async fn adopt_an_older_layout_adds_columns_constraint_and_cascade(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    adopt_matches_fresh(
        h,
        FastapiFullauth::Legacy,
        &INDEXES_AND_MFA,
        &[
            "added the missing nullable column fullauth_refresh_tokens.user_agent \
             (fastapi-fullauth 0.14 added it)",
            "added the missing nullable column fullauth_refresh_tokens.ip_address \
             (fastapi-fullauth 0.14 added it)",
            "added the missing unique constraint uq_oauth_provider_user on \
             fullauth_oauth_accounts (provider, provider_user_id)",
            "recreated the foreign key fullauth_passkeys.user_id with ON DELETE CASCADE",
        ],
    )
    .await
}

/// Adopting some features records only them; the others stay unrecorded
/// and are adopted later.
pub async fn adopt_some_features_leaves_the_others_unrecorded(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::V0_18.ddl(h.dialect())).await?;
    let m = db.migrator();
    let r = m.adopt(core_roles()).await?;
    assert_eq!(r.adopted, ids(core_roles()));
    let s = m.status(core_roles()).await?;
    assert!(s.is_up_to_date(), "{s:?}");
    assert_eq!(state(&s, Feature::OAuth), FeatureState::Unrecorded);
    assert_eq!(state(&s, Feature::Blacklist), FeatureState::NotChosen);
    let r = m.adopt(Features::all()).await?;
    assert_eq!(
        r.adopted,
        ids(Features::durable()
            .without(Feature::Core)
            .without(Feature::Roles))
    );
    assert_eq!(r.applied, ids(Features::short_lived()));
    assert!(m.status(Features::all()).await?.is_up_to_date());
    db.close().await;
    Ok(())
}

/// Application columns on `fullauth_users` are kept and reported, the same
/// words on every backend; one NOT NULL without a default is flagged.
pub async fn adopt_reports_application_columns(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::with_app_columns(h.dialect())).await?;
    let r = db.migrator().adopt(Features::durable()).await?;
    assert_eq!(
        common_notes(&h, &r.notes),
        [
            "kept the application column fullauth_users.display_name (VARCHAR(100) NOT NULL \
             with a default)",
            "kept the application column fullauth_users.plan (VARCHAR(20) NOT NULL): NOT NULL \
             without a default, so creating a row needs a value for it",
            "kept the application column fullauth_users.nickname (TEXT)",
        ]
    );
    assert!(
        db.catalog()
            .await?
            .contains(&"column fullauth_users.plan VARCHAR(20) NOT NULL".to_string())
    );
    db.close().await;
    Ok(())
}

/// A table without a NOT NULL column fullauth needs cannot be adopted;
/// nothing is changed.
pub async fn adopt_refuses_a_missing_not_null_column(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::without_revoked(h.dialect())).await?;
    let (tables, catalog) = (db.tables().await?, db.catalog().await?);
    assert_eq!(
        refusal(db.migrator().adopt(Features::durable()).await),
        MigrationRefusal::MissingColumn {
            table: "fullauth_refresh_tokens".into(),
            column: "revoked".into()
        }
    );
    assert_eq!(db.tables().await?, tables);
    assert_eq!(db.catalog().await?, catalog);
    db.close().await;
    Ok(())
}

/// Integer user ids (fastapi-fullauth's `UserSchema[int]`) under a
/// migrator whose store keys users by UUID (it was opened before the tables
/// existed): adopt is refused with an error that names the integer column,
/// and nothing is changed. (A store opened on the database takes its key
/// type; each backend tests that adoption on its own.)
pub async fn adopt_refuses_integer_user_ids(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::with_integer_user_ids(h.dialect())).await?;
    let tables = db.tables().await?;
    match db.migrator().adopt(Features::durable()).await {
        Ok(r) => panic!("expected a refusal, got {r:?}"),
        Err(e) => match MigrationRefusal::of(&e) {
            Some(MigrationRefusal::Incompatible {
                table,
                column,
                found,
                ..
            }) => {
                assert_eq!((table.as_str(), column.as_str()), ("fullauth_users", "id"));
                assert_eq!(found, "INTEGER");
            }
            Some(other) => panic!("expected Incompatible, got {other:?}"),
            None => {
                let text = e.to_string();
                assert!(
                    text.contains("fullauth_users.id is INTEGER")
                        && text.contains("user ids are integer")
                        && text.contains("UUID user ids"),
                    "{text}"
                );
            }
        },
    }
    assert_eq!(db.tables().await?, tables);
    db.close().await;
    Ok(())
}

/// A feature of which one table exists: the missing table and index are
/// created and the migration is recorded as adopted.
pub async fn adopt_creates_the_missing_table_of_a_feature(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(core()).await?;
    db.execute(&h.dialect().fill(
        "CREATE TABLE fullauth_roles (\n\tid {uuid} NOT NULL,\n\tname VARCHAR(100) NOT NULL,\n\t\
         PRIMARY KEY (id)\n)",
    ))
    .await?;
    assert_eq!(
        state(&m.status(core_roles()).await?, Feature::Roles),
        FeatureState::Unrecorded
    );
    let r = m.adopt(core_roles()).await?;
    assert_eq!(r.adopted, ["roles_0001_roles"]);
    assert_eq!(
        common_notes(&h, &r.notes),
        [
            "created the missing table fullauth_user_roles",
            "created the missing index ix_fullauth_roles_name on fullauth_roles",
        ]
    );
    assert_eq!(
        db.catalog().await?,
        applied_catalog(&h, core_roles()).await?
    );
    db.close().await;
    Ok(())
}

/// fullauth's own tables whose records were lost are adopted as they are.
pub async fn adopt_of_fullauth_tables_records_them(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(Features::all()).await?;
    let catalog = db.catalog().await?;
    db.execute("DROP TABLE fullauth_schema_migrations").await?;
    let s = m.status(Features::all()).await?;
    assert!(
        Feature::ALL
            .iter()
            .all(|f| state(&s, *f) == FeatureState::Unrecorded)
    );
    let r = m.adopt(Features::all()).await?;
    assert_eq!(r.adopted, ids(Features::all()));
    assert!(r.applied.is_empty() && r.notes.is_empty(), "{r:?}");
    assert_eq!(db.catalog().await?, catalog);
    assert!(m.status(Features::all()).await?.is_up_to_date());
    db.close().await;
    Ok(())
}

/// The store serves an adopted fastapi-fullauth database.
pub async fn a_store_works_after_adopt(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    let db = with_fixture(&h, &FastapiFullauth::V0_16.ddl(h.dialect())).await?;
    db.migrator().adopt(Features::durable()).await?;
    let store = db.store(Features::durable()).await?;
    let u = store
        .create_user(NewUser::new(format!(
            "adopted-{}@example.test",
            uuid::Uuid::new_v4()
        ))?)
        .await?;
    store.assign_role(&u.id, &"editor".parse()?).await?;
    assert_eq!(store.get_user_roles(&u.id).await?, ["editor"]);
    assert!(store.get_mfa(&u.id).await?.is_none());
    db.close().await;
    Ok(())
}

/// A database migrated by fullauth 0.1: read as up to date (never pending,
/// never drifted), then rewritten with the new ids by the next apply.
pub async fn a_0_1_database_carries_over(h: Arc<dyn MigrationHarness>) -> MigrationCaseResult {
    if no_0_1_release(&h, "a_0_1_database_carries_over") {
        return Ok(());
    }
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(Features::all()).await?;
    db.write_0_1_tracking(Features::all()).await?;
    let legacy: Vec<String> = h
        .dialect()
        .legacy_0_1()
        .iter()
        .map(|l| l.id.to_string())
        .collect();
    let s = m.status(Features::all()).await?;
    assert!(s.is_up_to_date(), "{s:?}");
    assert_eq!(s.legacy, legacy);
    assert!(s.drifted.is_empty() && s.unknown.is_empty());
    assert_eq!(
        s.applied.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        ids(Features::all())
    );
    assert!(
        Feature::ALL
            .iter()
            .all(|f| state(&s, *f) == FeatureState::Present)
    );
    // Apply runs nothing and rewrites the records.
    assert!(m.apply(Features::all()).await?.is_empty());
    let s = m.status(Features::all()).await?;
    assert!(s.legacy.is_empty() && s.is_up_to_date(), "{s:?}");
    assert_eq!(s.applied.len(), CATALOG.len());
    // The rewritten table has the shared layout: a row needs only its id
    // and checksum.
    db.execute(
        "INSERT INTO fullauth_schema_migrations (id, checksum) VALUES ('x_0001_probe', 'x')",
    )
    .await?;
    db.close().await;
    Ok(())
}

/// An 0.1 database with only some features gains the others; adopt
/// rewrites the records too and says so.
pub async fn a_0_1_database_gains_new_features(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    if no_0_1_release(&h, "a_0_1_database_gains_new_features") {
        return Ok(());
    }
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(core_roles()).await?;
    db.write_0_1_tracking(core_roles()).await?;
    let s = m.status(Features::all()).await?;
    assert_eq!(state(&s, Feature::Core), FeatureState::Present);
    assert_eq!(state(&s, Feature::OAuth), FeatureState::Absent);
    assert_eq!(
        m.apply(Features::all()).await?,
        ids(Features::all()
            .without(Feature::Core)
            .without(Feature::Roles))
    );
    assert!(m.status(Features::all()).await?.is_up_to_date());

    // The same through adopt.
    let other = h.fresh().await?;
    let m = other.migrator();
    m.apply(core()).await?;
    other.write_0_1_tracking(core()).await?;
    let r = m.adopt(core_roles()).await?;
    assert!(!r.carried_over.is_empty());
    assert_eq!(r.applied, ["roles_0001_roles"]);
    assert!(r.adopted.is_empty());
    let s = m.status(core_roles()).await?;
    assert!(s.is_up_to_date() && s.legacy.is_empty(), "{s:?}");
    db.close().await;
    other.close().await;
    Ok(())
}

/// An 0.1 record whose checksum is not 0.1's is drift, under its old id;
/// apply refuses and keeps the old records.
pub async fn a_0_1_database_with_an_edited_migration_is_drifted(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    if no_0_1_release(&h, "a_0_1_database_with_an_edited_migration_is_drifted") {
        return Ok(());
    }
    let db = h.fresh().await?;
    let m = db.migrator();
    m.apply(core()).await?;
    db.write_0_1_tracking(core()).await?;
    let first = h.dialect().legacy_0_1()[0].id;
    db.execute(&format!(
        "UPDATE fullauth_schema_migrations SET checksum = 'edited' WHERE id = '{first}'"
    ))
    .await?;
    let s = m.status(core()).await?;
    assert_eq!(s.drifted, [first]);
    assert_eq!(state(&s, Feature::Core), FeatureState::Drifted);
    assert!(matches!(
        refusal(m.apply(core()).await),
        MigrationRefusal::Drifted { .. }
    ));
    assert_eq!(m.status(core()).await?.drifted, [first]);
    db.close().await;
    Ok(())
}

const APP_BEFORE: &str =
    "CREATE TABLE app_notes (id INTEGER NOT NULL, body TEXT, PRIMARY KEY (id))";
const APP_AFTER: &str = "ALTER TABLE fullauth_users ADD COLUMN display_name TEXT";

/// The app's migration before ours, ours, the app's after ours (altering
/// `fullauth_users`), one transaction, committed.
pub async fn apply_inside_the_app_transaction_commits_with_it(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let applied = db
        .apply_in_app_transaction(APP_BEFORE, core(), APP_AFTER, true)
        .await?;
    assert_eq!(applied, ids(core()));
    let tables = db.tables().await?;
    assert!(tables.iter().any(|t| t == "app_notes"), "{tables:?}");
    assert!(
        db.catalog()
            .await?
            .contains(&"column fullauth_users.display_name TEXT".to_string())
    );
    assert!(db.migrator().status(core()).await?.is_up_to_date());
    // The store sees the app's column.
    let store = db.store(core()).await?;
    let u = store
        .create_user(
            NewUser::new(format!("app-{}@example.test", uuid::Uuid::new_v4()))?
                .with_extra("display_name", "Ada")?,
        )
        .await?;
    assert_eq!(
        u.extra_field::<String>("display_name")?.as_deref(),
        Some("Ada")
    );
    // Inside the app's transaction again: nothing to do.
    assert!(
        db.apply_in_app_transaction("", core(), "", true)
            .await?
            .is_empty()
    );
    db.close().await;
    Ok(())
}

/// The same transaction rolled back by the app: nothing of ours remains.
/// (Without transactional DDL the rollback cannot undo the tables: what
/// was applied stays, recorded, so the status tells the truth.)
pub async fn apply_inside_the_app_transaction_rolls_back_with_it(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let applied = db
        .apply_in_app_transaction(APP_BEFORE, core(), APP_AFTER, false)
        .await?;
    assert_eq!(applied, ids(core()));
    if !h.dialect().transactional_ddl() {
        let tables = db.tables().await?;
        assert!(tables.iter().any(|t| t == "fullauth_users"), "{tables:?}");
        assert!(db.migrator().status(core()).await?.is_up_to_date());
        db.close().await;
        return Ok(());
    }
    assert!(db.tables().await?.is_empty(), "{:?}", db.tables().await?);
    assert_eq!(
        state(&db.migrator().status(core()).await?, Feature::Core),
        FeatureState::Absent
    );
    db.close().await;
    Ok(())
}

/// The app's migration after ours fails: the whole transaction, ours
/// included, is undone.
pub async fn a_failing_app_migration_after_ours_undoes_ours(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let r = db
        .apply_in_app_transaction(
            APP_BEFORE,
            core(),
            "ALTER TABLE fullauth_no_such_table ADD COLUMN x TEXT",
            true,
        )
        .await;
    assert!(r.is_err(), "{r:?}");
    if h.dialect().transactional_ddl() {
        assert!(db.tables().await?.is_empty(), "{:?}", db.tables().await?);
    } else {
        // DDL commits implicitly: ours stays, and is recorded.
        assert!(db.migrator().status(core()).await?.is_up_to_date());
    }
    // A refusal of ours inside the app's transaction leaves it usable.
    let fixture = with_fixture(&h, &FastapiFullauth::V0_18.ddl(h.dialect())).await?;
    let r = fixture
        .apply_in_app_transaction(APP_BEFORE, core(), "", true)
        .await;
    assert!(matches!(refusal(r), MigrationRefusal::Unrecorded { .. }));
    // Without transactional DDL the app's own CREATE TABLE committed itself.
    assert_eq!(
        fixture.tables().await?.iter().any(|t| t == "app_notes"),
        !h.dialect().transactional_ddl()
    );
    db.close().await;
    fixture.close().await;
    Ok(())
}

/// The exported script builds what apply builds and records it.
pub async fn export_sql_builds_what_apply_builds(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    let script = m.export_sql(Features::all())?;
    assert!(script.contains("BEGIN;") && script.contains("COMMIT;"));
    db.execute(&script).await?;
    let s = m.status(Features::all()).await?;
    assert!(s.is_up_to_date(), "{s:?}");
    assert_eq!(s.applied.len(), CATALOG.len());
    assert_eq!(
        db.catalog().await?,
        applied_catalog(&h, Features::all()).await?
    );
    // Core only: the roles tables are not in it.
    assert!(!m.export_sql(core())?.contains("fullauth_roles"));
    db.close().await;
    Ok(())
}

/// The sqlx-cli files, run in version order each in its transaction (as
/// sqlx does), build what apply builds and record it; the app's own file
/// after ours alters `fullauth_users`.
pub async fn export_sqlx_files_build_what_apply_builds(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    let mut files = m.export_sqlx(Features::all(), 0)?;
    assert_eq!(files.len(), CATALOG.len());
    files.sort_by_key(|f| f.version);
    for f in &files {
        assert!(
            !f.sql.lines().any(|l| l == "BEGIN;" || l == "COMMIT;"),
            "{}: the tool wraps each file in its transaction",
            f.id
        );
        db.execute(&format!("BEGIN;\n{}\nCOMMIT;", f.sql)).await?;
    }
    // The app's migration, versioned after ours.
    db.execute(&format!("BEGIN;\n{APP_AFTER};\nCOMMIT;"))
        .await?;
    let s = m.status(Features::all()).await?;
    assert!(s.is_up_to_date(), "{s:?}");
    let mut fresh = applied_catalog(&h, Features::all()).await?;
    fresh.push("column fullauth_users.display_name TEXT".into());
    fresh.sort();
    assert_eq!(db.catalog().await?, fresh);
    db.close().await;
    Ok(())
}

/// Versions are base + catalogue sequence: sorted, stable across exports,
/// the file names sqlx-cli expects.
pub async fn export_sqlx_versions_are_stable_and_sorted(
    h: Arc<dyn MigrationHarness>,
) -> MigrationCaseResult {
    let db = h.fresh().await?;
    let m = db.migrator();
    let a = m.export_sqlx(Features::all(), 20_240_601_000_000)?;
    let b = m.export_sqlx(Features::all(), 20_240_601_000_000)?;
    assert_eq!(a, b);
    let versions: Vec<i64> = a.iter().map(|f| f.version).collect();
    let expected: Vec<i64> = CATALOG
        .iter()
        .map(|e| 20_240_601_000_000 + i64::from(e.sequence))
        .collect();
    assert_eq!(versions, expected);
    assert_eq!(
        a[0].file_name(),
        "20240601000001_fullauth_core_0001_users.sql"
    );
    // A subset keeps each migration's version.
    let roles = m.export_sqlx(core_roles(), 20_240_601_000_000)?;
    assert_eq!(roles.last().map(|f| f.version), Some(20_240_601_000_004));
    assert_eq!(roles.last().map(|f| f.sql.clone()), Some(a[3].sql.clone()));
    assert!(matches!(
        m.export_sqlx(core(), -1),
        Err(StoreError::InvalidInput { .. })
    ));
    db.close().await;
    Ok(())
}
