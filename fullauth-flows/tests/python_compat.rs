//! Token compatibility with the real fastapi-fullauth 0.18.0, proven against
//! its own code: `tests/python/reference_side.py` runs the library's
//! `TokenEngine`, refresh, logout, email-verification and password-reset
//! flows, `issue_token_pair` and SQLAlchemy adapter as a long-lived Python
//! service (a virtualenv made once under the target dir), next to our
//! [`AuthService`] on the same secret.
//!
//! * Tokens alone (no database): what either side mints, the other decodes
//!   to the same claims (same keys, values and order; our encoding of them
//!   is the reference's payload byte for byte), in every algorithm, with and
//!   without issuer and audience; a table of crafted tokens gets the same
//!   verdict from both; and the tokens the reference fails on (500) are
//!   refused here (401).
//! * Sessions on one shared database, each scenario on four setups: a SQLite
//!   file or a PostgreSQL schema of its own (dropped afterwards), with only
//!   the database shared (each side keeps its own blacklist: the
//!   reference's in-memory one, our store's table) or with the Redis
//!   blacklist shared too (the reference's key layout under a key prefix of
//!   the test's own):
//!   * a refresh token minted and stored by one side rotates through the
//!     other's refresh flow, and the first side sees the rotation;
//!   * a logout on one side (with the access token, or the refresh token
//!     alone) refuses the session on the other;
//!   * a replayed token is caught across the two, and the family dies for
//!     both;
//!   * password-reset and email-verification tokens of one side are
//!     redeemed by the other, once.
//!
//! Without Python, PyPI, `FULLAUTH_TEST_DATABASE_URL` or
//! `FULLAUTH_TEST_REDIS_URL` the tests that need them say so loudly and
//! return, except under `CI=true`, where that is a failure.

use std::future::Future;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use data_encoding::BASE64URL_NOPAD;
use fullauth_api::{
    BlacklistStore, ChallengeStore, ComposedStore, DurableStore, Email, FamilyId, LockoutStore,
    PasswordHasher, RateLimitStore, RefreshTokenStore, Store, TokenDigest, UserId, UserStore,
};
use fullauth_flows::{
    AuthService, Claims, ClientContext, Expect, FlowConfig, FlowError, JwtAlgorithm, LoginOutcome,
    RegisterRequest, SecretKey, TokenEngine, TokenPair, TokenRejection, TokenSettings,
};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx;
use fullauth_redis::RedisStore;
use fullauth_sqlite::SqliteStore;
use serde_json::{Value, json};

// ---- Settings shared by both sides -----------------------------------------

/// What the virtualenv holds: the reference with its SQLAlchemy and Redis
/// extras, and the two async database drivers.
const PACKAGES: [&str; 3] = [
    "fastapi-fullauth[sqlalchemy,redis]==0.18.0",
    "aiosqlite",
    "asyncpg",
];

/// The signing key of both sides: 64 characters, so that PyJWT has no
/// key-length warning for HS512 either.
const SECRET: &str = "compat-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef";
/// Another valid key, for tokens that must not verify.
const OTHER_SECRET: &str = "another-secret-0123456789abcdef-0123456789abcdef-0123456789abcd";

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "compat-api";
const PASSWORD: &str = "Compat password 1";
const ALGORITHMS: [&str; 3] = ["HS256", "HS384", "HS512"];

// ---- Skips ------------------------------------------------------------------

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says loudly that a test did not run, or fails it under `CI=true`.
fn skip(why: &str) {
    if is_ci() {
        panic!("CI=true but a fastapi-fullauth compatibility test cannot run: {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: a fastapi-fullauth 0.18.0 compatibility test did not run: {why} !!!!!!!!\n"
    );
}

/// A server URL from `var`, or `None` after [`skip`].
fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            skip(&format!("{var} is not set"));
            None
        }
    }
}

// ---- The reference, in a virtualenv made once --------------------------------

/// The virtualenv's python, made (and the packages installed) on first use
/// under the target's temp dir; `None` after [`skip`].
fn venv_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let made = PYTHON.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fastapi-fullauth-0.18.0-flows-venv");
        let python = dir.join("bin").join("python");
        let marker = dir.join("fullauth-installed");
        let wanted = PACKAGES.join("\n");
        if python.exists() && std::fs::read_to_string(&marker).ok().as_deref() == Some(&wanted) {
            return Ok(python);
        }
        let base = ["python3.11", "python3"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .ok_or("no python3 on PATH")?;
        let _ = std::fs::remove_dir_all(&dir);
        let venv = Command::new(base).args(["-m", "venv"]).arg(&dir).output();
        if !venv.as_ref().is_ok_and(|o| o.status.success()) {
            return Err(format!("`{base} -m venv` failed: {venv:?}"));
        }
        let pip = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PACKAGES)
            .output();
        match pip {
            Ok(o) if o.status.success() => {}
            other => {
                return Err(format!(
                    "pip install {PACKAGES:?} failed (is PyPI reachable?): {other:?}"
                ));
            }
        }
        std::fs::write(&marker, wanted)
            .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
        Ok(python)
    });
    match made {
        Ok(python) => Some(python.clone()),
        Err(why) => {
            skip(why);
            None
        }
    }
}

/// One running Python service (`reference_side.py … serve`): one JSON array
/// of arguments per line in, one JSON object per line out. Its blacklist,
/// database engine and Redis client live as long as it does.
struct Reference {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
}

impl Reference {
    fn start(python: &Path, setup: &[String]) -> Reference {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/reference_side.py"
        );
        let mut child = Command::new(python)
            .arg(script)
            .args(setup)
            .arg("serve")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the Python side");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("a stdout pipe"));
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut text) = sink.lock() {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            });
        }
        Reference {
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs one command; a crash of the script (not a refusal by the
    /// library) fails the test with the traceback.
    fn call(&mut self, args: &[&str]) -> Value {
        let line = serde_json::to_string(args).expect("JSON arguments");
        let stdin = self.stdin.as_mut().expect("the Python side's stdin");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("the Python side is gone ({e}):\n{}", self.stderr()));
        let mut answer = String::new();
        let read = self.stdout.read_line(&mut answer).expect("read the answer");
        assert!(
            read > 0,
            "the Python side ended on {args:?}:\n{}",
            self.stderr()
        );
        let value: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {answer}\n{}", self.stderr()));
        if let Some(crash) = value.get("crash") {
            panic!(
                "the Python side crashed on {args:?}:\n{}\n{}",
                crash.as_str().unwrap_or_default(),
                self.stderr()
            );
        }
        value
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        // End of input ends the service (it closes its clients first).
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- Small helpers ------------------------------------------------------------

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// Asserts the library's answer is a success and returns it.
#[track_caller]
fn ok(v: Value) -> Value {
    assert_eq!(v["ok"], true, "the reference refused: {v}");
    v
}

/// Asserts the library refused with this exception class.
#[track_caller]
fn refused(v: &Value, error: &str) {
    assert_eq!(v["ok"], false, "the reference accepted: {v}");
    assert_eq!(v["error"], error, "{v}");
    assert!(
        v.get("uncaught").is_none(),
        "the reference failed instead of refusing: {v}"
    );
}

fn settings(algorithm: &str, issuer: Option<&str>, audience: Option<&str>) -> TokenSettings {
    let mut settings = TokenSettings::new(SecretKey::new(SECRET).expect("a valid secret"));
    settings.algorithm = algorithm.parse::<JwtAlgorithm>().expect("an algorithm");
    settings.issuer = issuer.map(str::to_string);
    settings.audience = audience.map(str::to_string);
    settings
}

fn engine(algorithm: &str, issuer: Option<&str>, audience: Option<&str>) -> TokenEngine {
    TokenEngine::new(settings(algorithm, issuer, audience)).expect("an engine")
}

/// The reference's token-setting arguments for one command.
fn token_args<'a>(
    algorithm: &'a str,
    issuer: Option<&'a str>,
    audience: Option<&'a str>,
) -> Vec<&'a str> {
    let mut args = vec!["--algorithm", algorithm];
    if let Some(i) = issuer {
        args.extend(["--issuer", i]);
    }
    if let Some(a) = audience {
        args.extend(["--audience", a]);
    }
    args
}

