// conformance-group: requires = [Core]
//! Hostile input on the Core traits: values that pass validation are stored
//! and returned byte for byte (quotes, SQL, LIKE wildcards, backslashes, emoji,
//! right-to-left and combining characters, 64 KiB text);
//! values that do not are refused with `InvalidInput` naming the field;
//! wildcards never match other rows. The display-name cases use the text
//! application column the subject declares and are skipped without one.

use fullauth_api::{
    ClientInfo, Email, ExtraFields, FamilyId, HashedPassword, NewUser, StoreError, UserIdType,
    UserLookup, UserPatch,
};

use super::*;
use crate::CaseResult;

/// A column name for the validation-only checks (no store sees it).
const DISPLAY_NAME: &str = "display_name";

/// Strings that break naive SQL, LIKE patterns, escaping and byte handling.
const HOSTILE: [&str; 14] = [
    "O'Brien",
    "\"double\" and `back` quotes",
    "'; DROP TABLE fullauth_users; --",
    "Robert'); DELETE FROM fullauth_refresh_tokens WHERE ('1'='1",
    "100% _sure_",
    "%",
    "_",
    "back\\slash \\' \\\\ \\%",
    "🦀 crab 👩‍👩‍👧 family",
    "\u{202e}gnp.exe right-to-left override",
    "e\u{301}\u{301} combining ﬁ ligature",
    "日本語のテキスト",
    "line\nbreak\ttab\rreturn",
    "   padded   ",
];

/// The value of text column `col` of a user, or `None` when absent or NULL.
fn text(u: &fullauth_api::User, col: &str) -> Option<String> {
    u.extra_field::<String>(col).ok().flatten()
}

/// Creates a user whose text column `col` is `value`.
async fn named(s: &Subject, col: &str, value: &str) -> Result<fullauth_api::User, StoreError> {
    s.store
        .create_user(NewUser::new(email().as_str())?.with_extra(col, value)?)
        .await
}

/// Hostile display names (in the text app column) are stored, returned and looked up byte for byte.
pub async fn hostile_display_names_round_trip(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    for h in HOSTILE {
        let value = format!("{h} {}", tag());
        let u = named(&s, &col, &value).await?;
        assert_eq!(
            text(&u, &col).as_deref(),
            Some(value.as_str()),
            "create {h:?}"
        );
        let got = s.store.get_user(&u.id).await?.expect("stored");
        assert_eq!(
            text(&got, &col).as_deref(),
            Some(value.as_str()),
            "get {h:?}"
        );
        let found = s
            .store
            .get_user_by_field(&UserLookup::parse(&col, value.as_str())?)
            .await?;
        assert_eq!(found.map(|f| f.id), Some(u.id.clone()), "lookup {h:?}");
    }
    Ok(())
}

/// Hostile display names written by update_user are returned byte for byte.
pub async fn hostile_display_names_through_update(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let u = user(&s).await?;
    for h in HOSTILE {
        let p = UserPatch::new().with_extra(&col, h)?;
        let updated = s.store.update_user(&u.id, p).await?;
        assert_eq!(text(&updated, &col).as_deref(), Some(h), "update {h:?}");
        let got = s.store.get_user(&u.id).await?.expect("stored");
        assert_eq!(text(&got, &col).as_deref(), Some(h), "get {h:?}");
    }
    Ok(())
}

/// An empty display name stays an empty string, distinct from NULL.
pub async fn empty_string_is_not_null(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let u = named(&s, &col, "").await?;
    let got = s.store.get_user(&u.id).await?.expect("stored");
    assert_eq!(got.extra_field::<String>(&col)?, Some(String::new()));
    Ok(())
}

/// A 64 KiB display name round-trips unchanged (the declared text column is
/// unbounded text, as the suite requires) and is found by lookup.
pub async fn large_display_name_round_trips(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let unit = "ab'%_\\🦀é日";
    let mut value = format!("{} ", tag());
    while value.len() < 64 * 1024 {
        value.push_str(unit);
    }
    let u = named(&s, &col, &value).await?;
    let got = s.store.get_user(&u.id).await?.expect("stored");
    let back = text(&got, &col).expect("the text column is set");
    assert_eq!(back.len(), value.len());
    assert!(back == value, "64 KiB value changed on the way");
    let found = s
        .store
        .get_user_by_field(&UserLookup::parse(&col, value.as_str())?)
        .await?;
    assert_eq!(found.map(|f| f.id), Some(u.id));
    Ok(())
}

