//! The main job of fullauth on the embedded default, end to end:
//!
//! ```sh
//! cargo run -p fullauth-sqlite --example quickstart            # ./fullauth.db
//! cargo run -p fullauth-sqlite --example quickstart -- my.db   # another file
//! cargo run -p fullauth-sqlite --example quickstart -- sqlite://my.db   # as a URL
//! ```
//!
//! Opens the database file, migrates every feature, creates a user with an
//! argon2id hash, verifies the password, stores and rotates a refresh token,
//! replays the old one (reuse detection revokes the whole session), grants a
//! role and a permission and lists the sessions — printing each step. It can
//! run again and again on the same file: each run signs up a new email.

use std::time::Duration;

use fullauth_api::{
    ClientInfo, FamilyId, Features, NewRefreshToken, NewUser, NextRefreshToken, PasswordHasher,
    PermissionStore, RefreshTokenStore, RoleStore, Rotation, Timestamp, TokenDigest, UserStore,
};
use fullauth_sqlite::SqliteStore;

/// A random bearer token, as a JWT library would mint (only its digest is
/// stored).
fn mint() -> String {
    format!(
        "refresh.{}.{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fullauth.db".to_string());

    // A plain path or a URL: sqlite://fullauth.db
    let store = SqliteStore::connect(&path).await?;
    println!("1. opened {path} (SQLite, WAL, no server)");

    let applied = store.migrate().await?;
    let status = store.migrator().status(Features::all()).await?;
    println!(
        "2. migrated every feature: {} migration(s) applied now, {} recorded, up to date: {}",
        applied.len(),
        status.applied.len(),
        status.is_up_to_date()
    );

    let hasher = PasswordHasher::default();
    let email = format!(
        "ada-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = "correct horse battery staple";
    let hash = hasher.hash(password).await?;
    let user = store
        .create_user(NewUser::new(&email)?.with_password_hash(hash))
        .await?;
    println!(
        "3. created user {} <{}> with an argon2id hash",
        user.id, user.email
    );

    let stored = store
        .get_password_hash(&user.id)
        .await?
        .ok_or("the user has no password")?;
    let good = hasher.verify(password, &stored).await?;
    let bad = hasher.verify("Tr0ub4dor&3", &stored).await?;
    println!("4. password check: right password -> {good}, wrong password -> {bad}");

    let client = ClientInfo::new(Some("quickstart/1.0 (curl-like)"), Some("127.0.0.1"));
    let first = mint();
    let token = store
        .store_refresh_token(NewRefreshToken {
            digest: TokenDigest::of(&first),
            user_id: user.id.clone(),
            family_id: FamilyId::generate(),
            expires_at: Timestamp::now() + Duration::from_secs(30 * 24 * 3600),
            client: client.clone(),
        })
        .await?;
    println!(
        "5. signed in: refresh token stored as its digest {}…, session {}",
        &token.digest.as_str()[..16],
        token.family_id
    );

    let second = mint();
    let next = |raw: &str| NextRefreshToken {
        digest: TokenDigest::of(raw),
        expires_at: Timestamp::now() + Duration::from_secs(30 * 24 * 3600),
        client: client.clone(),
    };
    match store
        .rotate_refresh_token(&TokenDigest::of(&first), next(&second))
        .await?
    {
        Rotation::Rotated(t) => println!(
            "6. rotated: the old token is revoked, the new one ({}…) continues session {}",
            &t.digest.as_str()[..16],
            t.family_id
        ),
        other @ (Rotation::Reused { .. } | Rotation::Expired | Rotation::NotFound) => {
            return Err(format!("unexpected rotation: {other:?}").into());
        }
    }

    match store
        .rotate_refresh_token(&TokenDigest::of(&first), next(&mint()))
        .await?
    {
        Rotation::Reused { family_id, .. } => {
            let successor = store
                .get_refresh_token(&TokenDigest::of(&second))
                .await?
                .ok_or("the rotated token vanished")?;
            println!(
                "7. replayed the old token: reuse detected, session {family_id} revoked \
                 (the successor token is revoked too: {})",
                successor.revoked
            );
        }
        other @ (Rotation::Rotated(_) | Rotation::Expired | Rotation::NotFound) => {
            return Err(format!("replay was not detected: {other:?}").into());
        }
    }

    let editor = "editor".parse()?;
    store
        .assign_permission(&editor, &"posts:edit".parse()?)
        .await?;
    store.assign_role(&user.id, &editor).await?;
    let roles: Vec<String> = store
        .get_user_roles(&user.id)
        .await?
        .into_iter()
        .map(|r| r.into_string())
        .collect();
    let permissions: Vec<String> = store
        .get_user_permissions(&user.id)
        .await?
        .into_iter()
        .map(|p| p.into_string())
        .collect();
    println!("8. granted roles {roles:?}, which carry the permissions {permissions:?}");

    println!(
        "9. sessions after the replay: {}",
        store.list_sessions(&user.id).await?.len()
    );
    store
        .store_refresh_token(NewRefreshToken {
            digest: TokenDigest::of(&mint()),
            user_id: user.id.clone(),
            family_id: FamilyId::generate(),
            expires_at: Timestamp::now() + Duration::from_secs(30 * 24 * 3600),
            client: client.clone(),
        })
        .await?;
    for s in store.list_sessions(&user.id).await? {
        println!(
            "   signed in again -> session {} from {} ({}), last used {}, expires {}",
            s.family_id,
            s.ip_address.as_deref().unwrap_or("?"),
            s.user_agent.as_deref().unwrap_or("?"),
            s.last_used_at,
            s.expires_at
        );
    }
    println!("done: everything above is in {path}");
    Ok(())
}
