//! The whole conformance suite on a database adopted from fastapi-fullauth
//! 0.13: the layout of a database that went through old releases
//! ([`FastapiFullauth::Legacy`]: the 0.13 refresh tokens without
//! `user_agent` / `ip_address`, the OAuth table without
//! `uq_oauth_provider_user`, a passkeys foreign key without `ON DELETE
//! CASCADE`, no 0.17 indexes, no `fullauth_mfa`), created through a plain
//! connection as fastapi-fullauth would, then adopted by the migrator, with
//! the suite's three app columns added afterwards. Whatever the adoption
//! fails to bring up to the fresh schema (a missing cascade, a constraint)
//! shows up as a failing case here.
//!
//! Every case gets its own temporary database file and manual clock, as in
//! `tests/conformance.rs`.

use std::sync::Arc;

use fullauth_api::{Clock, Features, Timestamp};
use fullauth_conformance::migrations::Dialect;
use fullauth_conformance::migrations::fixtures::FastapiFullauth;
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_sqlite::SqliteStore;

/// A temporary database in the adopted 0.13 layout on a manual clock, with
/// the three nullable app columns the suite's app-column cases use.
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = SqliteStore::builder()
        .clock(clock.clone())
        .open_temporary()
        .await
        .expect("open a temporary database");
    let ddl = FastapiFullauth::Legacy.ddl(Dialect::Sqlite);
    store
        .with_connection(move |c| c.execute_batch(&ddl))
        .await
        .expect("create the fastapi-fullauth 0.13 layout");
    let report = store
        .migrator()
        .adopt(Features::all())
        .await
        .expect("adopt the 0.13 database");
    assert!(
        report
            .adopted
            .contains(&"core_0002_refresh_tokens".to_string()),
        "{report:?}"
    );
    let status = store
        .migrator()
        .status(Features::all())
        .await
        .expect("the migration status");
    assert!(status.is_up_to_date(), "{status:?}");
    store
        .with_connection(|c| {
            c.execute_batch(
                "ALTER TABLE fullauth_users ADD COLUMN display_name TEXT;
                 ALTER TABLE fullauth_users ADD COLUMN newsletter BOOLEAN;
                 ALTER TABLE fullauth_users ADD COLUMN login_count INTEGER;",
            )
        })
        .await
        .expect("add the app columns");
    Subject::new(Arc::new(store))
        .with_clock(clock)
        .with_app_column("display_name", ColumnKind::Text)
        .with_app_column("newsletter", ColumnKind::Boolean)
        .with_app_column("login_count", ColumnKind::Integer)
}

conformance_tests!(subject);
