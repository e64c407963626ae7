//! One run per output folder: a run holds an advisory lock on
//! `OUT/.p2psim.lock` (with its pid in the file) for as long as it writes
//! there. A second run into the same folder is refused at once, naming the
//! holder; the operating system releases the lock when the holder exits,
//! however it exits, so a crashed run never leaves the folder locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside an output folder.
pub const LOCK_FILE: &str = ".p2psim.lock";

/// Why the folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "{dir}: in use by another p2psim run (pid {pid}); wait for it to finish or choose another --out"
    )]
    Held {
        /// The folder.
        dir: PathBuf,
        /// The holder's process id, as it wrote it.
        pid: String,
    },
    /// The lock file could not be opened or written.
    #[error("{file}: {source}")]
    Io {
        /// The lock file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A held lock; dropping it releases the folder.
#[derive(Debug)]
pub struct OutLock {
    _file: File,
}

/// Takes the lock on `dir` (created if missing).
pub fn take(dir: &Path) -> Result<OutLock, LockError> {
    let file = dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        file: file.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&file)
        .map_err(io)?;
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            return Err(LockError::Held {
                dir: dir.to_owned(),
                pid: if pid.trim().is_empty() {
                    "unknown".into()
                } else {
                    pid.trim().to_owned()
                },
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    f.set_len(0).map_err(io)?;
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(f, "{}", std::process::id()).map_err(io)?;
    f.flush().map_err(io)?;
    Ok(OutLock { _file: f })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holders_pid_until_it_lets_go() {
        let dir = std::env::temp_dir().join(format!("p2psim-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let held = take(&dir).unwrap();
        match take(&dir) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("{other:?}"),
        }
        drop(held);
        let again = take(&dir).unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
