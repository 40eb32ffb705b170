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
//! run them on tokio's blocking pool, never on a runtime worker thread, and at
//! most as many at once as the machine has cores (more would only queue on
//! the CPU while each holds its argon2 memory). Each hash needs its full
//! memory cost (19 MiB by default, 64 MiB for argon2-cffi's hashes): the
//! hasher keeps up to that many work areas and reuses them, instead of asking
//! the allocator for fresh pages — and paying a page fault per 4 KiB — on
//! every login. Measured through the axum example on SQLite, that halved the
//! time of a login at concurrency 1 (31 → 16 ms).
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

use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
    /// Work areas of finished hashes, reused by the next ones.
    memory: Mutex<Vec<Vec<Block>>>,
    /// How many hashes may run at once (and how many work areas are kept).
    slots: usize,
    /// Admits at most `slots` hashes to the blocking pool at once.
    running: tokio::sync::Semaphore,
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
        let slots = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        PasswordHasher {
            inner: Arc::new(Inner {
                params,
                dummy: OnceLock::new(),
                memory: Mutex::new(Vec::new()),
                slots,
                running: tokio::sync::Semaphore::new(slots),
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

    /// Computes the argon2 output of `password` and `salt` with `argon2`'s
    /// algorithm, version and parameters into `len` bytes, in a reused work
    /// area. Equivalent to the argon2 crate's `hash_password` output.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        block_count: usize,
        password: &[u8],
        salt: Salt<'_>,
        len: usize,
    ) -> Result<Output, argon2::password_hash::Error> {
        let mut salt_buf = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buf)?;
        let mut area = self
            .inner
            .memory
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default();
        if area.len() < block_count {
            area.resize(block_count, Block::default());
        }
        let out = Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut area[..block_count])
                .map_err(argon2::password_hash::Error::from)
        });
        if let Ok(mut free) = self.inner.memory.lock()
            && free.len() < self.inner.slots
        {
            free.push(area);
        }
        out
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
        let failed = |e: argon2::password_hash::Error| {
            StoreError::backend_message(format!("argon2 hashing failed: {e}"))
        };
        let salt = SaltString::generate(&mut OsRng);
        let params = &self.inner.params;
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = self
            .compute(
                &self.argon2(),
                params.block_count(),
                password.as_bytes(),
                salt.as_salt(),
                len,
            )
            .map_err(failed)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(failed)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        HashedPassword::new(phc.to_string())
    }

    /// Verifies on the current thread. Prefer [`verify`](Self::verify) in
    /// async code. A malformed or non-argon2 stored value verifies as false.
    pub fn verify_blocking(&self, password: &str, hash: &HashedPassword) -> bool {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return false;
        }
        self.verify_phc(password.as_bytes(), hash.as_str())
            .unwrap_or(false)
    }

    /// Verifies against a PHC argon2 string (argon2id, argon2i or argon2d,
    /// any version and parameters written in it), comparing in constant time.
    fn verify_phc(&self, password: &[u8], phc: &str) -> Result<bool, argon2::password_hash::Error> {
        let parsed = PasswordHash::new(phc)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let block_count = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = self.compute(&argon2, block_count, password, salt, expected.len())?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
    }

    /// Hashes `password` on the blocking pool.
    ///
    /// # Errors
    /// As [`hash_blocking`](Self::hash_blocking).
    pub async fn hash(&self, password: &str) -> Result<HashedPassword, StoreError> {
        let this = self.clone();
        let password = password.to_owned();
        let _slot = self.slot().await?;
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
        let _slot = self.slot().await?;
        off_runtime(move || this.verify_blocking(&password, &hash)).await
    }

    /// Waits for one of the hasher's slots (one per core).
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, StoreError> {
        self.inner
            .running
            .acquire()
            .await
            .map_err(|_| StoreError::backend_message("the password hasher is closed"))
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
        let _slot = self.slot().await?;
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

    /// The reused work areas give exactly what the argon2 crate computes on
    /// fresh memory, for every variant and version a stored hash may name.
    #[test]
    fn pooled_memory_matches_the_argon2_crate() {
        use argon2::PasswordHasher as _;
        let ours = PasswordHasher::new(1024, 2, 2).unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            for version in [Version::V0x13, Version::V0x10] {
                let params = Params::new(1024, 2, 2, None).unwrap();
                let reference = Argon2::new(algorithm, version, params)
                    .hash_password(b"pw", &salt)
                    .unwrap()
                    .to_string();
                let h = HashedPassword::new(reference.clone()).unwrap();
                assert!(ours.verify_blocking("pw", &h), "{reference}");
                assert!(!ours.verify_blocking("pX", &h), "{reference}");
            }
        }
        // Our own hashes verify with the argon2 crate on fresh memory.
        let mine = ours.hash_blocking("pw").unwrap();
        let parsed = PasswordHash::new(mine.as_str()).unwrap();
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pX", &parsed).is_err());
        // Work areas are kept for reuse, at most one per slot.
        for _ in 0..5 {
            ours.hash_blocking("again").unwrap();
        }
        let kept = ours.inner.memory.lock().unwrap().len();
        assert!((1..=ours.inner.slots).contains(&kept), "kept {kept}");
        // A salt-less or hash-less PHC string never verifies.
        let bare = HashedPassword::new("$argon2id$v=19$m=1024,t=2,p=2").unwrap();
        assert!(!ours.verify_blocking("pw", &bare));
    }

    /// Many concurrent verifications all get the right answer while at most
    /// `slots` run at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_verifications_share_the_slots() {
        let hasher = PasswordHasher::new(1024, 1, 1).unwrap();
        let hash = hasher.hash("right").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (h, hash) = (hasher.clone(), hash.clone());
            tasks.push(tokio::spawn(async move {
                let pw = if i % 2 == 0 { "right" } else { "wrong" };
                (i, h.verify(pw, &hash).await.unwrap())
            }));
        }
        for t in tasks {
            let (i, ok) = t.await.unwrap();
            assert_eq!(ok, i % 2 == 0);
        }
        assert_eq!(hasher.inner.running.available_permits(), hasher.inner.slots);
    }

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
