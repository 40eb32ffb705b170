// conformance-group: requires = [Core]
//! Typed application columns: the values of the boolean and integer columns
//! the subject declares ([`crate::Subject::with_app_column`]) read back as
//! the same JSON types on every backend — a BOOLEAN column as a JSON boolean
//! (also on SQLite, which stores 0/1), an INTEGER column as a JSON integer,
//! NULL as JSON null — through every way of reading a user. Skipped when the
//! subject declares no such columns.

use fullauth_api::{NewUser, User, UserLookup, UserPatch};
use serde_json::{Value, json};

use super::*;
use crate::{CaseError, CaseResult, ColumnKind};

/// A random integer in `1000..2_000_001_000`: fits a 32-bit INTEGER and, on
/// a shared database, is practically never used by another user.
fn number() -> i64 {
    let n = uuid::Uuid::new_v4().as_u128() % 2_000_000_000;
    i64::try_from(n).unwrap_or(0) + 1000
}

/// Asserts that `u` holds exactly these JSON values (type included) in
/// these columns.
#[track_caller]
fn assert_typed(u: &User, expected: &[(&str, &Value)], how: &str) {
    for (col, want) in expected {
        let got = u.extra.get(col);
        assert_eq!(
            got,
            Some(*want),
            "{how}: column `{col}` of user {} must read back as the JSON value {want} \
             (same type), got {got:?}",
            u.id
        );
    }
}

/// Reads the user back by id, by email, through get_user_by_field on the id
/// and, when `by_integer` is given, on the integer column; asserts every
/// answer holds `expected`.
async fn assert_everywhere(
    s: &Subject,
    u: &User,
    expected: &[(&str, &Value)],
    by_integer: Option<(&str, i64)>,
    step: &str,
) -> Result<(), CaseError> {
    let missing = |how: &str| CaseError::Failed(format!("{step}: {how} did not find the user"));
    let got = s
        .store
        .get_user(&u.id)
        .await?
        .ok_or_else(|| missing("get_user"))?;
    assert_typed(&got, expected, &format!("{step}, get_user"));
    let got = s
        .store
        .get_user_by_email(&u.email)
        .await?
        .ok_or_else(|| missing("get_user_by_email"))?;
    assert_typed(&got, expected, &format!("{step}, get_user_by_email"));
    let got = s
        .store
        .get_user_by_field(&UserLookup::Id(u.id.clone()))
        .await?
        .ok_or_else(|| missing("get_user_by_field(id)"))?;
    assert_typed(&got, expected, &format!("{step}, get_user_by_field(id)"));
    if let Some((col, n)) = by_integer {
        let got = s
            .store
            .get_user_by_field(&UserLookup::parse(col, n)?)
            .await?
            .ok_or_else(|| missing("get_user_by_field on the integer column"))?;
        assert_eq!(got.id, u.id, "{step}: get_user_by_field({col} = {n})");
        assert_typed(
            &got,
            expected,
            &format!("{step}, get_user_by_field({col} = {n})"),
        );
    }
    Ok(())
}

/// JSON true/false/integers/null written to the declared BOOLEAN and INTEGER
/// columns by create_user and update_user read back with the same JSON types
/// through the returned rows, get_user, get_user_by_email and
/// get_user_by_field; lookups by a boolean or an integer value compare typed
/// values.
pub async fn typed_values_round_trip(s: Subject) -> CaseResult {
    let (Some(flag), Some(count)) = (
        s.app_column(ColumnKind::Boolean),
        s.app_column(ColumnKind::Integer),
    ) else {
        return Err(CaseError::Skipped(
            "the subject declares no boolean and integer app columns".into(),
        ));
    };

    // Created with true and a positive integer.
    let n = number();
    let (t, num) = (json!(true), json!(n));
    let u = s
        .store
        .create_user(
            NewUser::new(email().as_str())?
                .with_extra(flag, true)?
                .with_extra(count, n)?,
        )
        .await?;
    let expected = [(flag, &t), (count, &num)];
    assert_typed(&u, &expected, "create_user");
    assert_everywhere(&s, &u, &expected, Some((count, n)), "created").await?;
    let some_true = s
        .store
        .get_user_by_field(&UserLookup::parse(flag, true)?)
        .await?
        .ok_or_else(|| CaseError::Failed(format!("no user found with `{flag}` = true")))?;
    assert_typed(&some_true, &[(flag, &t)], "get_user_by_field(flag = true)");

    // Updated to false and a negative integer.
    let m = -number();
    let (f, neg) = (json!(false), json!(m));
    let updated = s
        .store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra(flag, false)?
                .with_extra(count, m)?,
        )
        .await?;
    let expected = [(flag, &f), (count, &neg)];
    assert_typed(&updated, &expected, "update_user");
    assert_everywhere(&s, &u, &expected, Some((count, m)), "updated").await?;
    let some_false = s
        .store
        .get_user_by_field(&UserLookup::parse(flag, false)?)
        .await?
        .ok_or_else(|| CaseError::Failed(format!("no user found with `{flag}` = false")))?;
    assert_typed(
        &some_false,
        &[(flag, &f)],
        "get_user_by_field(flag = false)",
    );
    assert!(
        s.store
            .get_user_by_field(&UserLookup::parse(count, n)?)
            .await?
            .is_none_or(|other| other.id != u.id),
        "the old integer value no longer finds the user"
    );

    // Updated to 0, then to NULL.
    let zero = json!(0);
    let updated = s
        .store
        .update_user(&u.id, UserPatch::new().with_extra(count, 0)?)
        .await?;
    assert_typed(&updated, &[(flag, &f), (count, &zero)], "update_user to 0");
    let null = Value::Null;
    let updated = s
        .store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra(flag, Value::Null)?
                .with_extra(count, Value::Null)?,
        )
        .await?;
    let expected = [(flag, &null), (count, &null)];
    assert_typed(&updated, &expected, "update_user to null");
    assert_everywhere(&s, &u, &expected, None, "nulled").await?;

    // Created with explicit nulls, and created without the columns.
    let explicit = s
        .store
        .create_user(
            NewUser::new(email().as_str())?
                .with_extra(flag, Value::Null)?
                .with_extra(count, Value::Null)?,
        )
        .await?;
    assert_typed(&explicit, &expected, "create_user with nulls");
    assert_everywhere(&s, &explicit, &expected, None, "created with nulls").await?;
    let bare = user(&s).await?;
    assert_typed(&bare, &expected, "create_user without the columns");
    assert_everywhere(&s, &bare, &expected, None, "created without the columns").await?;
    Ok(())
}
