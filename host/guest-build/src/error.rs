//! What can go wrong building the guests.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

/// A guest build failure; the message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable cargo sets for build scripts is missing.
    #[error("{0} is not set: this runs from a build script")]
    NotInBuildScript(&'static str),
    /// A command could not be started.
    #[error("cannot run `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why.
        source: io::Error,
    },
    /// A command ran and failed.
    #[error("`{cmd}` failed ({status})")]
    Failed {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// The nested build of one world's guests failed (cargo printed why above).
    #[error("cargo build of the {world} policies failed ({status}): `{cmd}`")]
    GuestBuild {
        /// The policies' world.
        world: String,
        /// The cargo command line.
        cmd: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// The compiler's answer to `--print sysroot` is not a directory.
    #[error("`{cmd}` printed no sysroot directory (`{printed}`)")]
    Sysroot {
        /// The command line.
        cmd: String,
        /// What it printed.
        printed: String,
    },
    /// The target's standard library is missing and there is no rustup to install it.
    #[error(
        "the Rust standard library for {target} is not installed for the compiler in use \
         (sysroot {sysroot}) and there is no `rustup` to install it: install it with the tool \
         that installed this compiler, or build with a rustup toolchain (the build then adds it)"
    )]
    NoRustup {
        /// The target triple.
        target: String,
        /// The compiler's sysroot.
        sysroot: PathBuf,
    },
    /// `rustup target add` failed.
    #[error(
        "the Rust standard library for {target} is not installed and `{cmd}` failed \
         ({status}): run it by hand to see why, then build again"
    )]
    TargetAdd {
        /// The target triple.
        target: String,
        /// The rustup command line.
        cmd: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// rustup installed the target, but not for the compiler in use.
    #[error(
        "`{cmd}` succeeded but {target} is still missing from {sysroot}, the sysroot of the \
         compiler in use (RUSTC / RUSTUP_TOOLCHAIN name different toolchains?)"
    )]
    StillMissing {
        /// The target triple.
        target: String,
        /// The rustup command line.
        cmd: String,
        /// The compiler's sysroot.
        sysroot: PathBuf,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done ("cannot copy", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}