fn payload_segment(token: &str) -> &str {
    token.split('.').nth(1).expect("a compact JWT")
}

fn ctx(ip: &str, agent: &str) -> ClientContext {
    ClientContext::new(Some(ip), Some(agent))
}

// ---- (a) Tokens alone ---------------------------------------------------------

/// Custom claims of every JSON kind, ASCII only: the serialised payloads can
/// then be compared byte for byte (see `non_ascii_claims_…` for the rest).
fn sample_extra() -> Value {
    json!({"tenant": "acme", "plan": 3, "beta": true, "ratio": 0.5, "none": null,
           "tags": ["a", "b"], "nested": {"k": [1, {"x": "y"}]}})
}

const SUBJECT: &str = "01a228c9-a95d-7127-bf8e-ad68a43e1b46";
const AUTH_TIME: i64 = 1_795_000_000;

/// Every algorithm, without and with issuer and audience: the reference's
/// access and refresh tokens decode through our engine to exactly the claims
/// it wrote (same keys, same values, same order: re-encoding our decoded
/// claims reproduces its payload byte for byte), and a token of another
/// algorithm or key is refused, as the reference refuses it.
#[tokio::test]
async fn reference_tokens_decode_in_rust_with_the_same_claims() {
    let Some(python) = venv_python() else { return };
    let mut py = Reference::start(&python, &["--secret".into(), SECRET.into()]);
    let family = FamilyId::generate();
    let extra = sample_extra().to_string();
    let auth_time = AUTH_TIME.to_string();
    for algorithm in ALGORITHMS {
        for (issuer, audience) in [(None, None), (Some(ISSUER), Some(AUDIENCE))] {
            let mut args = vec![
                "mint",
                "--kind",
                "pair",
                "--sub",
                SUBJECT,
                "--roles",
                "editor,viewer",
                "--extra",
                &extra,
                "--family",
                family.as_str(),
                "--auth-time",
                &auth_time,
            ];
            args.extend(token_args(algorithm, issuer, audience));
            let minted = ok(py.call(&args));
            let ours = engine(algorithm, issuer, audience);
            let case = format!("{algorithm} iss={issuer:?} aud={audience:?}");

            let access = ours
                .decode(s(&minted["access_token"]), Expect::Session)
                .await
                .unwrap_or_else(|e| panic!("{case}: their access token refused: {e:?}"));
            let refresh = ours
                .decode(s(&minted["refresh_token"]), Expect::Refresh)
                .await
                .unwrap_or_else(|e| panic!("{case}: their refresh token refused: {e:?}"));
            for (claims, token, raw) in [
                (&access, &minted["access_token"], &minted["access"]),
                (&refresh, &minted["refresh_token"], &minted["refresh"]),
            ] {
                assert_eq!(
                    serde_json::to_value(claims).unwrap(),
                    raw["claims"],
                    "{case}"
                );
                assert_eq!(
                    payload_segment(&ours.encode(claims).unwrap()),
                    payload_segment(s(token)),
                    "{case}: our encoding of the same claims differs"
                );
                let header = jsonwebtoken::decode_header(s(token)).unwrap();
                assert_eq!(format!("{:?}", header.alg), algorithm, "{case}");
                assert_eq!(raw["header"], json!({"alg": algorithm, "typ": "JWT"}));
            }

            // What the reference wrote is what our flows read.
            assert_eq!(access.sub, SUBJECT);
            assert_eq!(
                access
                    .user_id(fullauth_api::UserIdType::Uuid)
                    .unwrap()
                    .to_string(),
                SUBJECT
            );
            assert_eq!(
                access.roles.as_deref(),
                Some(&["editor".to_string(), "viewer".to_string()][..])
            );
            assert_eq!(
                access.extra.clone().map(Value::Object),
                Some(sample_extra())
            );
            assert_eq!(access.family_id.as_deref(), Some(family.as_str()));
            assert_eq!(access.family(), Some(family.clone()));
            assert_eq!(access.auth_time, Some(AUTH_TIME));
            assert_eq!(access.exp - access.iat, 30 * 60);
            assert_eq!(access.jti.len(), 32);
            assert!(!access.has_purpose());
            assert_eq!(refresh.family_id.as_deref(), Some(family.as_str()));
            assert_eq!(refresh.roles, None);
            assert_eq!(refresh.extra, None);
            assert_eq!(refresh.auth_time, Some(AUTH_TIME));
            assert_eq!(refresh.exp - refresh.iat, 30 * 86_400);
            assert_ne!(access.jti, refresh.jti);
            assert_eq!(access.iss.as_deref(), issuer);
            assert_eq!(refresh.iss.as_deref(), issuer);
            assert_eq!(
                access.aud,
                audience.map(|a| fullauth_flows::Audience::One(a.into()))
            );

            // Each type only where it belongs, on both sides.
            assert!(matches!(
                ours.decode(s(&minted["refresh_token"]), Expect::Session)
                    .await,
                Err(FlowError::InvalidToken(TokenRejection::WrongType))
            ));
            assert!(matches!(
                ours.decode(s(&minted["access_token"]), Expect::Refresh)
                    .await,
                Err(FlowError::InvalidToken(TokenRejection::WrongType))
            ));

            // Another algorithm, or another key, does not verify.
            for other in ALGORITHMS.into_iter().filter(|a| *a != algorithm) {
                assert!(
                    matches!(
                        engine(other, issuer, audience).verify(s(&minted["access_token"])),
                        Err(FlowError::InvalidToken(TokenRejection::Malformed))
                    ),
                    "{case}: accepted by {other}"
                );
            }
            let mut wrong_key = settings(algorithm, issuer, audience);
            wrong_key.secret = SecretKey::new(OTHER_SECRET).unwrap();
            assert!(matches!(
                TokenEngine::new(wrong_key)
                    .unwrap()
                    .verify(s(&minted["access_token"])),
                Err(FlowError::InvalidToken(TokenRejection::Malformed))
            ));
        }
    }
}

