// conformance-group: requires = [Core]
//! Users: creation, lookups, updates, deletion, application columns.

use std::time::Duration;

use fullauth_api::user::{PROTECTED_FIELDS, check_field_name};
use fullauth_api::{
    ConflictKind, Email, FamilyId, Entity, ExtraFields, HashedPassword, NewUser, StoreError, UserId, UserIdType,
    UserLookup, UserPatch,
};

use super::*;
use crate::CaseResult;

/// The value of text column `col` of a user, or `None` when absent or NULL.
fn text(u: &fullauth_api::User, col: &str) -> Option<String> {
    u.extra_field::<String>(col).ok().flatten()
}

/// A patch that sets the text column `col`.
fn rename(col: &str, value: &str) -> Result<UserPatch, StoreError> {
    UserPatch::new().with_extra(col, value)
}

/// A patch that sets the subject's text column when it declares one, else an
/// empty patch (for cases where the column is incidental).
fn rename_if_declared(s: &Subject, value: &str) -> Result<UserPatch, StoreError> {
    match s.app_column(crate::ColumnKind::Text) {
        Some(col) => rename(col, value),
        None => Ok(UserPatch::new()),
    }
}

/// Reference 1: the created user has its email and default flags and is found by id.
pub async fn create_and_get_user(s: Subject) -> CaseResult {
    let email = email();
    let u = s.store.create_user(NewUser::new(email.as_str())?).await?;
    assert_eq!(u.email, email);
    assert!(u.is_active && !u.is_verified && !u.is_superuser);
    let got = s
        .store
        .get_user(&u.id)
        .await?
        .expect("created user is found by id");
    assert_eq!(got, u);
    Ok(())
}

/// Reference 2: privileged fields are refused through the extra map and the flags stay default.
pub async fn privileged_fields_cannot_be_set_through_extra(s: Subject) -> CaseResult {
    for name in PROTECTED_FIELDS {
        let mut extra = ExtraFields::new();
        let r = extra.insert(name, true);
        assert!(
            matches!(r, Err(StoreError::ProtectedField { ref field, .. }) if field == name),
            "ExtraFields::insert({name:?}) gave {r:?}"
        );
        assert!(
            matches!(
                check_field_name(name),
                Err(StoreError::ProtectedField { .. })
            ),
            "{name} must be protected"
        );
    }
    for name in ["hashed_password", "created_at", "roles"] {
        let r = UserLookup::parse(name, "x");
        assert!(
            matches!(r, Err(StoreError::ProtectedField { .. })),
            "UserLookup::parse({name:?}) gave {r:?}"
        );
    }
    let hash = HashedPassword::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")?;
    let new = NewUser::new(email().as_str())?.with_password_hash(hash.clone());
    assert!(new.clone().with_extra("is_superuser", true).is_err());
    assert!(new.clone().with_extra("hashed_password", "evil").is_err());
    let u = s.store.create_user(new).await?;
    assert!(u.is_active && !u.is_verified && !u.is_superuser);
    assert!(
        u.extra.names().all(|n| !PROTECTED_FIELDS.contains(&n)),
        "extra must not carry protected columns: {:?}",
        u.extra
    );
    assert_eq!(s.store.get_password_hash(&u.id).await?, Some(hash));
    Ok(())
}

/// Reference 3: lookup by email finds the user, an unknown email gives None.
pub async fn get_user_by_email(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let got = s.store.get_user_by_email(&u.email).await?;
    assert_eq!(got.as_ref().map(|g| g.id.clone()), Some(u.id));
    assert!(s.store.get_user_by_email(&email()).await?.is_none());
    Ok(())
}

/// Reference 4: a second create with the same email is a Conflict on Email.
pub async fn create_duplicate_email_conflicts(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let again = s.store.create_user(NewUser::new(u.email.as_str())?).await;
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                what: ConflictKind::Email,
                ..
            })
        ),
        "got {again:?}"
    );
    Ok(())
}

