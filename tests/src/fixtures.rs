//! Where the cojson test vectors are, and reading them.
//!
//! Tests read vectors at run time and iterate over every entry, so regenerated files with
//! other values must pass too. `JAZZ_REQ_VECTORS_DIR` points the tests at another folder
//! (e.g. vectors regenerated under another salt); the default is `tests/fixtures/cojson`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Environment variable naming a folder of vectors to use instead of the committed ones.
pub const VECTORS_DIR_VAR: &str = "JAZZ_REQ_VECTORS_DIR";

/// The committed vectors folder.
pub fn committed_vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("cojson")
}

/// The vectors folder the tests use: `JAZZ_REQ_VECTORS_DIR` or the committed one.
pub fn vectors_dir() -> PathBuf {
    std::env::var_os(VECTORS_DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(committed_vectors_dir)
}

/// Reads and parses one vectors file (e.g. `crypto.json`) from `dir`.
pub fn load_from(dir: &Path, name: &str) -> Result<Value, String> {
    let path = dir.join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// The entries of `section` in a vectors file, failing when the section is missing or empty
/// (a test over no entries would prove nothing).
pub fn section<'a>(file: &'a Value, section: &str) -> Result<&'a [Value], String> {
    match file.get(section).and_then(Value::as_array) {
        Some(entries) if !entries.is_empty() => Ok(entries),
        Some(_) => Err(format!("section {section:?} is empty")),
        None => Err(format!("section {section:?} is missing")),
    }
}