/// Every algorithm, without and with issuer and audience: our access and
/// refresh tokens decode in the reference's `decode_token` to the claims we
/// wrote, in the order its own tokens have them, with its header; and the
/// reference refuses them where they do not belong (type, algorithm, key,
/// issuer, audience).
#[tokio::test]
async fn rust_tokens_decode_in_the_reference_with_the_same_claims() {
    let Some(python) = venv_python() else { return };
    let mut py = Reference::start(&python, &["--secret".into(), SECRET.into()]);
    let extra = match sample_extra() {
        Value::Object(map) => map,
        _ => unreachable!("an object"),
    };
    let extra_text = sample_extra().to_string();
    let auth_time = AUTH_TIME.to_string();
    for algorithm in ALGORITHMS {
        for (issuer, audience) in [(None, None), (Some(ISSUER), Some(AUDIENCE))] {
            let case = format!("{algorithm} iss={issuer:?} aud={audience:?}");
            let ours = engine(algorithm, issuer, audience);
            let pair = ours
                .mint_pair(
                    SUBJECT,
                    vec!["editor".into(), "viewer".into()],
                    extra.clone(),
                    None,
                    Some(AUTH_TIME),
                )
                .unwrap();
            // The reference's own pair of the same shape, for the key order.
            let mut args = vec![
                "mint",
                "--kind",
                "pair",
                "--sub",
                SUBJECT,
                "--roles",
                "editor,viewer",
                "--extra",
                &extra_text,
                "--family",
                pair.family_id.as_str(),
                "--auth-time",
                &auth_time,
            ];
            args.extend(token_args(algorithm, issuer, audience));
            let theirs = ok(py.call(&args));

            for (minted, expected_type, raw) in [
                (&pair.access, "access", &theirs["access"]),
                (&pair.refresh, "refresh", &theirs["refresh"]),
            ] {
                let mut args = vec![
                    "decode",
                    "--token",
                    &minted.token,
                    "--expected-type",
                    expected_type,
                ];
                if expected_type == "access" {
                    args.push("--session");
                }
                args.extend(token_args(algorithm, issuer, audience));
                let seen = ok(py.call(&args));
                let claims = serde_json::to_value(&minted.claims).unwrap();
                assert_eq!(seen["claims"], claims, "{case}");
                assert_eq!(seen["claim_order"], raw["claim_order"], "{case}");
                assert_eq!(
                    seen["header"],
                    json!({"alg": algorithm, "typ": "JWT"}),
                    "{case}"
                );
                // The library's parsed payload: what its flows act on.
                let payload = &seen["payload"];
                assert_eq!(payload["sub"], SUBJECT);
                assert_eq!(payload["type"], expected_type);
                assert_eq!(payload["jti"], minted.claims.jti.as_str());
                assert_eq!(payload["exp"], minted.claims.exp);
                assert_eq!(payload["iat"], minted.claims.iat);
                assert_eq!(payload["family_id"], pair.family_id.as_str());
                assert_eq!(payload["auth_time"], AUTH_TIME);
                if expected_type == "access" {
                    assert_eq!(payload["roles"], json!(["editor", "viewer"]));
                    assert_eq!(payload["extra"], sample_extra());
                } else {
                    assert_eq!(payload["roles"], json!([]));
                    assert_eq!(payload["extra"], json!({}));
                }
                assert_eq!(
                    raw["claims"]["exp"].as_i64().unwrap() - raw["claims"]["iat"].as_i64().unwrap(),
                    minted.claims.exp - minted.claims.iat,
                    "{case}: lifetimes differ"
                );
            }

            let mut wrong_type = vec![
                "decode",
                "--token",
                &pair.refresh.token,
                "--expected-type",
                "access",
            ];
            wrong_type.extend(token_args(algorithm, issuer, audience));
            refused(&py.call(&wrong_type), "TokenError");
            for other in ALGORITHMS.into_iter().filter(|a| *a != algorithm) {
                let mut args = vec!["decode", "--token", &pair.access.token];
                args.extend(token_args(other, issuer, audience));
                refused(&py.call(&args), "TokenError");
            }
            let mut args = vec![
                "decode",
                "--token",
                &pair.access.token,
                "--secret",
                OTHER_SECRET,
            ];
            args.extend(token_args(algorithm, issuer, audience));
            refused(&py.call(&args), "TokenError");
            if issuer.is_some() {
                let args = [
                    "decode",
                    "--token",
                    &pair.access.token,
                    "--algorithm",
                    algorithm,
                    "--issuer",
                    "https://elsewhere.example",
                ];
                refused(&py.call(&args), "TokenError");
                let args = [
                    "decode",
                    "--token",
                    &pair.access.token,
                    "--algorithm",
                    algorithm,
                    "--audience",
                    "another-api",
                ];
                refused(&py.call(&args), "TokenError");
                // Unset settings check nothing, in the reference as here.
                let args = [
                    "decode",
                    "--token",
                    &pair.access.token,
                    "--algorithm",
                    algorithm,
                ];
                ok(py.call(&args));
                assert!(
                    engine(algorithm, None, None)
                        .verify(&pair.access.token)
                        .is_ok()
                );
            }
        }
    }
}

/// Custom claims with text outside ASCII (and a string the reference's JSON
/// escapes) mean the same on both sides. The bytes differ: PyJWT escapes
/// every non-ASCII character (`\u00eb`), serde_json writes UTF-8, and both
/// read either.
#[tokio::test]
async fn non_ascii_claims_mean_the_same_on_both_sides() {
    let Some(python) = venv_python() else { return };
    let mut py = Reference::start(&python, &["--secret".into(), SECRET.into()]);
    let extra = json!({"name": "Zoë Ünïcödé 🙂", "quote": "a \"b\" \\ c\n\t", "ключ": "值"});
    let ours = engine("HS256", None, None);

    let theirs = ok(py.call(&[
        "mint",
        "--kind",
        "access",
        "--sub",
        SUBJECT,
        "--extra",
        &extra.to_string(),
    ]));
    let claims = ours
        .decode(s(&theirs["access_token"]), Expect::Session)
        .await
        .unwrap();
    assert_eq!(claims.extra.map(Value::Object), Some(extra.clone()));

    let Value::Object(map) = extra.clone() else {
        unreachable!("an object")
    };
    let minted = ours.mint_access(SUBJECT, vec![], map, None, None).unwrap();
    let seen = ok(py.call(&["decode", "--token", &minted.token, "--session"]));
    assert_eq!(seen["payload"]["extra"], extra);
}