/// Reference 5: a padded, mixed-case email is stored normalised and found with any case or padding.
pub async fn email_is_normalised_on_create_and_lookup(s: Subject) -> CaseResult {
    let t = tag();
    let raw = format!("  Alice-{t}@Example.COM  ");
    let u = s.store.create_user(NewUser::new(&raw)?).await?;
    let normal = format!("alice-{t}@example.com");
    assert_eq!(u.email.as_str(), normal);
    for probe in [
        normal.clone(),
        format!("ALICE-{}@EXAMPLE.COM", t.to_uppercase()),
        format!("\t alice-{t}@example.com \n"),
    ] {
        let got = s.store.get_user_by_email(&Email::new(&probe)?).await?;
        assert_eq!(got.map(|g| g.id), Some(u.id.clone()), "lookup with {probe:?}");
    }
    let stored = s.store.get_user(&u.id).await?.expect("user exists");
    assert_eq!(
        stored.email.as_str(),
        normal,
        "the stored email is normalised"
    );
    Ok(())
}

/// Reference 5: a differently cased and padded duplicate email is a Conflict on Email.
pub async fn duplicate_email_differently_cased_conflicts(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let shouted = format!("  {}  ", u.email.as_str().to_uppercase());
    let again = s.store.create_user(NewUser::new(&shouted)?).await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
        "got {again:?}"
    );
    Ok(())
}

/// Non-ASCII emails are lowercased with Unicode rules and found again in any case.
pub async fn unicode_email_is_normalised(s: Subject) -> CaseResult {
    let t = tag();
    let u = s
        .store
        .create_user(NewUser::new(format!("ÉLODIE-{t}@ÜBER.TEST"))?)
        .await?;
    assert_eq!(u.email.as_str(), format!("élodie-{t}@über.test"));
    let got = s
        .store
        .get_user_by_email(&Email::new(format!("Élodie-{t}@Über.test"))?)
        .await?;
    assert_eq!(got.map(|g| g.id), Some(u.id));
    Ok(())
}

/// Unknown ids give None, not an error.
pub async fn get_unknown_user_is_none(s: Subject) -> CaseResult {
    assert!(s.store.get_user(&ghost_user(&s)).await?.is_none());
    Ok(())
}

/// Reference 6: get_user_by_field on email normalises the value and finds the user.
pub async fn get_user_by_field_email(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let l = UserLookup::parse("email", format!(" {} ", u.email.as_str().to_uppercase()))?;
    let got = s.store.get_user_by_field(&l).await?;
    assert_eq!(got.map(|g| g.id), Some(u.id));
    let none = UserLookup::parse("email", email().as_str())?;
    assert!(s.store.get_user_by_field(&none).await?.is_none());
    Ok(())
}

/// get_user_by_field on id finds the user (hyphenated and simple forms); an unknown id gives None.
pub async fn get_user_by_field_id(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let hyphenated = UserLookup::parse_for(id_type(&s), "id", u.id.to_string())?;
    assert_eq!(
        s.store.get_user_by_field(&hyphenated).await?.map(|g| g.id),
        Some(u.id.clone())
    );
    let simple = u.id.to_string().replace('-', "");
    let simple = UserLookup::parse_for(id_type(&s), "id", simple)?;
    assert_eq!(
        s.store.get_user_by_field(&simple).await?.map(|g| g.id),
        Some(u.id)
    );
    let unknown = UserLookup::Id(ghost_user(&s));
    assert!(s.store.get_user_by_field(&unknown).await?.is_none());
    Ok(())
}

