//! The memory backend's hot paths on one core (`cargo bench -p
//! fullauth-memory`): a user by id, a user's permissions and the principal
//! (the reads of every request guard and login), and a write inside a
//! transaction, each on a small and a large data set. The transaction
//! write shows what a transaction's first write to a table costs as the
//! table grows.
//!
//! Every call goes through the public async API and is driven to completion
//! on a current-thread Tokio runtime, as an application would call it.

use std::time::Duration;

use divan::Bencher;
use fullauth_api::{
    DurableStore, FamilyId, NewRefreshToken, NewUser, PermissionName, PermissionStore,
    RefreshTokenStore, RoleName, RoleStore, Timestamp, TokenDigest, UserId, UserLookup, UserStore,
};
use fullauth_memory::MemoryStore;
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

/// A store with `users` users, each with one of 10 roles (5 permissions
/// each) and one refresh token, and the id of one of them.
struct Fixture {
    rt: Runtime,
    store: MemoryStore,
    user: UserId,
}

fn fixture(users: usize) -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = MemoryStore::new();
    let user = rt.block_on(async {
        let roles: Vec<RoleName> = (0..10)
            .map(|r| RoleName::new(format!("role-{r}")).expect("a role name"))
            .collect();
        for (r, role) in roles.iter().enumerate() {
            for p in 0..5 {
                let perm = PermissionName::new(format!("res{r}:act{p}")).expect("a name");
                store.assign_permission(role, &perm).await.expect("grant");
            }
        }
        let mut last = None;
        for i in 0..users {
            let u = store
                .create_user(NewUser::new(format!("u{i}@example.test")).expect("an email"))
                .await
                .expect("create");
            store
                .assign_role(&u.id, &roles[i % roles.len()])
                .await
                .expect("assign");
            store
                .store_refresh_token(token(u.id.clone()))
                .await
                .expect("token");
            last = Some(u.id);
        }
        last.expect("at least one user")
    });
    Fixture { rt, store, user }
}

fn token(user: UserId) -> NewRefreshToken {
    NewRefreshToken {
        digest: TokenDigest::of(&uuid::Uuid::new_v4().to_string()),
        user_id: user,
        family_id: FamilyId::generate(),
        expires_at: Timestamp::now() + Duration::from_secs(3600),
        client: Default::default(),
    }
}

const SIZES: [usize; 2] = [1_000, 100_000];

#[divan::bench(args = SIZES)]
fn get_user_by_id(b: Bencher, users: usize) {
    let f = fixture(users);
    b.bench_local(|| f.rt.block_on(f.store.get_user(&f.user)).expect("get"));
}

#[divan::bench(args = SIZES)]
fn get_user_permissions(b: Bencher, users: usize) {
    let f = fixture(users);
    b.bench_local(|| {
        f.rt.block_on(f.store.get_user_permissions(&f.user))
            .expect("permissions")
    });
}

#[divan::bench(args = SIZES)]
fn get_principal_by_id(b: Bencher, users: usize) {
    let f = fixture(users);
    let lookup = UserLookup::Id(f.user);
    b.bench_local(|| {
        f.rt.block_on(f.store.get_principal(&lookup))
            .expect("principal")
    });
}

/// begin, store one refresh token, rollback: the cost of a transaction's
/// first write to the token table.
#[divan::bench(args = SIZES, sample_count = 30)]
fn transaction_write(b: Bencher, users: usize) {
    let f = fixture(users);
    b.bench_local(|| {
        f.rt.block_on(async {
            let tx = f.store.begin().await.expect("begin");
            tx.store_refresh_token(token(f.user.clone()))
                .await
                .expect("store");
            tx.rollback().await.expect("rollback");
        })
    });
}
