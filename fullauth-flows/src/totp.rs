//! TOTP (RFC 6238 over RFC 4226) as the reference's MFA uses it through
//! PyOTP: HMAC-SHA-1, 6 digits, 30-second steps, one step of drift either
//! side, constant-time comparison, base32 secrets of 32 characters.
//!
//! ```
//! use fullauth_flows::totp;
//! let secret = totp::generate_secret().unwrap();
//! assert_eq!(secret.len(), 32);
//! let now = 1_700_000_000;
//! let code = totp::code_at(&secret, totp::step_of(now)).unwrap();
//! assert_eq!(code.len(), 6);
//! assert_eq!(totp::matching_step(&secret, &code, now), Some(totp::step_of(now)));
//! assert_eq!(totp::matching_step(&secret, &code, now + 31), Some(totp::step_of(now)));
//! assert_eq!(totp::matching_step(&secret, &code, now + 90), None);
//! ```

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::error::FlowError;

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Steps of clock drift accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Characters of a generated secret (PyOTP's `random_base32()`).
pub const SECRET_CHARS: usize = 32;

/// A new random secret: 32 base32 characters (160 bits), the shape of
/// PyOTP's `random_base32()`.
///
/// # Errors
/// [`FlowError::Internal`] when the operating system's random source fails.
pub fn generate_secret() -> Result<String, FlowError> {
    let mut bytes = [0u8; SECRET_CHARS * 5 / 8];
    crate::random::fill(&mut bytes)?;
    Ok(BASE32_NOPAD.encode(&bytes))
}

/// The key bytes of a base32 secret, decoded as PyOTP does: case-insensitive,
/// padding optional. `None` when it is not base32.
pub fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret
        .trim_end_matches('=')
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // Unpadded base32 has no valid length of 1, 3 or 6 (mod 8).
    BASE32_NOPAD.decode(cleaned.as_bytes()).ok()
}

/// The time step of a Unix time (floor division by 30).
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The 6-digit code (zero-padded) of a step, or `None` for a secret that is
/// not base32 or a negative step.
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let key = secret_bytes(secret)?;
    let counter = u64::try_from(step).ok()?;
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&key).ok()?;
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.last().copied().unwrap_or(0) & 0x0f);
    let word = digest.get(offset..offset + 4)?;
    let binary = (u32::from(word[0] & 0x7f) << 24)
        | (u32::from(word[1]) << 16)
        | (u32::from(word[2]) << 8)
        | u32::from(word[3]);
    Some(format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    ))
}

/// The step within the drift window around `unix_seconds` whose code is
/// `code` (compared in constant time, as given: no trimming), or `None`.
pub fn matching_step(secret: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let current = step_of(unix_seconds);
    let mut found = None;
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        // Every step is computed and compared, whatever matched before.
        let matched = code_at(secret, step).is_some_and(|expected| {
            fullauth_api::constant_time_eq(expected.as_bytes(), code.as_bytes())
        });
        if matched && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI an authenticator reads from a QR code, as PyOTP's
/// `TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)` builds
/// it: `otpauth://totp/<issuer>:<account>?secret=<secret>&issuer=<issuer>`,
/// percent-encoded the same way.
///
/// ```
/// use fullauth_flows::totp::provisioning_uri;
/// assert_eq!(
///     provisioning_uri("JBSWY3DPEHPK3PXP", "a@example.com", Some("Probe")),
///     "otpauth://totp/Probe:a%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Probe"
/// );
/// assert_eq!(
///     provisioning_uri("JBSWY3DPEHPK3PXP", "a b/c", None),
///     "otpauth://totp/a%20b/c?secret=JBSWY3DPEHPK3PXP"
/// );
/// ```
pub fn provisioning_uri(secret: &str, account: &str, issuer: Option<&str>) -> String {
    let mut label = quote(account, true);
    let mut query = format!("secret={}", quote(secret, false));
    if let Some(issuer) = issuer {
        label = format!("{}:{label}", quote(issuer, true));
        query.push_str("&issuer=");
        query.push_str(&quote(issuer, false));
    }
    format!("otpauth://totp/{label}?{query}")
}

/// Python's `urllib.parse.quote` (`keep_slash`, the label) or `quote_plus`
/// with `+` written as `%20` (the query values).
fn quote(value: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 seed "12345678901234567890": the last six
    /// digits of the eight-digit values.
    #[test]
    fn rfc6238_vectors() {
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        for (time, code) in [
            (59i64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(
                code_at(&secret, step_of(time)).as_deref(),
                Some(code),
                "t={time}"
            );
        }
    }

    /// Values printed by PyOTP (`TOTP(s).generate_otp(step)` and
    /// `provisioning_uri(name=..., issuer_name=...)`).
    #[test]
    fn agrees_with_pyotp() {
        let s = "JBSWY3DPEHPK3PXP";
        for (step, code) in [
            (0, "282760"),
            (1, "996554"),
            (56_666_666, "324550"),
            (59_000_000, "119438"),
        ] {
            assert_eq!(code_at(s, step).as_deref(), Some(code), "step {step}");
        }
        assert_eq!(code_at("jbswy3dpehpk3pxp", 1).as_deref(), Some("996554"));
        assert_eq!(
            provisioning_uri(s, "a b/c@example.com", Some("Flows Test/x")),
            "otpauth://totp/Flows%20Test/x:a%20b/c%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Flows%20Test%2Fx"
        );
    }

    #[test]
    fn secrets_decode_like_pyotp() {
        let upper = "JBSWY3DPEHPK3PXP";
        assert_eq!(secret_bytes(upper), secret_bytes("jbswy3dpehpk3pxp"));
        assert_eq!(secret_bytes(upper), secret_bytes("JBSWY3DPEHPK3PXP===="));
        assert_eq!(secret_bytes(upper).unwrap(), b"Hello!\xde\xad\xbe\xef");
        assert!(secret_bytes("not base32!").is_none());
        assert!(code_at("not base32!", 1).is_none());
        assert!(code_at(upper, -1).is_none());
        let generated = generate_secret().unwrap();
        assert_eq!(generated.len(), SECRET_CHARS);
        assert_eq!(secret_bytes(&generated).map(|b| b.len()), Some(20));
        assert_ne!(generated, generate_secret().unwrap());
    }

    #[test]
    fn drift_window_is_one_step_each_side() {
        let secret = "JBSWY3DPEHPK3PXP";
        let now = 1_700_000_015; // the middle of a step
        let step = step_of(now);
        let prev = code_at(secret, step - 1).unwrap();
        let next = code_at(secret, step + 1).unwrap();
        let far = code_at(secret, step + 2).unwrap();
        assert_eq!(matching_step(secret, &prev, now), Some(step - 1));
        assert_eq!(matching_step(secret, &next, now), Some(step + 1));
        assert_eq!(matching_step(secret, &far, now), None);
        assert_eq!(matching_step(secret, "", now), None);
        assert_eq!(matching_step(secret, " 123456", now), None);
        let current = code_at(secret, step).unwrap();
        assert_eq!(matching_step(secret, &format!("{current} "), now), None);
    }
}