/// What a crafted token must be checked as.
#[derive(Clone, Copy, Debug)]
enum Check {
    Session,
    Refresh,
    Purpose(&'static str),
}

/// A crafted token, the check it meets, whether the verifying side sets
/// issuer and audience, and the verdict both sides must give.
struct Case {
    name: &'static str,
    payload: Value,
    check: Check,
    configured: bool,
    accepted: bool,
}

fn case(name: &'static str, payload: Value, check: Check, accepted: bool) -> Case {
    Case {
        name,
        payload,
        check,
        configured: false,
        accepted,
    }
}

fn configured(name: &'static str, payload: Value, accepted: bool) -> Case {
    Case {
        name,
        payload,
        check: Check::Session,
        configured: true,
        accepted,
    }
}

/// The crafted tokens of [`both_sides_give_crafted_tokens_the_same_verdict`],
/// their times relative to `n` (now).
fn crafted_cases(n: i64) -> Vec<Case> {
    let base = |extra: Value| {
        let mut p = json!({"sub": SUBJECT, "exp": n + 600, "iat": n});
        if let (Value::Object(p), Value::Object(e)) = (&mut p, extra) {
            p.extend(e);
        }
        p
    };
    let without = |key: &str| {
        let mut p = base(json!({}));
        p.as_object_mut().unwrap().remove(key);
        p
    };
    use Check::{Purpose, Refresh, Session};
    vec![
        case("sub, exp and iat only", base(json!({})), Session, true),
        case(
            "no type is an access token",
            base(json!({})),
            Refresh,
            false,
        ),
        case(
            "refresh token",
            base(json!({"type": "refresh", "jti": unique()})),
            Refresh,
            true,
        ),
        case(
            "refresh token as a session",
            base(json!({"type": "refresh"})),
            Session,
            false,
        ),
        case("unknown type", base(json!({"type": "id"})), Session, false),
        case("null type", base(json!({"type": null})), Session, false),
        case("boolean exp", base(json!({"exp": true})), Session, false),
        case("empty sub", base(json!({"sub": ""})), Session, true),
        case("empty jti", base(json!({"jti": ""})), Session, true),
        case(
            "empty family",
            base(json!({"family_id": ""})),
            Session,
            true,
        ),
        case(
            "null family",
            base(json!({"family_id": null})),
            Session,
            true,
        ),
        case("null extra", base(json!({"extra": null})), Session, true),
        case(
            "fractional auth_time",
            base(json!({"auth_time": 1_795_000_000.7})),
            Session,
            true,
        ),
        case(
            "negative auth_time",
            base(json!({"auth_time": -5})),
            Session,
            true,
        ),
        case(
            "auth_time out of range",
            base(json!({"auth_time": 1e20})),
            Session,
            true,
        ),
        case(
            "purpose false",
            base(json!({"extra": {"purpose": false}})),
            Session,
            true,
        ),
        case(
            "purpose 0",
            base(json!({"extra": {"purpose": 0}})),
            Session,
            true,
        ),
        case(
            "purpose []",
            base(json!({"extra": {"purpose": []}})),
            Session,
            true,
        ),
        case(
            "purpose 1",
            base(json!({"extra": {"purpose": 1}})),
            Session,
            false,
        ),
        case(
            "purpose {}",
            base(json!({"extra": {"purpose": {"a": 1}}})),
            Session,
            false,
        ),
        case(
            "fractional-string iat",
            base(json!({"iat": format!("{n}.5")})),
            Session,
            false,
        ),
        case(
            "expired 15 s ago, inside the leeway",
            base(json!({"exp": n - 15})),
            Session,
            true,
        ),
        case(
            "expired 45 s ago",
            base(json!({"exp": n - 45})),
            Session,
            false,
        ),
        case(
            "fractional exp",
            base(json!({"exp": n as f64 + 600.5})),
            Session,
            true,
        ),
        case(
            "iat 15 s ahead, inside the leeway",
            base(json!({"iat": n + 15})),
            Session,
            true,
        ),
        case(
            "iat 90 s ahead",
            base(json!({"iat": n + 90})),
            Session,
            false,
        ),
        case(
            "nbf 15 s ahead",
            base(json!({"nbf": n + 15})),
            Session,
            true,
        ),
        case(
            "nbf 90 s ahead",
            base(json!({"nbf": n + 90})),
            Session,
            false,
        ),
        case("no exp", without("exp"), Session, false),
        case("no iat", without("iat"), Session, false),
        case("no sub", without("sub"), Session, false),
        case("null sub", base(json!({"sub": null})), Session, false),
        case("integer sub", base(json!({"sub": 42})), Session, false),
        case("integer jti", base(json!({"jti": 42})), Session, false),
        case(
            "extra not an object",
            base(json!({"extra": "x"})),
            Session,
            true,
        ),
        case(
            "auth_time not a number",
            base(json!({"auth_time": "yesterday"})),
            Session,
            true,
        ),
        case(
            "empty purpose",
            base(json!({"extra": {"purpose": ""}})),
            Session,
            true,
        ),
        case(
            "purpose token as a session",
            base(json!({"extra": {"purpose": "password_reset"}})),
            Session,
            false,
        ),
        case(
            "purpose token for its purpose",
            base(json!({"extra": {"purpose": "password_reset", "pwd": "x"}})),
            Purpose("password_reset"),
            true,
        ),
        case(
            "purpose token for another purpose",
            base(json!({"extra": {"purpose": "password_reset"}})),
            Purpose("email_verify"),
            false,
        ),
        case(
            "session token for a purpose",
            base(json!({"type": "access"})),
            Purpose("email_verify"),
            false,
        ),
        case(
            "iss and aud of any shape when unset",
            base(json!({"iss": 5, "aud": [1, 2]})),
            Session,
            true,
        ),
        configured(
            "matching iss and aud",
            base(json!({"iss": ISSUER, "aud": AUDIENCE})),
            true,
        ),
        configured(
            "aud list naming us",
            base(json!({"iss": ISSUER, "aud": ["other", AUDIENCE]})),
            true,
        ),
        configured(
            "aud list not naming us",
            base(json!({"iss": ISSUER, "aud": ["other"]})),
            false,
        ),
        configured(
            "another aud",
            base(json!({"iss": ISSUER, "aud": "other"})),
            false,
        ),
        configured("no aud", base(json!({"iss": ISSUER})), false),
        configured("no iss", base(json!({"aud": AUDIENCE})), false),
        configured(
            "another iss",
            base(json!({"iss": "https://elsewhere.example", "aud": AUDIENCE})),
            false,
        ),
        configured(
            "aud not a string",
            base(json!({"iss": ISSUER, "aud": 5})),
            false,
        ),
    ]
}

/// The claim rules, side by side: each crafted token is signed twice (by
/// PyJWT in the reference's process and by our engine), and each copy is
/// decoded by both the reference's `decode_token` (plus the current-user
/// dependency's purpose rule for session tokens) and our engine. All four
/// verdicts must be the expected one: leeway on `exp`, `iat` and `nbf`,
/// required claims, claim types, a missing `type`, a non-object `extra`,
/// purposes, issuer and audience when set and when not, foreign keys and
/// algorithms.
#[tokio::test]
async fn both_sides_give_crafted_tokens_the_same_verdict() {
    let Some(python) = venv_python() else { return };
    let mut py = Reference::start(&python, &["--secret".into(), SECRET.into()]);
    // Started (its imports done) before any time is taken.
    ok(py.call(&["mint", "--kind", "access", "--sub", SUBJECT]));
    use Check::{Purpose, Refresh, Session};
    let plain = engine("HS256", None, None);
    let strict = engine("HS256", Some(ISSUER), Some(AUDIENCE));
    for i in 0..crafted_cases(0).len() {
        // Each case's times are taken just before it is checked.
        let c = &crafted_cases(unix_now())[i];
        let payload = c.payload.to_string();
        let signed = ok(py.call(&["sign", "--payload", &payload]));
        let copies = [
            ("signed by PyJWT", s(&signed["token"]).to_string()),
            ("signed by us", plain.encode_value(&c.payload).unwrap()),
        ];
        let ours = if c.configured { &strict } else { &plain };
        for (origin, token) in &copies {
            let expect = match c.check {
                Session => Expect::Session,
                Refresh => Expect::Refresh,
                Purpose(p) => Expect::Purpose(p),
            };
            let rust = ours.decode(token, expect).await;
            let mut args = vec!["decode", "--token", token.as_str()];
            match c.check {
                Session => args.extend(["--expected-type", "access", "--session"]),
                Refresh => args.extend(["--expected-type", "refresh"]),
                Purpose(p) => args.extend(["--expected-type", "access", "--expected-purpose", p]),
            }
            if c.configured {
                args.extend(["--issuer", ISSUER, "--audience", AUDIENCE]);
            }
            let python = py.call(&args);
            assert!(
                python.get("uncaught").is_none(),
                "{} ({origin}): the reference failed: {python}",
                c.name
            );
            assert_eq!(
                python["ok"] == true,
                c.accepted,
                "{} ({origin}): the reference said {python}",
                c.name
            );
            assert_eq!(
                rust.is_ok(),
                c.accepted,
                "{} ({origin}): we said {rust:?}",
                c.name
            );
            if let (Ok(claims), true) = (&rust, c.accepted) {
                // Accepted: both read the same subject, type, times and ids.
                let p = &python["payload"];
                assert_eq!(p["sub"], claims.sub.as_str(), "{}", c.name);
                assert_eq!(p["type"], claims.token_type.as_str(), "{}", c.name);
                assert_eq!(p["exp"], claims.exp, "{}", c.name);
                assert_eq!(p["iat"], claims.iat, "{}", c.name);
                assert_eq!(p["jti"], claims.jti.as_str(), "{}", c.name);
                assert_eq!(p["auth_time"], json!(claims.auth_time), "{}", c.name);
                assert_eq!(p["family_id"], json!(claims.family_id), "{}", c.name);
            }
        }
    }

    // Keys and algorithms: a foreign key, another algorithm, and no
    // signature at all are refused by both.
    let n = unix_now();
    let valid = json!({"sub": SUBJECT, "exp": n + 600, "iat": n});
    let payload = valid.to_string();
    let mut foreign = vec![];
    let theirs = ok(py.call(&["sign", "--payload", &payload, "--secret", OTHER_SECRET]));
    foreign.push(("another key (PyJWT)", s(&theirs["token"]).to_string()));
    let mut other_key = settings("HS256", None, None);
    other_key.secret = SecretKey::new(OTHER_SECRET).unwrap();
    foreign.push((
        "another key (ours)",
        TokenEngine::new(other_key)
            .unwrap()
            .encode_value(&valid)
            .unwrap(),
    ));
    let theirs = ok(py.call(&["sign", "--payload", &payload, "--algorithm", "HS384"]));
    foreign.push(("HS384 (PyJWT)", s(&theirs["token"]).to_string()));
    foreign.push((
        "HS512 (ours)",
        engine("HS512", None, None).encode_value(&valid).unwrap(),
    ));
    let unsigned = format!(
        "{}.{}.",
        BASE64URL_NOPAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        BASE64URL_NOPAD.encode(payload.as_bytes())
    );
    foreign.push(("alg none", unsigned));
    for (name, token) in &foreign {
        refused(&py.call(&["decode", "--token", token]), "TokenError");
        assert!(
            matches!(
                plain.verify(token),
                Err(FlowError::InvalidToken(TokenRejection::Malformed))
            ),
            "{name}"
        );
    }
}

/// Tokens the reference fails on (its routes answer 500) and we refuse
/// (401): a signed token whose `roles` is not a list of strings or whose
/// `family_id` is not a string (pydantic's ValidationError out of
/// `decode_token`), and one whose `exp` or `iat` is a numeric string (PyJWT
/// takes it, then the engine's `datetime.fromtimestamp` raises TypeError).
/// A deliberate difference: the flows' docs list it.
#[tokio::test]
async fn tokens_the_reference_fails_on_are_refused_here() {
    let Some(python) = venv_python() else { return };
    let mut py = Reference::start(&python, &["--secret".into(), SECRET.into()]);
    let n = unix_now();
    let ours = engine("HS256", None, None);
    for (payload, uncaught, field) in [
        (
            json!({"sub": SUBJECT, "exp": n + 600, "iat": n, "roles": "admin"}),
            "ValidationError",
            "roles",
        ),
        (
            json!({"sub": SUBJECT, "exp": n + 600, "iat": n, "family_id": 5}),
            "ValidationError",
            "family_id",
        ),
        (
            json!({"sub": SUBJECT, "exp": n + 600, "iat": n, "roles": null}),
            "ValidationError",
            "roles",
        ),
        (
            json!({"sub": SUBJECT, "exp": n + 600, "iat": n, "roles": [1]}),
            "ValidationError",
            "roles",
        ),
        (
            json!({"sub": SUBJECT, "exp": (n + 600).to_string(), "iat": n}),
            "TypeError",
            "exp",
        ),
        (
            json!({"sub": SUBJECT, "exp": n + 600, "iat": n.to_string()}),
            "TypeError",
            "iat",
        ),
    ] {
        let token = ours.encode_value(&payload).unwrap();
        let seen = py.call(&["decode", "--token", &token, "--session"]);
        assert_eq!(seen["uncaught"], true, "{seen}");
        assert_eq!(seen["error"], uncaught, "{seen}");
        match ours.decode(&token, Expect::Session).await {
            Err(e @ FlowError::InvalidToken(TokenRejection::InvalidClaims(name))) => {
                assert_eq!(name, field);
                assert_eq!(e.status(), 401);
            }
            other => panic!("{payload}: expected a refusal of {field}, got {other:?}"),
        }
    }
}

// ---- (b), (c), (d): sessions on a shared database ----------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

/// What the two sides share besides the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shared {
    /// Nothing: each keeps its own blacklist (the reference its in-memory
    /// one, we our store's table). Revocations travel through the refresh
    /// rows only.
    Rows,
    /// The Redis blacklist, in the reference's key layout.
    Redis,
}