/// Emails with quotes, SQL, wildcards, backslashes, emoji, RTL and combining marks round-trip and are found.
pub async fn hostile_emails_round_trip(s: Subject) -> CaseResult {
    let locals = [
        "o'brien",
        "\"quoted\"",
        "'; drop table fullauth_users; --",
        "100%_off",
        "back\\slash",
        "🦀crab",
        "\u{202e}rtl",
        "e\u{301}combining",
    ];
    for local in locals {
        let raw = format!("{local}-{}@example.test", tag());
        let u = s.store.create_user(NewUser::new(&raw)?).await?;
        assert_eq!(u.email.as_str(), raw, "stored verbatim");
        let got = s.store.get_user_by_email(&Email::new(&raw)?).await?;
        assert_eq!(got.as_ref().map(|g| g.id.clone()), Some(u.id.clone()), "lookup {raw:?}");
        assert_eq!(got.map(|g| g.email.as_str().to_string()), Some(raw.clone()));
    }
    Ok(())
}

/// Email lookups treat `%` and `_` literally: a pattern never matches another user.
pub async fn like_wildcards_in_email_do_not_match(s: Subject) -> CaseResult {
    let t = tag();
    let u = s
        .store
        .create_user(NewUser::new(format!("w{t}ab@example.test"))?)
        .await?;
    for pattern in [
        format!("w{t}a_@example.test"),
        format!("w{t}%@example.test"),
        format!("w{t}__@example.test"),
        format!("%{t}ab@example.test"),
        format!("w{t}ab@example.tes_"),
    ] {
        let e = Email::new(&pattern)?;
        assert!(
            s.store.get_user_by_email(&e).await?.is_none(),
            "{pattern} matched {}",
            u.email
        );
        assert!(
            s.store
                .get_user_by_field(&UserLookup::Email(e))
                .await?
                .is_none(),
            "get_user_by_field with {pattern}"
        );
    }
    // The literal wildcard email is its own user.
    let literal = s
        .store
        .create_user(NewUser::new(format!("w{t}a_@example.test"))?)
        .await?;
    let found = s
        .store
        .get_user_by_email(&Email::new(format!("w{t}a_@example.test"))?)
        .await?;
    assert_eq!(found.map(|f| f.id), Some(literal.id));
    let original = s.store.get_user_by_email(&u.email).await?;
    assert_eq!(original.map(|f| f.id), Some(u.id));
    Ok(())
}

/// App-column lookups are exact: wildcards and other letter cases do not match.
pub async fn app_column_lookup_is_exact(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let t = tag();
    let value = format!("dn-{t}-Xyz");
    let u = named(&s, &col, &value).await?;
    for probe in [
        format!("dn-{t}-%"),
        format!("dn-{t}-___"),
        format!("dn-{t}-X_z"),
        format!("dn-{t}-xyz"),
        format!("DN-{}-XYZ", t.to_uppercase()),
        format!("dn-{t}-Xyz "),
        format!("dn-{t}-Xy"),
    ] {
        let got = s
            .store
            .get_user_by_field(&UserLookup::parse(&col, probe.as_str())?)
            .await?;
        assert!(got.is_none(), "{probe:?} matched {value:?}");
    }
    let exact = s
        .store
        .get_user_by_field(&UserLookup::parse(&col, value.as_str())?)
        .await?;
    assert_eq!(exact.map(|f| f.id), Some(u.id));
    Ok(())
}

/// An email of 320 characters is accepted and round-trips; 321 is InvalidInput on `email`.
pub async fn email_length_limit(s: Subject) -> CaseResult {
    let suffix = format!("-{}@example.test", tag());
    let max = format!("{}{suffix}", "é".repeat(320 - suffix.chars().count()));
    assert_eq!(max.chars().count(), 320);
    let u = s.store.create_user(NewUser::new(&max)?).await?;
    let got = s.store.get_user(&u.id).await?.expect("stored");
    assert_eq!(got.email.as_str(), max, "320 characters, not bytes");
    let over = format!("é{max}");
    assert_invalid(Email::new(&over), "email");
    assert_invalid(NewUser::new(&over), "email");
    assert_invalid(UserLookup::parse("email", over.as_str()), "email");
    Ok(())
}