/// get_user_by_field on a flag returns a user whose flag has that value.
pub async fn get_user_by_field_flags(s: Subject) -> CaseResult {
    let mut new = NewUser::new(email().as_str())?;
    new.is_active = false;
    new.is_verified = true;
    new.is_superuser = true;
    s.store.create_user(new).await?;
    let inactive = s
        .store
        .get_user_by_field(&UserLookup::parse("is_active", false)?)
        .await?
        .expect("an inactive user exists");
    assert!(!inactive.is_active, "got {inactive:?}");
    let verified = s
        .store
        .get_user_by_field(&UserLookup::parse("is_verified", true)?)
        .await?
        .expect("a verified user exists");
    assert!(verified.is_verified, "got {verified:?}");
    let admin = s
        .store
        .get_user_by_field(&UserLookup::IsSuperuser(true))
        .await?
        .expect("a superuser exists");
    assert!(admin.is_superuser, "got {admin:?}");
    Ok(())
}

/// get_user_by_field on the text app column finds the user; another value gives None.
pub async fn get_user_by_field_app_column(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let name = format!("Ada {}", tag());
    let u = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, name.as_str())?)
        .await?;
    let got = s
        .store
        .get_user_by_field(&UserLookup::parse(&col, name.as_str())?)
        .await?;
    assert_eq!(got.map(|g| g.id), Some(u.id));
    let other = UserLookup::parse(&col, format!("Ada {}", tag()))?;
    assert!(s.store.get_user_by_field(&other).await?.is_none());
    Ok(())
}

/// get_user_by_field returns the oldest of several matching users.
pub async fn get_user_by_field_returns_oldest_match(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let name = format!("twin {}", tag());
    let first = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, name.as_str())?)
        .await?;
    s.clock.advance(Duration::from_millis(5)).await;
    let second = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, name.as_str())?)
        .await?;
    assert!(second.created_at > first.created_at);
    let got = s
        .store
        .get_user_by_field(&UserLookup::parse(&col, name.as_str())?)
        .await?;
    assert_eq!(got.map(|g| g.id), Some(first.id));
    Ok(())
}

/// Reference 7 (adapted): a lookup by a column the table does not have is UnknownField.
pub async fn get_user_by_unknown_field(s: Subject) -> CaseResult {
    let l = UserLookup::parse("no_such_column", "x")?;
    let r = s.store.get_user_by_field(&l).await;
    assert!(
        matches!(r, Err(StoreError::UnknownField { ref field, .. }) if field == "no_such_column"),
        "got {r:?}"
    );
    Ok(())
}

/// Reference 8: updating the text app column returns the user with its email unchanged.
pub async fn update_user_app_column(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let u = user(&s).await?;
    let updated = s
        .store
        .update_user(&u.id, rename(&col, "Grace Hopper")?)
        .await?;
    assert_eq!(updated.id, u.id);
    assert_eq!(updated.email, u.email);
    assert_eq!(text(&updated, &col).as_deref(), Some("Grace Hopper"));
    let stored = s.store.get_user(&u.id).await?.expect("user exists");
    assert_eq!(stored, updated, "get_user sees what update_user returned");
    Ok(())
}

/// update_user writes the flags it is given and leaves the others alone.
pub async fn update_user_flags(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let mut p = UserPatch::new();
    p.is_active = Some(false);
    p.is_superuser = Some(true);
    let updated = s.store.update_user(&u.id, p).await?;
    assert!(!updated.is_active && updated.is_superuser && !updated.is_verified);
    assert_eq!(updated.created_at, u.created_at);
    assert_eq!(s.store.get_user(&u.id).await?, Some(updated));
    Ok(())
}

/// update_user changes the email: the new one is found, the old one no longer is.
pub async fn update_user_email(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let t = tag();
    let mut p = UserPatch::new();
    p.email = Some(Email::new(format!("  Moved-{t}@Example.TEST "))?);
    let updated = s.store.update_user(&u.id, p).await?;
    let normal = format!("moved-{t}@example.test");
    assert_eq!(updated.email.as_str(), normal);
    let found = s.store.get_user_by_email(&Email::new(&normal)?).await?;
    assert_eq!(found.map(|f| f.id), Some(u.id));
    assert!(s.store.get_user_by_email(&u.email).await?.is_none());
    Ok(())
}