/// The two sides on one database.
struct World {
    /// Dropped first: the Python service ends before its database goes.
    py: Reference,
    auth: AuthService,
    shared: Shared,
    _redis: Option<RedisKeys>,
    _db: DbGuard,
}

/// Removes what a world made in the database when it ends.
enum DbGuard {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        match self {
            DbGuard::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            DbGuard::Postgres { url, schema } => {
                let (url, schema) = (url.clone(), schema.clone());
                let dropped = std::thread::spawn(move || {
                    on_own_runtime(async move {
                        let pool = sqlx::PgPool::connect(&url).await?;
                        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&pool)
                            .await?;
                        pool.close().await;
                        Ok::<(), sqlx::Error>(())
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
                    panic!("could not drop the test schema: {dropped:?}");
                }
            }
        }
    }
}

/// Deletes the keys under a world's Redis prefix when it ends (every key
/// has a TTL anyway).
struct RedisKeys {
    url: String,
    prefix: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("{}*", self.prefix));
        let _ = std::thread::spawn(move || {
            on_own_runtime(async move {
                use fullauth_redis::redis::AsyncCommands as _;
                let client = fullauth_redis::redis::Client::open(url)?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                let keys: Vec<String> = conn.keys(pattern).await?;
                if !keys.is_empty() {
                    let _: () = conn.del(keys).await?;
                }
                Ok::<(), fullauth_redis::redis::RedisError>(())
            })
        })
        .join();
    }
}

fn on_own_runtime<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

const SCHEMA_PREFIX: &str = "fullauth_flows_compat_";

/// Drops schemas that earlier runs left behind (killed before their guard
/// ran) once they are an hour old.
async fn drop_stale_schemas(pool: &sqlx::PgPool) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1")
            .bind(format!("{SCHEMA_PREFIX}%"))
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let hour_ago = unix_now() - 3600;
    for name in names {
        let born = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if born.is_some_and(|t| t < hour_ago) {
            let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await;
        }
    }
}

/// Our store on the durable part, with the blacklist on Redis when shared.
fn compose<S>(durable: S, redis: Option<RedisStore>) -> Arc<dyn Store>
where
    S: DurableStore + BlacklistStore + LockoutStore + RateLimitStore + ChallengeStore + Clone,
    S: 'static,
{
    match redis {
        None => Arc::new(durable),
        Some(redis) => Arc::new(
            ComposedStore::builder()
                .durable(durable.clone())
                .short_lived(durable)
                .blacklist(redis)
                .build()
                .expect("a composition"),
        ),
    }
}

/// Both sides on a new database (and Redis prefix); `None` after [`skip`].
async fn world(db: Db, shared: Shared) -> Option<World> {
    let python = venv_python()?;
    let db_url = match db {
        Db::Postgres => Some(service_url("FULLAUTH_TEST_DATABASE_URL")?),
        Db::Sqlite => None,
    };
    let redis_url = match shared {
        Shared::Redis => Some(service_url("FULLAUTH_TEST_REDIS_URL")?),
        Shared::Rows => None,
    };
    let mut setup: Vec<String> = vec!["--secret".into(), SECRET.into()];

    let redis = match &redis_url {
        None => None,
        Some(url) => {
            let prefix = format!("fullauth-flows-compat-{}:", &unique()[..12]);
            let store = RedisStore::builder()
                .key_prefix(prefix.clone())
                .timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .unwrap_or_else(|e| panic!("the Redis at {url} does not answer: {e}"));
            setup.extend([
                "--redis".into(),
                url.clone(),
                "--redis-prefix".into(),
                prefix.clone(),
            ]);
            Some((
                store,
                RedisKeys {
                    url: url.clone(),
                    prefix,
                },
            ))
        }
    };
    let (redis_store, redis_keys) = match redis {
        Some((store, keys)) => (Some(store), Some(keys)),
        None => (None, None),
    };

    let (store, guard) = match (db, db_url) {
        (Db::Postgres, Some(url)) => {
            let schema = format!("{SCHEMA_PREFIX}{}_{}", unix_now(), &unique()[..8]);
            let guard = DbGuard::Postgres {
                url: url.clone(),
                schema: schema.clone(),
            };
            let pg = PgStore::builder()
                .schema(schema.clone())
                .max_connections(4)
                .migrate(true)
                .connect(&url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at FULLAUTH_TEST_DATABASE_URL: {e}"));
            drop_stale_schemas(pg.pool()).await;
            let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            setup.extend([
                "--db".into(),
                format!("postgresql+asyncpg://{rest}"),
                "--schema".into(),
                schema,
            ]);
            (compose(pg, redis_store), guard)
        }
        _ => {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("flows-compat-{}.db", unique()));
            let guard = DbGuard::Sqlite(path.clone());
            let sqlite = SqliteStore::builder()
                .migrate(true)
                .open(&path)
                .await
                .expect("a SQLite database");
            setup.extend([
                "--db".into(),
                format!("sqlite+aiosqlite:///{}", path.display()),
            ]);
            (compose(sqlite, redis_store), guard)
        }
    };

    let mut config = FlowConfig::new(SecretKey::new(SECRET).expect("a valid secret"));
    // Not under test here; they would only count the calls.
    config.rate_limits = None;
    config.lockout = None;
    let auth = AuthService::new(store, config)
        .expect("the service")
        // Cheap hashing: the reference verifies any argon2id parameters.
        .with_hasher(PasswordHasher::new(8, 1, 1).expect("hasher parameters"));
    Some(World {
        py: Reference::start(&python, &setup),
        auth,
        shared,
        _redis: redis_keys,
        _db: guard,
    })
}

