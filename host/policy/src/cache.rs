//! On-disk cache of compiled components, keyed by the component's content hash and the
//! engine's version and compatibility hash, so a router restart skips Cranelift.
//!
//! Entry layout: the serialized component followed by the BLAKE3 digest of it (32 bytes);
//! an entry whose digest does not match (truncated, corrupted) is recompiled and rewritten.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The wasmtime version (pinned exactly in the workspace `Cargo.toml`), part of every key.
const WASMTIME_VERSION: &str = "48.0.8";

/// The default cache directory: `$XDG_CACHE_HOME/ouro/policies`, `$HOME/.cache/ouro/policies`,
/// or `<tmp>/ouro-policies`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("ouro/policies");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache/ouro/policies");
    }
    std::env::temp_dir().join("ouro-policies")
}

/// The cache file name for `wasm` compiled by `engine`.
pub fn entry_name(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!(
        "{}-wasmtime{}-{:016x}.cwasm",
        blake3::hash(wasm).to_hex(),
        WASMTIME_VERSION,
        h.finish()
    )
}

/// Load `wasm` through the cache in `dir`: deserialize a valid entry, else compile and
/// write one (best effort: a cache that cannot be written only costs time).
pub fn load(engine: &Engine, dir: &Path, wasm: &[u8]) -> wasmtime::Result<Component> {
    let path = dir.join(entry_name(engine, wasm));
    if let Ok(bytes) = std::fs::read(&path)
        && let Some(component) = deserialize_checked(engine, &bytes)
    {
        return Ok(component);
    }
    let component = Component::new(engine, wasm)?;
    if let Ok(mut bytes) = component.serialize() {
        bytes.extend_from_slice(blake3::hash(&bytes).as_bytes());
        let _ = write_atomically(dir, &path, &bytes);
    }
    Ok(component)
}

/// Deserialize an entry whose trailing digest matches its body.
#[allow(unsafe_code)]
fn deserialize_checked(engine: &Engine, entry: &[u8]) -> Option<Component> {
    let split = entry.len().checked_sub(32)?;
    let (body, digest) = entry.split_at(split);
    if blake3::hash(body).as_bytes() != digest {
        return None;
    }
    // SAFETY: `Component::deserialize` trusts its input to be what `Component::serialize`
    // produced for a compatible engine (wasmtime itself checks the version and config
    // header). Entries are only ever written by `load` above from `serialize` of an engine
    // with the same compatibility hash (it is in the file name), the body is checked against
    // its BLAKE3 digest, and the cache directory is created private to the user (0700):
    // its trust level is that of the router binary.
    unsafe { Component::deserialize(engine, body) }.ok()
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_private_dir(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