/// update_user to another user's email is a Conflict on Email and writes nothing (neither
/// the flag nor the text app column, when the subject declares one).
pub async fn update_user_email_conflict_leaves_user_unchanged(s: Subject) -> CaseResult {
    let a = user(&s).await?;
    let b = user(&s).await?;
    let mut p = rename_if_declared(&s, "should not be written")?;
    p.email = Some(Email::new(b.email.as_str().to_uppercase())?);
    p.is_superuser = Some(true);
    let r = s.store.update_user(&a.id, p).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
        "got {r:?}"
    );
    assert_eq!(s.store.get_user(&a.id).await?, Some(a));
    assert_eq!(s.store.get_user(&b.id).await?, Some(b));
    Ok(())
}

/// Setting a user's email to its own current email is not a conflict (the
/// other changes of the patch are written).
pub async fn update_user_to_own_email_is_not_a_conflict(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let mut p = rename_if_declared(&s, "same email")?;
    p.email = Some(u.email.clone());
    p.is_verified = Some(true);
    let updated = s.store.update_user(&u.id, p).await?;
    assert_eq!(updated.email, u.email);
    assert!(updated.is_verified);
    if let Some(col) = s.app_column(crate::ColumnKind::Text) {
        assert_eq!(text(&updated, col).as_deref(), Some("same email"));
    }
    Ok(())
}

/// An empty patch writes nothing and returns the current row.
pub async fn update_user_empty_patch_returns_current(s: Subject) -> CaseResult {
    let mut new = NewUser::new(email().as_str())?;
    new.is_verified = true;
    if let Some(col) = s.app_column(crate::ColumnKind::Text) {
        new = new.with_extra(col, "kept")?;
    }
    let u = s.store.create_user(new).await?;
    let same = s.store.update_user(&u.id, UserPatch::new()).await?;
    assert_eq!(same, u);
    Ok(())
}

/// Updating an unknown user is NotFound.
pub async fn update_unknown_user_not_found(s: Subject) -> CaseResult {
    let mut p = UserPatch::new();
    p.is_active = Some(false);
    let r = s.store.update_user(&ghost_user(&s), p).await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {r:?}"
    );
    let r = s
        .store
        .update_user(&ghost_user(&s), UserPatch::new())
        .await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "an empty patch of an unknown user is NotFound too, got {r:?}"
    );
    Ok(())
}

/// A patch with an unknown column is UnknownField and writes none of its other changes.
pub async fn update_user_unknown_column_writes_nothing(s: Subject) -> CaseResult {
    let mut new = NewUser::new(email().as_str())?;
    if let Some(col) = s.app_column(crate::ColumnKind::Text) {
        new = new.with_extra(col, "before")?;
    }
    let u = s.store.create_user(new).await?;
    let mut p = rename_if_declared(&s, "after")?.with_extra("no_such_column", 1)?;
    p.is_active = Some(false);
    let r = s.store.update_user(&u.id, p).await;
    assert!(
        matches!(r, Err(StoreError::UnknownField { ref field, .. }) if field == "no_such_column"),
        "got {r:?}"
    );
    assert_eq!(s.store.get_user(&u.id).await?, Some(u));
    Ok(())
}

/// Reference 9: delete answers true, the user is gone, a second delete answers false.
pub async fn delete_user_is_idempotent(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    assert!(s.store.delete_user(&u.id).await?);
    assert!(s.store.get_user(&u.id).await?.is_none());
    assert!(s.store.get_user_by_email(&u.email).await?.is_none());
    assert!(!s.store.delete_user(&u.id).await?, "second delete");
    assert!(
        !s.store.delete_user(&ghost_user(&s)).await?,
        "unknown id"
    );
    Ok(())
}

