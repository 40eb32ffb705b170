//! The key layout: where each short-lived entry lives in Redis.

use fullauth_api::{StateKey, StoreError};

/// The prefix every key starts with unless configured otherwise (the
/// reference's `fullauth:`).
pub const DEFAULT_PREFIX: &str = "fullauth:";

/// Computes the Redis key of every entry the store reads or writes.
///
/// With the default layout every key is byte for byte the one fastapi-fullauth
/// 0.18 uses (with its default prefix), so a Python and a Rust service on one
/// Redis read each other's entries:
///
/// ```
/// use fullauth_api::StateKey;
/// use fullauth_redis::KeyLayout;
///
/// let layout = KeyLayout::default();
/// let key = StateKey::new("ada@example.com").unwrap();
/// assert_eq!(layout.blacklist(&key), "fullauth:blacklist:ada@example.com");
/// assert_eq!(layout.lockout_attempts(&key), "fullauth:lockout:attempts:ada@example.com");
/// assert_eq!(layout.lockout_locked(&key), "fullauth:lockout:locked:ada@example.com");
/// assert_eq!(layout.rate_limit(&key), "fullauth:ratelimit:ada@example.com");
/// assert_eq!(layout.challenge(&key), "fullauth:challenge:ada@example.com");
///
/// // With hash tags (Redis Cluster), the two lockout keys share a slot:
/// let tagged = KeyLayout::new("fullauth:", true).unwrap();
/// assert_eq!(tagged.lockout_attempts(&key), "fullauth:lockout:attempts:{ada@example.com}");
/// assert_eq!(tagged.lockout_locked(&key), "fullauth:lockout:locked:{ada@example.com}");
/// // Single-key entries keep the reference layout either way.
/// assert_eq!(tagged.blacklist(&key), "fullauth:blacklist:ada@example.com");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
    hash_tags: bool,
}

impl Default for KeyLayout {
    /// The reference layout with the prefix `fullauth:`.
    fn default() -> Self {
        KeyLayout {
            prefix: DEFAULT_PREFIX.to_string(),
            hash_tags: false,
        }
    }
}

impl KeyLayout {
    /// A layout with this prefix; `hash_tags` wraps the login key of the two
    /// lockout keys in a Redis Cluster hash tag (see the crate docs for the
    /// trade-off).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `key_prefix`) when `hash_tags` is on
    /// and the prefix contains `{` or `}`: Redis would take the hash tag from
    /// the prefix and the two lockout keys could land in different slots. (To
    /// pin every key to one slot instead, leave hash tags off and use a prefix
    /// such as `{fullauth}:`.)
    pub fn new(prefix: impl Into<String>, hash_tags: bool) -> Result<Self, StoreError> {
        let prefix = prefix.into();
        if hash_tags && prefix.contains(['{', '}']) {
            return Err(StoreError::invalid(
                "key_prefix",
                "with cluster hash tags on, the prefix must not contain `{` or `}`",
            ));
        }
        Ok(KeyLayout { prefix, hash_tags })
    }

    /// The prefix every key starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True when the lockout keys carry a Redis Cluster hash tag.
    pub fn hash_tags(&self) -> bool {
        self.hash_tags
    }

    /// `<prefix>blacklist:<key>`: the value `1`, with the entry's TTL.
    pub fn blacklist(&self, key: &StateKey) -> String {
        format!("{}blacklist:{}", self.prefix, key.as_str())
    }

    /// `<prefix>lockout:attempts:<key>`: the failure counter. With hash tags:
    /// `<prefix>lockout:attempts:{<key>}`.
    pub fn lockout_attempts(&self, key: &StateKey) -> String {
        format!("{}lockout:attempts:{}", self.prefix, self.tagged(key))
    }

    /// `<prefix>lockout:locked:<key>`: the value `1` while the key is locked.
    /// With hash tags: `<prefix>lockout:locked:{<key>}`.
    pub fn lockout_locked(&self, key: &StateKey) -> String {
        format!("{}lockout:locked:{}", self.prefix, self.tagged(key))
    }

    /// `<prefix>ratelimit:<key>`: a sorted set of the requests in the window.
    pub fn rate_limit(&self, key: &StateKey) -> String {
        format!("{}ratelimit:{}", self.prefix, key.as_str())
    }

    /// `<prefix>challenge:<key>`: the challenge value, with its TTL.
    pub fn challenge(&self, key: &StateKey) -> String {
        format!("{}challenge:{}", self.prefix, key.as_str())
    }

    /// The login key as it appears in the lockout keys: verbatim without hash
    /// tags; with them, `{<key>}` where `%`, `{` and `}` of the key are
    /// percent-encoded, so the tag is never empty or cut short and two
    /// different keys never share a name.
    fn tagged(&self, key: &StateKey) -> String {
        if !self.hash_tags {
            return key.as_str().to_string();
        }
        let mut out = String::with_capacity(key.as_str().len() + 2);
        out.push('{');
        for c in key.as_str().chars() {
            match c {
                '%' => out.push_str("%25"),
                '{' => out.push_str("%7B"),
                '}' => out.push_str("%7D"),
                c => out.push(c),
            }
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StateKey {
        StateKey::new(s).unwrap()
    }

    #[test]
    fn reference_layout_is_verbatim() {
        let l = KeyLayout::new("app:", false).unwrap();
        assert_eq!(l.blacklist(&key("family:abc")), "app:blacklist:family:abc");
        assert_eq!(l.lockout_attempts(&key("}{x")), "app:lockout:attempts:}{x");
        assert_eq!(
            l.rate_limit(&key("login:1.2.3.4")),
            "app:ratelimit:login:1.2.3.4"
        );
        assert_eq!(
            l.challenge(&key("passkey:reg:00")),
            "app:challenge:passkey:reg:00"
        );
    }

    #[test]
    fn hash_tags_escape_braces() {
        let l = KeyLayout::new("p:", true).unwrap();
        assert_eq!(
            l.lockout_locked(&key("}a{%")),
            "p:lockout:locked:{%7Da%7B%25}"
        );
        assert_ne!(
            l.lockout_attempts(&key("%7D")),
            l.lockout_attempts(&key("}"))
        );
        assert!(KeyLayout::new("{p}:", true).is_err());
        assert!(KeyLayout::new("{p}:", false).is_ok());
    }
}
