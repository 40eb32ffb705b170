//! Password hashing: argon2id, off the async runtime.
//!
//! [`PasswordHasher`] hashes with argon2id and the OWASP parameters by default
//! (19 MiB, 2 iterations, 1 lane), verifies any PHC argon2 string with the
//! parameters written in it — including hashes made by Python's argon2-cffi
//! (`m=65536,t=3,p=4`) — says when a hash should be replaced, and offers a
//! dummy verification so that a login for an unknown account costs the same
//! time as one for a real account.
//!
//! Hashing and verifying take tens of milliseconds of CPU, so the async methods
//! run them on tokio's blocking pool, never on a runtime worker thread.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use fullauth_api::PasswordHasher;
//! let hasher = PasswordHasher::default();
//! let hash = hasher.hash("correct horse").await.unwrap();
//! assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//! assert!(hasher.verify("correct horse", &hash).await.unwrap());
//! assert!(!hasher.verify("wrong", &hash).await.unwrap());
//! assert!(!hasher.needs_rehash(&hash));
//! # });
//! ```

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

use crate::error::StoreError;
use crate::validate::HashedPassword;

pub use crate::validate::MAX_PASSWORD_CHARS;

/// Hashes and verifies passwords with argon2id. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    dummy: OnceLock<String>,
}

impl Default for PasswordHasher {
    /// The OWASP parameters: m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Self::from_params(Params::default())
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.inner.params;
        write!(
            f,
            "PasswordHasher(argon2id m={} t={} p={})",
            p.m_cost(),
            p.t_cost(),
            p.p_cost()
        )
    }
}

impl PasswordHasher {
    /// A hasher with explicit argon2id parameters.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when argon2 refuses the parameters.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, StoreError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| StoreError::invalid("argon2_params", e.to_string()))?;
        Ok(Self::from_params(params))
    }

    fn from_params(params: Params) -> Self {
        PasswordHasher {
            inner: Arc::new(Inner {
                params,
                dummy: OnceLock::new(),
            }),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.inner.params.clone(),
        )
    }

    /// Hashes on the current thread. Prefer [`hash`](Self::hash) in async code.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a password over
    /// [`MAX_PASSWORD_CHARS`] characters.
    pub fn hash_blocking(&self, password: &str) -> Result<HashedPassword, StoreError> {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(StoreError::invalid(
                "password",
                format!("longer than {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        let salt = SaltString::generate(&mut OsRng);
        let phc = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| StoreError::backend_message(format!("argon2 hashing failed: {e}")))?
            .to_string();
        HashedPassword::new(phc)
    }

    /// Verifies on the current thread. Prefer [`verify`](Self::verify) in
    /// async code. A malformed or non-argon2 stored value verifies as false.
    pub fn verify_blocking(&self, password: &str, hash: &HashedPassword) -> bool {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return false;
        }
        match PasswordHash::new(hash.as_str()) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Hashes `password` on the blocking pool.
    ///
    /// # Errors
    /// As [`hash_blocking`](Self::hash_blocking).
    pub async fn hash(&self, password: &str) -> Result<HashedPassword, StoreError> {
        let this = self.clone();
        let password = password.to_owned();
        off_runtime(move || this.hash_blocking(&password)).await?
    }

    /// Verifies `password` against a stored hash on the blocking pool.
    ///
    /// # Errors
    /// Only when the blocking pool fails to run the job.
    pub async fn verify(&self, password: &str, hash: &HashedPassword) -> Result<bool, StoreError> {
        let this = self.clone();
        let password = password.to_owned();
        let hash = hash.clone();
        off_runtime(move || this.verify_blocking(&password, &hash)).await
    }

    /// Spends the time of one verification against a fixed hash made with this
    /// hasher's parameters, and returns false. Call it when the account does
    /// not exist or has no password, so response time does not reveal which.
    ///
    /// # Errors
    /// Only when the blocking pool fails to run the job.
    pub async fn dummy_verify(&self, password: &str) -> Result<bool, StoreError> {
        let this = self.clone();
        let password = password.to_owned();
        off_runtime(move || {
            let dummy = this.inner.dummy.get_or_init(|| {
                this.hash_blocking("fullauth dummy password for timing equalisation")
                    .map(String::from)
                    .unwrap_or_default()
            });
            if let Ok(h) = HashedPassword::new(dummy.clone()) {
                let _ = this.verify_blocking(&password, &h);
            }
            false
        })
        .await
    }

    /// True when the stored hash should be replaced by a new hash of the same
    /// password (after a successful verification): it is not argon2id v19, or
    /// its memory or iteration cost is below this hasher's, or it cannot be
    /// parsed. Stronger parameters (such as argon2-cffi's) are kept.
    pub fn needs_rehash(&self, hash: &HashedPassword) -> bool {
        let Ok(parsed) = PasswordHash::new(hash.as_str()) else {
            return true;
        };
        if parsed.algorithm != Algorithm::Argon2id.ident() || parsed.version != Some(0x13) {
            return true;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        params.m_cost() < self.inner.params.m_cost() || params.t_cost() < self.inner.params.t_cost()
    }
}

async fn off_runtime<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| StoreError::backend_message(format!("password hashing task failed: {e}"))),
        Err(_) => Ok(f()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with Python's argon2-cffi 25.1.0, `PasswordHasher().hash("fullauth-interop")`
    /// (its defaults: argon2id, m=65536, t=3, p=4).
    const ARGON2_CFFI_HASH: &str = include_str!("../tests/data/argon2-cffi.hash");

    #[tokio::test]
    async fn verifies_argon2_cffi_hashes() {
        let h = HashedPassword::new(ARGON2_CFFI_HASH.trim()).unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=65536,t=3,p=4$"));
        let hasher = PasswordHasher::default();
        assert!(hasher.verify("fullauth-interop", &h).await.unwrap());
        assert!(!hasher.verify("fullauth-interoP", &h).await.unwrap());
        // Stronger than OWASP: not downgraded.
        assert!(!hasher.needs_rehash(&h));
    }

    #[tokio::test]
    async fn rehash_rules() {
        let weak = PasswordHasher::new(8, 1, 1).unwrap();
        let h = weak.hash("pw").await.unwrap();
        assert!(PasswordHasher::default().needs_rehash(&h));
        assert!(!weak.needs_rehash(&h));
        let bcrypt =
            HashedPassword::new("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")
                .unwrap();
        assert!(weak.needs_rehash(&bcrypt));
        assert!(!weak.verify("pw", &bcrypt).await.unwrap());
        let garbage = HashedPassword::new("not a hash").unwrap();
        assert!(!weak.verify("pw", &garbage).await.unwrap());
    }

    #[tokio::test]
    async fn dummy_and_limits() {
        let h = PasswordHasher::new(8, 1, 1).unwrap();
        assert!(!h.dummy_verify("anything").await.unwrap());
        assert!(h.hash(&"x".repeat(MAX_PASSWORD_CHARS + 1)).await.is_err());
        // Works outside a runtime too.
        let hash = h.hash_blocking("pw").unwrap();
        assert!(h.verify_blocking("pw", &hash));
    }
}