impl World {
    fn py(&mut self, args: &[&str]) -> Value {
        self.py.call(args)
    }

    /// A new user signed in by the reference (`issue_token_pair` after
    /// creating the user through its adapter).
    fn python_login(&mut self, email: &str, agent: &str) -> Value {
        ok(self.py(&[
            "login",
            "--email",
            email,
            "--password",
            PASSWORD,
            "--roles",
            "editor",
            "--user-agent",
            agent,
            "--ip",
            "198.51.100.7",
        ]))
    }

    /// A new user registered and signed in by our flows, with the role
    /// `editor`.
    async fn rust_login(&self, email: &str) -> (TokenPair, UserId) {
        let c = ctx("203.0.113.9", "rust-compat/1");
        let registered = self
            .auth
            .register(&c, RegisterRequest::new(email, PASSWORD))
            .await
            .expect("register");
        let user = registered.user().expect("a new user").clone();
        self.auth
            .assign_role(&user.id, "editor")
            .await
            .expect("a role");
        match self.auth.login(&c, email, PASSWORD).await.expect("login") {
            LoginOutcome::SignedIn(signed_in) => (signed_in.tokens, user.id),
            other => panic!("expected a session, got {other:?}"),
        }
    }

    async fn row(&self, refresh_token: &str) -> fullauth_api::RefreshToken {
        self.auth
            .store()
            .get_refresh_token(&TokenDigest::of(refresh_token))
            .await
            .expect("read the row")
            .expect("the row exists")
    }

    async fn claims(&self, token: &str) -> Claims {
        self.auth.engine().verify(token).expect("a token of ours")
    }
}

/// Runs `scenario` on a new world, or returns after a skip notice.
async fn run<F, Fut>(db: Db, shared: Shared, scenario: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(world) = world(db, shared).await {
        scenario(world).await;
    }
}

macro_rules! on_every_setup {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite_rows {
            $( #[tokio::test] async fn $scenario() {
                super::run(super::Db::Sqlite, super::Shared::Rows, super::$scenario).await
            } )*
        }
        mod sqlite_redis {
            $( #[tokio::test] async fn $scenario() {
                super::run(super::Db::Sqlite, super::Shared::Redis, super::$scenario).await
            } )*
        }
        mod postgres_rows {
            $( #[tokio::test] async fn $scenario() {
                super::run(super::Db::Postgres, super::Shared::Rows, super::$scenario).await
            } )*
        }
        mod postgres_redis {
            $( #[tokio::test] async fn $scenario() {
                super::run(super::Db::Postgres, super::Shared::Redis, super::$scenario).await
            } )*
        }
    };
}

on_every_setup!(
    reference_session_rotates_through_rust,
    rust_session_rotates_through_the_reference,
    rust_replay_of_a_token_the_reference_rotated_kills_the_family,
    reference_replay_of_a_token_we_rotated_kills_the_family,
    reference_logout_ends_the_session_here,
    rust_logout_ends_the_session_in_the_reference,
    reset_and_verification_tokens_cross_once,
);

/// (b) A session the reference started (user, refresh row and tokens all
/// its own) rotates through our refresh flow; the reference sees its token
/// revoked and ours live in the same family with our client's metadata,
/// takes our new access token as its current user, and rotates our new
/// refresh token in turn, which we then see.
async fn reference_session_rotates_through_rust(mut w: World) {
    let login = w.python_login("py.rotate@example.com", "py-agent/1");
    let (access0, refresh0) = (s(&login["access_token"]), s(&login["refresh_token"]));
    let family = s(&login["family_id"]).to_string();
    let user_id = s(&login["user_id"]).to_string();
    let auth_time = login["access_claims"]["auth_time"].as_i64().unwrap();

    // Our view of the reference's session.
    let me = w
        .auth
        .authenticate(access0)
        .await
        .expect("their access token");
    assert_eq!(me.user.id.to_string(), user_id);
    assert_eq!(me.family_id(), Some(family.as_str()));
    let row = w.row(refresh0).await;
    assert_eq!(row.family_id.as_str(), family);
    assert_eq!(row.user_agent.as_deref(), Some("py-agent/1"));
    assert!(!row.revoked);

    let c = ctx("203.0.113.20", "rust-agent/2");
    let pair = w.auth.refresh(&c, refresh0).await.expect("our rotation");
    assert_eq!(pair.family_id.as_str(), family);
    assert_eq!(pair.expires_in, 1800);
    let access1 = w.claims(&pair.access_token).await;
    let refresh1 = w.claims(&pair.refresh_token).await;
    assert_eq!(access1.family_id.as_deref(), Some(family.as_str()));
    assert_eq!(access1.auth_time, Some(auth_time), "auth_time carried over");
    assert_eq!(refresh1.auth_time, Some(auth_time));
    assert_eq!(access1.roles, Some(vec!["editor".to_string()]));

    // The reference sees the rotation.
    let old = ok(w.py(&["row", "--token", refresh0]));
    assert_eq!(old["revoked"], true, "{old}");
    let new = ok(w.py(&["row", "--token", &pair.refresh_token]));
    assert_eq!(new["exists"], true, "{new}");
    assert_eq!(new["revoked"], false, "{new}");
    assert_eq!(new["family_id"], family.as_str());
    assert_eq!(new["user_id"], user_id.as_str());
    assert_eq!(new["user_agent"], "rust-agent/2");
    assert_eq!(new["ip_address"], "203.0.113.20");
    assert_eq!(new["expires_at"], refresh1.exp);
    assert_eq!(new["sessions"], json!([family]));
    // … takes our access token …
    let seen = ok(w.py(&["session-check", "--token", &pair.access_token]));
    assert_eq!(seen["user_id"], user_id.as_str());
    assert_eq!(seen["payload"]["auth_time"], auth_time);
    assert_eq!(seen["payload"]["roles"], json!(["editor"]));
    // … and rotates our refresh token in its turn.
    let theirs = ok(w.py(&[
        "refresh",
        "--token",
        &pair.refresh_token,
        "--user-agent",
        "py-agent/3",
    ]));
    assert_eq!(theirs["family_id"], family.as_str());
    assert_eq!(theirs["access_claims"]["auth_time"], auth_time);
    assert!(w.row(&pair.refresh_token).await.revoked);
    let latest = w.row(s(&theirs["refresh_token"])).await;
    assert!(!latest.revoked);
    assert_eq!(latest.family_id.as_str(), family);
    assert_eq!(latest.user_agent.as_deref(), Some("py-agent/3"));
    w.auth
        .authenticate(s(&theirs["access_token"]))
        .await
        .expect("their newest access token");
    let sessions = w
        .auth
        .list_sessions(&me.user.id, Some(&family))
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].family_id.as_str(), family);
    assert!(sessions[0].current);
}