/// NUL and other control characters are refused with InvalidInput naming the field, before any store sees them.
pub async fn control_characters_are_refused(_s: Subject) -> CaseResult {
    for bad in [
        "a\0b@example.test",
        "a\nb@example.test",
        "a\u{7f}@x.test",
        "a\u{85}@x.test",
    ] {
        assert_invalid(Email::new(bad), "email");
    }
    assert_invalid(
        ExtraFields::new().with(DISPLAY_NAME, "nul\0inside"),
        "extra",
    );
    assert_invalid(UserPatch::new().with_extra(DISPLAY_NAME, "\0"), "extra");
    assert_invalid(UserLookup::parse(DISPLAY_NAME, "a\0"), "extra");
    assert_invalid(HashedPassword::new("$argon2id$\n"), "hashed_password");
    assert_invalid(HashedPassword::new(""), "hashed_password");
    assert_invalid(FamilyId::new("fam\0ily"), "family_id");
    assert_invalid(FamilyId::new("x".repeat(37)), "family_id");
    assert_invalid(UserIdType::Uuid.parse("' OR 1=1 --"), "user_id");
    Ok(())
}

/// Column names that are not SQL identifiers are refused before any store sees them.
pub async fn hostile_column_names_are_refused(s: Subject) -> CaseResult {
    for name in [
        "display_name; DROP TABLE fullauth_users",
        "display_name--",
        "\"display_name\"",
        "1col",
        "",
        "display name",
    ] {
        let r = ExtraFields::new().with(name, "x");
        assert!(
            matches!(r, Err(StoreError::UnknownField { .. })),
            "{name:?} gave {r:?}"
        );
        let r = UserLookup::parse(name, "x");
        assert!(
            matches!(r, Err(StoreError::UnknownField { .. })),
            "{name:?} gave {r:?}"
        );
    }
    // A well-formed but unknown column reaches the store and is UnknownField there.
    let r = s
        .store
        .get_user_by_field(&UserLookup::parse("pg_catalog_x", "x")?)
        .await;
    assert!(
        matches!(r, Err(StoreError::UnknownField { .. })),
        "got {r:?}"
    );
    Ok(())
}

/// Hostile family ids are stored and listed verbatim; wildcard family ids match nothing.
pub async fn hostile_family_ids(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let t = &tag()[..8];
    let family = FamilyId::new(format!("f'%_\\\";-- 🦀{t}"))?;
    let d = token(&u.id, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(d.clone()).await?;
    let got = s.store.get_refresh_token(&d.digest).await?.expect("stored");
    assert_eq!(got.family_id, family);
    let listed: Vec<_> = s
        .store
        .list_sessions(&u.id)
        .await?
        .into_iter()
        .map(|x| x.family_id)
        .collect();
    assert_eq!(listed, vec![family.clone()]);
    for pattern in [
        format!("f%{t}"),
        "f'%".to_string(),
        format!("f'%_\\\";-- _{t}"),
        "%".into(),
    ] {
        let p = FamilyId::new(pattern.as_str())?;
        assert_eq!(
            s.store.revoke_family(&p).await?,
            0,
            "revoke_family({pattern:?})"
        );
        assert!(
            !s.store.revoke_session(&u.id, &p).await?,
            "revoke_session({pattern:?})"
        );
    }
    let still = s.store.get_refresh_token(&d.digest).await?.expect("stored");
    assert!(!still.revoked, "a wildcard family id revoked a real family");
    assert_eq!(s.store.revoke_family(&family).await?, 1);
    Ok(())
}

/// Hostile user agents and IPs are kept verbatim (only control characters are dropped).
pub async fn hostile_client_info_round_trips(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let agent = "'; DROP TABLE fullauth_refresh_tokens; -- %_\\ 🦀 \u{202e}evil";
    let ip = "::1' OR '1'='1";
    let mut t = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    t.client = ClientInfo::new(Some(agent), Some(ip));
    s.store.store_refresh_token(t.clone()).await?;
    let got = s.store.get_refresh_token(&t.digest).await?.expect("stored");
    assert_eq!(got.user_agent.as_deref(), Some(agent));
    assert_eq!(got.ip_address.as_deref(), Some(ip));
    let sessions = s.store.list_sessions(&u.id).await?;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].user_agent.as_deref(), Some(agent));
    assert_eq!(sessions[0].ip_address.as_deref(), Some(ip));
    Ok(())
}

/// A password hash full of SQL, quotes and non-ASCII text is stored verbatim.
pub async fn hostile_password_hash_round_trips(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let hash = HashedPassword::new("$argon2id$'; DROP TABLE fullauth_users; --$%_\\\"🦀\u{202e}")?;
    s.store.set_password_hash(&u.id, Some(hash.clone())).await?;
    assert_eq!(s.store.get_password_hash(&u.id).await?, Some(hash));
    Ok(())
}
