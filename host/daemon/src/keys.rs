//! The static X25519 key pair of each unicast IPCP: the layer's `key` option.
//!
//! `key = "<64 hex digits>"` is the private key itself; any other value is the path of a
//! key file (relative paths are relative to the configuration file's directory) holding
//! the private key as 64 hex digits (surrounding whitespace ignored). A missing file is
//! created with a fresh random key (mode 0600) and reported at start; a file that cannot
//! be read or does not hold a key is a configuration error. Without `key`, a random key is
//! generated at every start. `ouro status` shows each IPCP's public key.

use ouro_core::identity::{Identity, KEY_LEN, hex, parse_key_hex};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where an IPCP's private key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    /// No `key`: a fresh random key at every start.
    Random,
    /// The private key, given inline or read from `path`.
    Known {
        /// The private key.
        secret: [u8; KEY_LEN],
        /// The file it was read from (None: inline).
        path: Option<PathBuf>,
    },
    /// A key file that does not exist yet: created at start.
    Create(PathBuf),
}

/// Resolve the `key` option (`value`) of a configuration file in directory `base`.
pub fn parse_key_option(value: &str, base: &Path) -> Result<KeySpec, String> {
    if let Some(secret) = parse_key_hex(value) {
        return Ok(KeySpec::Known { secret, path: None });
    }
    if value.trim().is_empty() {
        return Err("`key` is empty (expected 64 hex digits or a key file path)".into());
    }
    let path = base.join(value);
    match std::fs::read_to_string(&path) {
        Ok(text) => match parse_key_hex(&text) {
            Some(secret) => Ok(KeySpec::Known {
                secret,
                path: Some(path),
            }),
            None => Err(format!(
                "key file {} does not hold a private key (64 hex digits)",
                path.display()
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeySpec::Create(path)),
        Err(e) => Err(format!("cannot read key file {}: {e}", path.display())),
    }
}

/// 32 bytes from the operating system's random source.
fn random_bytes() -> Result<[u8; KEY_LEN], String> {
    let mut out = [0; KEY_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut out))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(out)
}

/// The identity `spec` describes, and a line saying where it came from (for the log).
/// Creates the key file of [`KeySpec::Create`].
pub fn identity(spec: &KeySpec) -> Result<(Identity, String), String> {
    let salt = random_bytes()?;
    let (secret, origin) = match spec {
        KeySpec::Random => (random_bytes()?, "generated (not saved)".to_string()),
        KeySpec::Known { secret, path: None } => (*secret, "from the configuration".into()),
        KeySpec::Known {
            secret,
            path: Some(p),
        } => (*secret, format!("loaded from {}", p.display())),
        KeySpec::Create(path) => {
            let secret = random_bytes()?;
            write_new_key_file(path, &secret)?;
            (secret, format!("generated and saved to {}", path.display()))
        }
    };
    Ok((Identity::from_secret(secret, salt), origin))
}

/// Create `path` (not overwriting) with `secret` in hex, readable by the owner only.
fn write_new_key_file(path: &Path, secret: &[u8; KEY_LEN]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create key file {}: {e}", path.display()))?;
    writeln!(f, "{}", hex(secret))
        .map_err(|e| format!("cannot write key file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ouro-keys-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn inline_hex_is_the_key() {
        let hexkey = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
        let spec = parse_key_option(hexkey, Path::new("/nonexistent")).expect("valid");
        let (id, origin) = identity(&spec).expect("identity");
        assert_eq!(
            hex(&id.public()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        assert_eq!(origin, "from the configuration");
    }

    #[test]
    fn missing_file_is_created_then_loaded() {
        let dir = tmp("create");
        let spec = parse_key_option("ipcp.key", &dir).expect("valid");
        assert_eq!(spec, KeySpec::Create(dir.join("ipcp.key")));
        let (created, origin) = identity(&spec).expect("created");
        assert!(origin.contains("generated and saved"), "{origin}");
        let again = parse_key_option("ipcp.key", &dir).expect("valid");
        let (loaded, origin) = identity(&again).expect("loaded");
        assert!(origin.contains("loaded from"), "{origin}");
        assert_eq!(created.public(), loaded.public());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ipcp.key"))
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Creating again never overwrites.
        assert!(identity(&spec).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_file_and_empty_value_are_errors() {
        let dir = tmp("bad");
        std::fs::write(dir.join("bad.key"), "not a key\n").expect("written");
        let e = parse_key_option("bad.key", &dir).expect_err("malformed");
        assert!(e.contains("does not hold a private key"), "{e}");
        assert!(parse_key_option(" ", &dir).is_err());
        let e = parse_key_option(".", &dir).expect_err("a directory");
        assert!(e.contains("cannot read key file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn random_keys_differ() {
        let (a, _) = identity(&KeySpec::Random).expect("random");
        let (b, _) = identity(&KeySpec::Random).expect("random");
        assert_ne!(a.public(), b.public());
    }
}
