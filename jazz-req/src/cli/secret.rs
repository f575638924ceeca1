//! An agent secret given on the command line or in `JAZZ_WORKER_SECRET`, kept out of clap's
//! messages and of `Debug`, and zeroized when dropped.

use std::convert::Infallible;
use std::str::FromStr;

use jazz_req_core::crypto::AgentSecret;
use zeroize::Zeroizing;

use super::CliError;

/// The text of an agent secret argument. Parsing it never fails in clap (which would repeat
/// the text in its error); [`SecretArg::agent_secret`] checks it.
#[derive(Clone)]
pub struct SecretArg(Zeroizing<String>);

impl SecretArg {
    /// The agent secret.
    ///
    /// # Errors
    /// [`CliError::InvalidSecret`] when the text is not `sealerSecret_z…/signerSecret_z…`.
    pub fn agent_secret(&self) -> Result<AgentSecret, CliError> {
        AgentSecret::parse(self.0.trim()).map_err(|_| CliError::InvalidSecret)
    }
}

impl FromStr for SecretArg {
    type Err = Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(Zeroizing::new(text.to_owned())))
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretArg(<redacted>)")
    }
}