/// Deleting one user leaves other users in place.
pub async fn delete_user_leaves_others(s: Subject) -> CaseResult {
    let a = user(&s).await?;
    let b = user(&s).await?;
    assert!(s.store.delete_user(&a.id).await?);
    assert_eq!(s.store.get_user(&b.id).await?, Some(b));
    Ok(())
}

/// A deleted user's email can be registered again, as a new user (on an
/// integer-keyed store the database may give it the deleted user's id, as
/// SQLite's rowid does; it is still a new user, with a new creation time).
pub async fn deleted_email_can_be_reused(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    assert!(s.store.delete_user(&u.id).await?);
    let again = s.store.create_user(NewUser::new(u.email.as_str())?).await?;
    if id_type(&s) != UserIdType::Int {
        assert_ne!(again.id, u.id);
    }
    assert_eq!(s.store.get_user(&again.id).await?, Some(again));
    Ok(())
}

/// create_user with an explicit id stores that id (UUID and text keys); an
/// integer-keyed store, whose ids come from the database, refuses it with
/// InvalidInput and stores nothing.
pub async fn create_user_with_explicit_id(s: Subject) -> CaseResult {
    if id_type(&s) == UserIdType::Int {
        let e = email();
        let mut new = NewUser::new(e.as_str())?;
        new.id = Some(ghost_user(&s));
        let r = s.store.create_user(new).await;
        assert!(
            matches!(&r, Err(StoreError::InvalidInput { field, .. }) if *field == "user_id"),
            "got {r:?}"
        );
        assert!(s.store.get_user_by_email(&e).await?.is_none());
        return Ok(());
    }
    let id = ghost_user(&s);
    let mut new = NewUser::new(email().as_str())?;
    new.id = Some(id.clone());
    let u = s.store.create_user(new).await?;
    assert_eq!(u.id, id);
    assert_eq!(s.store.get_user(&id).await?.map(|g| g.email), Some(u.email));
    Ok(())
}

/// create_user with an id that is taken is a Conflict on UserId and stores
/// nothing. On an integer-keyed store, which takes no id, a user created
/// after a delete is a new user even when the database gives it the deleted
/// user's id (SQLite's rowid does, PostgreSQL's sequence does not): nothing
/// of the deleted user — its password, its sessions — carries over.
pub async fn create_user_duplicate_id_conflicts(s: Subject) -> CaseResult {
    if id_type(&s) == UserIdType::Int {
        let a = user(&s).await?;
        s.store
            .set_password_hash(&a.id, Some(HashedPassword::new("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")?))
            .await?;
        s.store
            .store_refresh_token(token(&a.id, &FamilyId::generate(), in_secs(&s, 3600)))
            .await?;
        assert!(s.store.delete_user(&a.id).await?);
        let b = user(&s).await?;
        assert!(s.store.get_password_hash(&b.id).await?.is_none());
        assert!(s.store.list_sessions(&b.id).await?.is_empty());
        assert_eq!(s.store.get_user(&b.id).await?.map(|u| u.email), Some(b.email));
        return Ok(());
    }
    let u = user(&s).await?;
    let other = email();
    let mut new = NewUser::new(other.as_str())?;
    new.id = Some(u.id.clone());
    let r = s.store.create_user(new).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::UserId)),
        "got {r:?}"
    );
    assert!(s.store.get_user_by_email(&other).await?.is_none());
    assert_eq!(s.store.get_user(&u.id).await?, Some(u));
    Ok(())
}