/// (b) The other way: a session we started (our user, row and tokens)
/// rotates through the reference's refresh flow; we see our token revoked
/// and its new one live in the same family, take its access token, and
/// rotate its refresh token, which it then sees.
async fn rust_session_rotates_through_the_reference(mut w: World) {
    let (pair, user_id) = w.rust_login("rust.rotate@example.com").await;
    let ours = w.claims(&pair.access_token).await;
    let family = pair.family_id.as_str().to_string();

    let seen = ok(w.py(&["session-check", "--token", &pair.access_token]));
    assert_eq!(seen["user_id"], user_id.to_string());
    assert_eq!(seen["payload"]["family_id"], family.as_str());
    let row = ok(w.py(&["row", "--token", &pair.refresh_token]));
    assert_eq!(row["revoked"], false);
    assert_eq!(row["user_agent"], "rust-compat/1");
    assert_eq!(row["ip_address"], "203.0.113.9");

    let theirs = ok(w.py(&[
        "refresh",
        "--token",
        &pair.refresh_token,
        "--user-agent",
        "py-agent/9",
        "--ip",
        "198.51.100.99",
    ]));
    assert_eq!(theirs["family_id"], family.as_str());
    assert_eq!(theirs["expires_in"], 1800);
    assert_eq!(theirs["token_type"], "bearer");
    assert_eq!(theirs["access_claims"]["auth_time"], json!(ours.auth_time));
    assert_eq!(theirs["access_claims"]["roles"], json!(["editor"]));

    // We see the rotation.
    assert!(w.row(&pair.refresh_token).await.revoked);
    let new = w.row(s(&theirs["refresh_token"])).await;
    assert!(!new.revoked);
    assert_eq!(new.family_id.as_str(), family);
    assert_eq!(new.user_id, user_id);
    assert_eq!(new.user_agent.as_deref(), Some("py-agent/9"));
    assert_eq!(new.ip_address.as_deref(), Some("198.51.100.99"));
    let me = w
        .auth
        .authenticate(s(&theirs["access_token"]))
        .await
        .expect("their access token");
    assert_eq!(me.user.id, user_id);
    assert_eq!(me.claims.auth_time, ours.auth_time);

    // And rotate what the reference issued.
    let next = w
        .auth
        .refresh(
            &ctx("203.0.113.10", "rust-compat/2"),
            s(&theirs["refresh_token"]),
        )
        .await
        .expect("our rotation of their token");
    assert_eq!(next.family_id.as_str(), family);
    let old = ok(w.py(&["row", "--token", s(&theirs["refresh_token"])]));
    assert_eq!(old["revoked"], true);
    let latest = ok(w.py(&["row", "--token", &next.refresh_token]));
    assert_eq!(latest["revoked"], false);
    assert_eq!(latest["sessions"], json!([family]));
}

