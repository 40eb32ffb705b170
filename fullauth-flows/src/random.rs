//! Randomness from the operating system.

use crate::error::FlowError;

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), FlowError> {
    getrandom::fill(buf).map_err(|e| FlowError::Internal(format!("random source failed: {e}")))
}

/// `n` random bytes as lowercase hex (Python's `secrets.token_hex(n)`).
pub(crate) fn token_hex(n: usize) -> Result<String, FlowError> {
    let mut bytes = vec![0u8; n];
    fill(&mut bytes)?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}