/// Generated ids are distinct, of the store's key type, and round-trip
/// through their text form (the JWT `sub`) parsed with that type: UUIDv7s on
/// a UUID-keyed store, increasing integers on an integer-keyed one, 32 hex
/// characters on a text-keyed one.
pub async fn generated_ids_are_uuid_v7(s: Subject) -> CaseResult {
    let a = user(&s).await?;
    let b = user(&s).await?;
    assert_ne!(a.id, b.id);
    for u in [&a, &b] {
        assert_eq!(u.id.id_type(), id_type(&s), "{:?}", u.id);
        assert_eq!(id_type(&s).parse(&u.id.to_string())?, u.id);
        match id_type(&s) {
            UserIdType::Uuid => {
                let uuid = u.id.as_uuid().expect("a UUID key");
                assert_eq!(uuid.get_version_num(), 7, "{} is not a UUIDv7", u.id);
            }
            UserIdType::Int => assert!(u.id.as_int().expect("an integer key") > 0),
            UserIdType::Text => {
                let t = u.id.as_text().expect("a text key");
                assert!(t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()), "{t}");
            }
        }
    }
    if let (Some(x), Some(y)) = (a.id.as_int(), b.id.as_int()) {
        assert!(y > x, "a later user has a greater integer id ({x}, then {y})");
    }
    Ok(())
}

/// A text-keyed store keeps the id as given, any characters included, finds
/// the user by it and by no other spelling, and refuses an empty id with
/// InvalidInput. (A UUID-keyed store keeps a given UUID of any version; an
/// integer-keyed store takes no id, see `create_user_with_explicit_id`.)
pub async fn text_ids_are_kept_as_given(s: Subject) -> CaseResult {
    match id_type(&s) {
        UserIdType::Text => {}
        UserIdType::Uuid => {
            let id = UserId::from_uuid(uuid::Uuid::new_v4());
            let mut new = NewUser::new(email().as_str())?;
            new.id = Some(id.clone());
            assert_eq!(s.store.create_user(new).await?.id, id);
            assert_eq!(s.store.get_user(&id).await?.map(|g| g.id), Some(id));
            return Ok(());
        }
        UserIdType::Int => {
            // The id is kept as the store gave it: its text form (the JWT
            // `sub`) finds the user, other spellings of the number are refused.
            let u = user(&s).await?;
            let text = u.id.to_string();
            let found = s.store.get_user(&UserIdType::Int.parse(&text)?).await?;
            assert_eq!(found.map(|g| g.id), Some(u.id));
            for other in [format!("+{text}"), format!("0{text}"), format!(" {text}")] {
                assert!(UserIdType::Int.parse(&other).is_err(), "{other:?}");
            }
            return Ok(());
        }
    }
    for raw in [
        format!("42-{}", tag()),
        format!("Ünïcode key '\"; -- {}", tag()),
        format!(" padded {} ", tag()),
    ] {
        let id = UserIdType::Text.parse(&raw)?;
        let mut new = NewUser::new(email().as_str())?;
        new.id = Some(id.clone());
        let u = s.store.create_user(new).await?;
        assert_eq!(u.id.as_text(), Some(raw.as_str()));
        assert_eq!(s.store.get_user(&id).await?.map(|g| g.id), Some(id.clone()));
        // Another spelling is another key.
        let upper = UserId::from_text(raw.to_uppercase());
        if upper != id {
            assert!(s.store.get_user(&upper).await?.is_none(), "{upper:?}");
        }
    }
    let mut new = NewUser::new(email().as_str())?;
    new.id = Some(UserId::from_text(""));
    let r = s.store.create_user(new).await;
    assert!(
        matches!(&r, Err(StoreError::InvalidInput { field, .. }) if *field == "user_id"),
        "got {r:?}"
    );
    Ok(())
}

/// True when `r` is InvalidInput on field `user_id`.
fn invalid_user_id<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::InvalidInput { field, .. }) if *field == "user_id")
}