/// (d) The reference rotates A into B; we are shown A again. That is a
/// reuse: the family is revoked in the database (the reference's B row is
/// revoked, its session list empty, its refresh of B refused) and its key
/// blacklisted — in our blacklist, so B's access token dies here, and with
/// the shared blacklist in the reference too.
async fn rust_replay_of_a_token_the_reference_rotated_kills_the_family(mut w: World) {
    let login = w.python_login("py.replayed@example.com", "py-agent/1");
    let a = s(&login["refresh_token"]).to_string();
    let family = s(&login["family_id"]).to_string();
    let b = ok(w.py(&["refresh", "--token", &a]));

    let replay = w
        .auth
        .refresh(&ctx("203.0.113.66", "attacker/1"), &a)
        .await
        .expect_err("a replay must fail");
    match &replay {
        FlowError::TokenReused { family_id } => assert_eq!(family_id.as_str(), family),
        other => panic!("expected a reuse, got {other:?}"),
    }
    assert_eq!(replay.status(), 401);

    let row = ok(w.py(&["row", "--token", s(&b["refresh_token"])]));
    assert_eq!(row["revoked"], true, "B is revoked with its family: {row}");
    assert_eq!(row["sessions"], json!([]));
    assert!(matches!(
        w.auth.authenticate(s(&b["access_token"])).await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    let again = w.py(&["refresh", "--token", s(&b["refresh_token"])]);
    match w.shared {
        Shared::Redis => {
            // Our family key, in the reference's layout, stops B at decode.
            let key = format!("family:{family}");
            assert_eq!(
                ok(w.py(&["blacklisted", "--key", &key]))["blacklisted"],
                true
            );
            refused(&again, "TokenBlacklistedError");
            refused(
                &w.py(&["session-check", "--token", s(&b["access_token"])]),
                "TokenBlacklistedError",
            );
        }
        // Its own blacklist knows nothing; the revoked row catches B.
        Shared::Rows => refused(&again, "RefreshTokenReuseError"),
    }
}

/// (d) The other way: we rotate A into B; the reference is shown A. It
/// detects the reuse through our revoked row and burns the family: we see
/// B revoked, our refresh of B is refused, and B's access token dies in the
/// reference — and here too when the blacklist is shared.
async fn reference_replay_of_a_token_we_rotated_kills_the_family(mut w: World) {
    let (a, user_id) = w.rust_login("rust.replayed@example.com").await;
    let family = a.family_id.clone();
    let b = w
        .auth
        .refresh(&ctx("203.0.113.9", "rust-compat/1"), &a.refresh_token)
        .await
        .expect("our rotation");

    refused(
        &w.py(&["refresh", "--token", &a.refresh_token]),
        "RefreshTokenReuseError",
    );
    assert!(
        w.row(&b.refresh_token).await.revoked,
        "B revoked with its family"
    );
    assert!(
        w.auth
            .store()
            .list_sessions(&user_id)
            .await
            .unwrap()
            .is_empty()
    );
    refused(
        &w.py(&["session-check", "--token", &b.access_token]),
        "TokenBlacklistedError",
    );
    let again = w
        .auth
        .refresh(&ctx("203.0.113.9", "rust-compat/1"), &b.refresh_token)
        .await
        .expect_err("B is dead");
    assert_eq!(again.status(), 401);
    match w.shared {
        Shared::Redis => {
            // The reference's family key stops B at decode here.
            assert!(matches!(
                again,
                FlowError::InvalidToken(TokenRejection::Revoked)
            ));
            assert!(matches!(
                w.auth.authenticate(&b.access_token).await,
                Err(FlowError::InvalidToken(TokenRejection::Revoked))
            ));
            let key = TokenEngine::family_key(family.as_str()).unwrap();
            assert!(w.auth.store().is_blacklisted(&key).await.unwrap());
        }
        // Our blacklist knows nothing; the revoked row makes B a reuse.
        Shared::Rows => match again {
            FlowError::TokenReused { family_id } => assert_eq!(family_id, family),
            other => panic!("expected a reuse, got {other:?}"),
        },
    }
}

/// (c) Sessions the reference ends — one with its access token, one with
/// only its refresh token (`POST /logout` either way) — are over here: the
/// rows are revoked, our refresh refuses them, and with the shared
/// blacklist our decode refuses their access tokens too.
async fn reference_logout_ends_the_session_here(mut w: World) {
    let first = w.python_login("py.logout@example.com", "py-agent/1");
    let second = w.python_login("py.logout@example.com", "py-agent/2");
    let by_access = ok(w.py(&["logout", "--access", s(&first["access_token"])]));
    assert_eq!(by_access["via"], "access");
    let by_refresh = ok(w.py(&["logout", "--refresh", s(&second["refresh_token"])]));
    assert_eq!(by_refresh["via"], "refresh");

    for session in [&first, &second] {
        let (access, refresh) = (s(&session["access_token"]), s(&session["refresh_token"]));
        let family = s(&session["family_id"]);
        assert!(w.row(refresh).await.revoked);
        // The reference itself refuses them now (sanity).
        refused(
            &w.py(&["session-check", "--token", access]),
            "TokenBlacklistedError",
        );
        let refreshed = w
            .auth
            .refresh(&ctx("203.0.113.9", "rust-compat/1"), refresh)
            .await
            .expect_err("a signed-out session");
        assert_eq!(refreshed.status(), 401);
        match w.shared {
            Shared::Redis => {
                assert!(matches!(
                    refreshed,
                    FlowError::InvalidToken(TokenRejection::Revoked)
                ));
                assert!(matches!(
                    w.auth.authenticate(access).await,
                    Err(FlowError::InvalidToken(TokenRejection::Revoked))
                ));
                let key = TokenEngine::family_key(family).unwrap();
                assert!(w.auth.store().is_blacklisted(&key).await.unwrap());
            }
            Shared::Rows => assert!(
                matches!(refreshed, FlowError::TokenReused { .. }),
                "{refreshed:?}"
            ),
        }
    }
    if w.shared == Shared::Redis {
        // The access token's own jti too, for its remaining life.
        let jti = w.claims(s(&first["access_token"])).await.jti;
        let key = fullauth_api::StateKey::new(jti).unwrap();
        assert!(w.auth.store().is_blacklisted(&key).await.unwrap());
    }
}

/// (c) The other way: sessions we end (`sign_out` with the access token,
/// and with only the refresh token) are over in the reference: the rows are
/// revoked, its refresh refuses them, and with the shared blacklist its
/// decode refuses their access tokens (the keys are its own: `<jti>` and
/// `family:<id>`).
async fn rust_logout_ends_the_session_in_the_reference(mut w: World) {
    let (first, user_id) = w.rust_login("rust.logout@example.com").await;
    let second = match w
        .auth
        .login(
            &ctx("203.0.113.9", "rust-compat/2"),
            "rust.logout@example.com",
            PASSWORD,
        )
        .await
        .expect("a second login")
    {
        LoginOutcome::SignedIn(signed_in) => signed_in.tokens,
        other => panic!("expected a session, got {other:?}"),
    };
    let sub = w
        .auth
        .sign_out(Some(&first.access_token), None)
        .await
        .expect("sign out");
    assert_eq!(sub, user_id.to_string());
    let sub = w
        .auth
        .sign_out(None, Some(&second.refresh_token))
        .await
        .expect("sign out with the refresh token");
    assert_eq!(sub, user_id.to_string());

    for pair in [&first, &second] {
        let row = ok(w.py(&["row", "--token", &pair.refresh_token]));
        assert_eq!(row["revoked"], true, "{row}");
        assert!(matches!(
            w.auth.authenticate(&pair.access_token).await,
            Err(FlowError::InvalidToken(TokenRejection::Revoked))
        ));
        let refreshed = w.py(&["refresh", "--token", &pair.refresh_token]);
        match w.shared {
            Shared::Redis => {
                refused(&refreshed, "TokenBlacklistedError");
                refused(
                    &w.py(&["session-check", "--token", &pair.access_token]),
                    "TokenBlacklistedError",
                );
                let key = format!("family:{}", pair.family_id.as_str());
                assert_eq!(
                    ok(w.py(&["blacklisted", "--key", &key]))["blacklisted"],
                    true
                );
            }
            Shared::Rows => refused(&refreshed, "RefreshTokenReuseError"),
        }
    }
    if w.shared == Shared::Redis {
        let jti = w.claims(&first.access_token).await.jti;
        assert_eq!(
            ok(w.py(&["blacklisted", "--key", &jti]))["blacklisted"],
            true
        );
    }
    let left = ok(w.py(&["user", "--email", "rust.logout@example.com"]));
    assert_eq!(left["sessions"], json!([]));
}

/// Purpose-scoped tokens across the two: a password-reset link of either
/// side is redeemed by the other (its `pwd` fingerprint of the stored hash
/// agrees), the new password verifies on both sides, every session ends,
/// and the link works once. Email-verification tokens likewise.
async fn reset_and_verification_tokens_cross_once(mut w: World) {
    let email = "py.reset@example.com";
    let session = w.python_login(email, "py-agent/1");
    let c = ctx("203.0.113.9", "rust-compat/1");

    // Our reset link, redeemed by the reference.
    let ours = w
        .auth
        .request_password_reset(&c, email)
        .await
        .unwrap()
        .expect("a known email");
    ok(w.py(&[
        "reset-password",
        "--token",
        &ours.token,
        "--password",
        "Reset by python 1",
    ]));
    let user = ok(w.py(&["user", "--email", email, "--password", "Reset by python 1"]));
    assert_eq!(user["password_matches"], true);
    assert_eq!(user["sessions"], json!([]), "a reset ends every session");
    let hash = w
        .auth
        .store()
        .get_password_hash(&ours.user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        w.auth
            .hasher()
            .verify("Reset by python 1", &hash)
            .await
            .unwrap()
    );
    assert!(w.row(s(&session["refresh_token"])).await.revoked);
    // Once: the reference burned it, and the password it was issued for is
    // gone.
    refused(
        &w.py(&[
            "reset-password",
            "--token",
            &ours.token,
            "--password",
            "Again 12345",
        ]),
        "TokenBlacklistedError",
    );
    let again = w
        .auth
        .reset_password(&c, &ours.token, "Again 12345")
        .await
        .expect_err("used");
    match w.shared {
        Shared::Redis => assert!(matches!(
            again,
            FlowError::InvalidToken(TokenRejection::Revoked)
        )),
        Shared::Rows => assert!(matches!(
            again,
            FlowError::InvalidToken(TokenRejection::Stale)
        )),
    }

    // The reference's link, redeemed by us.
    let theirs = ok(w.py(&["reset-token", "--email", email]));
    let link = s(&theirs["token"]).to_string();
    assert_eq!(theirs["claims"]["extra"]["purpose"], "password_reset");
    w.auth
        .reset_password(&c, &link, "Reset by rust 2")
        .await
        .expect("their link");
    let user = ok(w.py(&["user", "--email", email, "--password", "Reset by rust 2"]));
    assert_eq!(user["password_matches"], true, "our hash verifies there");
    let replay = w.py(&[
        "reset-password",
        "--token",
        &link,
        "--password",
        "Again 12345",
    ]);
    match w.shared {
        Shared::Redis => refused(&replay, "TokenBlacklistedError"),
        // Stale: the password it was issued for has changed.
        Shared::Rows => refused(&replay, "TokenError"),
    }
    assert!(
        w.auth
            .reset_password(&c, &link, "Again 12345")
            .await
            .is_err()
    );

    // Email verification: the reference's token, confirmed by us …
    let verify = ok(w.py(&["verify-token", "--email", email]));
    let token = s(&verify["token"]).to_string();
    let user = w.auth.verify_email(&c, &token).await.expect("their token");
    assert!(user.is_verified);
    assert_eq!(ok(w.py(&["user", "--email", email]))["is_verified"], true);
    if w.shared == Shared::Redis {
        refused(
            &w.py(&["verify-email", "--token", &token]),
            "TokenBlacklistedError",
        );
    }
    // … and ours, confirmed by the reference.
    let (_, other) = w.rust_login("rust.verify@example.com").await;
    let token = w
        .auth
        .create_email_verification_token(&other)
        .await
        .unwrap()
        .expect("an unverified user");
    let seen = ok(w.py(&["verify-email", "--token", &token]));
    assert_eq!(seen["is_verified"], true);
    let stored = w
        .auth
        .store()
        .get_user_by_email(&Email::new("rust.verify@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_verified);
    if w.shared == Shared::Redis {
        assert!(matches!(
            w.auth.verify_email(&c, &token).await,
            Err(FlowError::InvalidToken(TokenRejection::Revoked))
        ));
    }
}
