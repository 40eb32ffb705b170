//! The flow cases on SQLite: one temporary database per case, serving every
//! feature (the short-lived ones in its own tables), on the system clock.

mod common;

use std::sync::Arc;

use fullauth_api::{Features, Store, StoreInfo};
use fullauth_sqlite::SqliteStore;

async fn store() -> Option<Arc<dyn Store>> {
    let store = SqliteStore::builder()
        .migrate(true)
        .open_temporary()
        .await
        .expect("a temporary database");
    assert_eq!(store.features(), Features::all());
    Some(Arc::new(store))
}

flow_cases!(store);