/// An id of another key type than the store's is refused with InvalidInput
/// (field `user_id`) by reads and writes alike, before anything is written.
pub async fn ids_of_another_key_type_are_refused(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    for other in foreign_ids(&s) {
        let r = s.store.get_user(&other).await;
        assert!(invalid_user_id(&r), "get_user({other:?}) gave {r:?}");
        let r = s.store.get_user_by_field(&UserLookup::Id(other.clone())).await;
        assert!(invalid_user_id(&r), "get_user_by_field({other:?}) gave {r:?}");
        let r = s.store.delete_user(&other).await;
        assert!(invalid_user_id(&r), "delete_user({other:?}) gave {r:?}");
        let mut new = NewUser::new(email().as_str())?;
        new.id = Some(other.clone());
        let e = new.email.clone();
        let r = s.store.create_user(new).await;
        assert!(invalid_user_id(&r), "create_user with {other:?} gave {r:?}");
        assert!(s.store.get_user_by_email(&e).await?.is_none());
        let r = s
            .store
            .store_refresh_token(token(&other, &FamilyId::generate(), in_secs(&s, 60)))
            .await;
        assert!(invalid_user_id(&r), "store_refresh_token for {other:?} gave {r:?}");
    }
    assert_eq!(s.store.get_user(&u.id).await?, Some(u));
    Ok(())
}

/// create_user writes the flags it is given.
pub async fn create_user_with_flags(s: Subject) -> CaseResult {
    let mut new = NewUser::new(email().as_str())?;
    new.is_active = false;
    new.is_verified = true;
    new.is_superuser = true;
    let u = s.store.create_user(new).await?;
    assert!(!u.is_active && u.is_verified && u.is_superuser);
    assert_eq!(s.store.get_user(&u.id).await?, Some(u));
    Ok(())
}

/// created_at comes from the store's clock.
pub async fn created_at_comes_from_the_clock(s: Subject) -> CaseResult {
    let before = s.clock.now();
    let u = user(&s).await?;
    let after = s.clock.now();
    assert!(
        before <= u.created_at && u.created_at <= after,
        "created_at {} outside [{before}, {after}]",
        u.created_at
    );
    Ok(())
}

/// A text app column given at creation round-trips through create and get.
pub async fn app_column_round_trip(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let u = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, "Ada Lovelace")?)
        .await?;
    assert_eq!(text(&u, &col).as_deref(), Some("Ada Lovelace"));
    let got = s.store.get_user(&u.id).await?.expect("user exists");
    assert_eq!(text(&got, &col).as_deref(), Some("Ada Lovelace"));
    let by_email = s
        .store
        .get_user_by_email(&u.email)
        .await?
        .expect("user exists");
    assert_eq!(text(&by_email, &col).as_deref(), Some("Ada Lovelace"));
    Ok(())
}

/// A text app column not given at creation reads back as its default (NULL here), never an error.
pub async fn app_column_default_when_not_given(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let u = user(&s).await?;
    let v: Option<String> = u.extra_field(&col)?;
    assert_eq!(v, None, "`{col}` is nullable with no default");
    let got = s.store.get_user(&u.id).await?.expect("user exists");
    assert_eq!(got.extra, u.extra);
    Ok(())
}

/// A text app column can be set back to NULL through update_user.
pub async fn update_user_app_column_to_null(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let u = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, "temp")?)
        .await?;
    let p = UserPatch::new().with_extra(&col, serde_json::Value::Null)?;
    let updated = s.store.update_user(&u.id, p).await?;
    assert_eq!(text(&updated, &col), None);
    let got = s.store.get_user(&u.id).await?.expect("user exists");
    assert_eq!(text(&got, &col), None);
    Ok(())
}

/// create_user with an unknown app column is UnknownField and stores no user.
pub async fn create_user_unknown_column_stores_nothing(s: Subject) -> CaseResult {
    let e = email();
    let new = NewUser::new(e.as_str())?.with_extra("no_such_column", "x")?;
    let r = s.store.create_user(new).await;
    assert!(
        matches!(r, Err(StoreError::UnknownField { ref field, .. }) if field == "no_such_column"),
        "got {r:?}"
    );
    assert!(s.store.get_user_by_email(&e).await?.is_none());
    Ok(())
}
