//! Owner-only files and directories: data directories, databases, keys,
//! recordings and sockets, on the gateway and the coordinator alike.
//!
//! New directories are created 0700 and new files 0600 whatever the umask. At
//! start, what already exists is checked: a directory open to group or others
//! is closed (chmod 0700) and a secret file (a key, a database) readable by
//! them is made 0600, both logged at warn, so an operator's `cp` or `tar` does
//! not stop a branch. A secret file group or others may *write* is refused:
//! someone else may have replaced the key or edited the database, and only the
//! operator can tell.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of owner-only directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of owner-only files.
pub const FILE_MODE: u32 = 0o600;
/// Permission bits of group and others.
const GROUP_OTHER: u32 = 0o077;
/// Write bits of group and others.
const GROUP_OTHER_WRITE: u32 = 0o022;

/// Why a private file or directory could not be made owner-only.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A secret file others may write: it is not used.
    #[error(
        "{path} is writable by group or others (mode {mode:04o}): it may have been replaced; \
         check it, then `chmod 600` it"
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PrivateFileError + '_ {
    move |source| PrivateFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and missing parents) owner-only, or closes an existing one
/// to group and others.
pub fn dir(dir: &Path) -> Result<(), PrivateFileError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io_error(dir))?;
    restrict(dir, DIR_MODE).map_err(io_error(dir))
}

/// Prepares a secret file (a key, a database) before it is opened: an
/// existing one is checked (see the module documentation), a missing one is
/// created empty and owner-only, so whatever later writes it (redb) starts
/// from 0600.
pub fn secret_file(path: &Path) -> Result<(), PrivateFileError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & GROUP_OTHER_WRITE != 0 {
                return Err(PrivateFileError::WritableByOthers {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            restrict(path, FILE_MODE).map_err(io_error(path))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(path)
            {
                Ok(_) => Ok(()),
                // Created by someone else in between: check that one.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => secret_file(path),
                Err(e) => Err(io_error(path)(e)),
            }
        }
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Creates (or truncates) a file owner-only, for writing: recordings.
pub fn create(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    // An existing file keeps its mode through open: close it too.
    restrict(path, FILE_MODE)?;
    Ok(file)
}

/// Writes a new secret file owner-only and syncs it; an existing file is an
/// error (never overwrite a key).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PrivateFileError> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io_error(path))?;
    f.write_all(bytes).map_err(io_error(path))?;
    f.sync_all().map_err(io_error(path))
}

/// Sets owner-only `mode` on something just made whose mode the umask chose
/// (a Unix socket binds with it); nothing to warn about.
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Takes group and others' bits off `path` (a file, directory or socket) if
/// it has any, logging at warn; `mode` is what it gets then.
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    let was = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if was & GROUP_OTHER == 0 {
        return Ok(());
    }
    chmod(path, mode)?;
    tracing::warn!(path = %path.display(), was = %format!("{was:04o}"), now = %format!("{mode:04o}"), "was open to group or others: made owner-only");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn directories_are_created_or_closed_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("a/b");
        dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o755);
        dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
    }

    #[test]
    fn readable_secrets_are_fixed_and_writable_ones_refused() {
        let root = tempfile::tempdir().unwrap();
        let new = root.path().join("new.redb");
        secret_file(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let readable = root.path().join("key.pem");
        std::fs::write(&readable, b"key").unwrap();
        chmod(&readable, 0o644);
        secret_file(&readable).unwrap();
        assert_eq!(mode(&readable), 0o600);
        assert_eq!(std::fs::read(&readable).unwrap(), b"key");
        let writable = root.path().join("writable.pem");
        std::fs::write(&writable, b"key").unwrap();
        chmod(&writable, 0o666);
        let err = secret_file(&writable).unwrap_err();
        assert!(
            matches!(err, PrivateFileError::WritableByOthers { mode: 0o666, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert_eq!(mode(&writable), 0o666, "a refused file is left as found");
    }

    #[test]
    fn created_and_written_files_are_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let rec = root.path().join("call.ogg");
        std::fs::write(&rec, b"old").unwrap();
        chmod(&rec, 0o644);
        drop(create(&rec).unwrap());
        assert_eq!(mode(&rec), 0o600);
        assert!(std::fs::read(&rec).unwrap().is_empty());
        let key = root.path().join("ca-key.pem");
        write_new(&key, b"secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(write_new(&key, b"again").is_err(), "never overwrites a key");
    }
}
