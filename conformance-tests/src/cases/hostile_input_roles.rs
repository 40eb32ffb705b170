// conformance-group: requires = [Roles]
//! Hostile role names: stored and returned byte for byte, refused over 100
//! characters or with control characters, never matched as patterns.

use fullauth_api::RoleName;

use super::*;
use crate::CaseResult;

/// Role names with quotes, SQL, wildcards, backslashes, emoji, RTL and combining marks round-trip.
pub async fn hostile_role_names_round_trip(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let mut names = Vec::new();
    for h in [
        "O'Brien",
        "'; DROP TABLE fullauth_roles; --",
        "100% _admin_",
        "back\\slash\\%",
        "\"quoted\"",
        "🦀 crab",
        "\u{202e}nimda",
        "e\u{301} combining",
        "  padded  ",
    ] {
        let name = RoleName::new(format!("{h} {t}"))?;
        assert!(s.store.assign_role(&u, &name).await?, "assign {name:?}");
        names.push(name);
    }
    let mut got = s.store.get_user_roles(&u).await?;
    got.sort();
    names.sort();
    assert_eq!(got, names, "roles come back byte for byte");
    let all = s.store.list_roles().await?;
    for n in &names {
        assert!(all.contains(n), "list_roles lacks {n:?}");
        assert!(s.store.remove_role(&u, n).await?, "remove {n:?}");
    }
    assert!(s.store.get_user_roles(&u).await?.is_empty());
    Ok(())
}

/// A role name of 100 characters (not bytes) round-trips; 101 is InvalidInput on `role`; controls are refused.
pub async fn role_name_length_limit(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let max = format!("{t}{}", "é".repeat(100 - t.len()));
    let name = RoleName::new(max.as_str())?;
    assert!(s.store.assign_role(&u, &name).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![name]);
    assert_invalid(RoleName::new(format!("é{max}")), "role");
    assert_invalid(RoleName::new(""), "role");
    assert_invalid(RoleName::new("ad\0min"), "role");
    assert_invalid(RoleName::new("ad\nmin"), "role");
    Ok(())
}

/// Wildcard role names match nothing: removing or deleting a pattern leaves the real role alone.
pub async fn wildcard_role_names_do_not_match(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let real = RoleName::new(format!("rw-{t}-abc"))?;
    s.store.assign_role(&u, &real).await?;
    for pattern in [
        format!("rw-{t}-%"),
        format!("rw-{t}-a_c"),
        format!("rw-{t}-___"),
        format!("RW-{t}-ABC"),
    ] {
        let p = RoleName::new(pattern.as_str())?;
        assert!(
            !s.store.remove_role(&u, &p).await?,
            "remove_role({pattern:?})"
        );
        assert!(!s.store.delete_role(&p).await?, "delete_role({pattern:?})");
    }
    assert_eq!(s.store.get_user_roles(&u).await?, vec![real.clone()]);
    assert!(s.store.list_roles().await?.contains(&real));
    Ok(())
}
