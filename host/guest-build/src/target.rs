//! A compilation target's standard library: looked for in the sysroot of the compiler cargo
//! builds with, installed with `rustup target add` where it is missing.

use crate::Error;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Make sure the compiler cargo builds with (`RUSTC`, else `rustc`) has the standard library
/// for `target`, installing it with `rustup target add` for the toolchain in use where it is
/// missing: the one `RUSTUP_TOOLCHAIN` names if set, else the rustup toolchain the
/// compiler's sysroot belongs to. Returns whether it installed it.
///
/// `lock` is a file held while checking and installing, so build scripts running at the same
/// time do not run rustup over one toolchain at once.
pub fn ensure(target: &str, lock: &Path) -> Result<bool, Error> {
    let sysroot = sysroot(&rustc())?;
    if installed(&sysroot, target) {
        return Ok(false);
    }
    let _held = hold(lock)?;
    if installed(&sysroot, target) {
        return Ok(false); // another build script installed it meanwhile
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", target]);
    if let Some(toolchain) = toolchain(&sysroot) {
        rustup.arg("--toolchain").arg(toolchain);
    }
    let cmd = show(&rustup);
    let status = match rustup.status() {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoRustup {
                target: target.into(),
                sysroot,
            });
        }
        Err(source) => return Err(Error::Spawn { cmd, source }),
    };
    if !status.success() {
        return Err(Error::TargetAdd {
            target: target.into(),
            cmd,
            status,
        });
    }
    if !installed(&sysroot, target) {
        return Err(Error::StillMissing {
            target: target.into(),
            cmd,
            sysroot,
        });
    }
    Ok(true)
}

/// Whether `sysroot` holds the standard library for `target` (its `libcore`).
pub fn installed(sysroot: &Path, target: &str) -> bool {
    let lib = sysroot.join("lib/rustlib").join(target).join("lib");
    std::fs::read_dir(lib).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    })
}

/// The compiler cargo builds with.
fn rustc() -> OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// `rustc --print sysroot`.
fn sysroot(rustc: &OsStr) -> Result<PathBuf, Error> {
    let mut print = Command::new(rustc);
    print.args(["--print", "sysroot"]);
    let cmd = show(&print);
    let out = print.output().map_err(|source| Error::Spawn {
        cmd: cmd.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Failed {
            cmd,
            status: out.status,
        });
    }
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = PathBuf::from(&printed);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(Error::Sysroot { cmd, printed })
    }
}

/// The rustup toolchain to install into: `RUSTUP_TOOLCHAIN` (rustup's proxies set it to the
/// toolchain they run), else the toolchain whose directory `sysroot` is, else none (rustup's
/// own choice, which `rust-toolchain.toml` steers).
fn toolchain(sysroot: &Path) -> Option<OsString> {
    if let Some(t) = std::env::var_os("RUSTUP_TOOLCHAIN").filter(|t| !t.is_empty()) {
        return Some(t);
    }
    let in_rustup = sysroot
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "toolchains");
    in_rustup
        .then(|| sysroot.file_name().map(OsStr::to_os_string))
        .flatten()
}

/// Hold an exclusive lock on `path` (created if missing) until the file is dropped.
fn hold(path: &Path) -> Result<File, Error> {
    let io = |what| {
        move |source| Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create the directory of"))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("cannot open"))?;
    file.lock().map_err(io("cannot lock"))?;
    Ok(file)
}

/// A command line as the user would type it.
pub(crate) fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_without_libcore_is_not_installed() {
        let dir = std::env::temp_dir().join(format!("ouro-guest-build-{}", std::process::id()));
        let lib = dir.join("lib/rustlib/wasm32-wasip2/lib");
        std::fs::create_dir_all(&lib).expect("mkdir");
        assert!(!installed(&dir, "wasm32-wasip2"));
        std::fs::write(lib.join("libcore-0123.rlib"), b"").expect("write");
        assert!(installed(&dir, "wasm32-wasip2"));
        assert!(!installed(&dir, "wasm32-unknown-unknown"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_sysroot_of_the_compiler_in_use_holds_its_libraries() {
        let sysroot = sysroot(&rustc()).expect("sysroot");
        assert!(
            sysroot.join("lib/rustlib").is_dir(),
            "{}",
            sysroot.display()
        );
    }
}
