//! The salt under which the tests regenerate vectors with the real npm packages.

/// Environment variable fixing the salt (to reproduce a failure); otherwise each run picks one.
pub const SALT_VAR: &str = "JAZZ_REQ_SALT";

/// The salt to regenerate vectors with: `JAZZ_REQ_SALT`, else one from the clock (1..=9999),
/// so that successive runs cover different secrets and random JSON values. Tests print it.
pub fn regeneration_salt() -> u32 {
    if let Some(salt) = std::env::var(SALT_VAR).ok().and_then(|s| s.parse().ok()) {
        return salt;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    1 + nanos % 9999
}
