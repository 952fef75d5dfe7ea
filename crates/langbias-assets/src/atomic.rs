//! Output that is never lost: every file is written to a temporary file in the same directory,
//! flushed to disk and renamed over the destination, so a full disk, a crash or Ctrl-C leaves
//! either the old file or the new one, never a truncated mix.
//!
//! - [`write_atomic`] writes one file;
//! - [`Staged`] writes a set of files (a results directory) so that none of them replaces its
//!   old version until all of them have been written: a failure part-way leaves the directory
//!   as it was.
//!
//! Errors are [`AssetError::Io`] naming the destination path.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::AssetError;

fn io_err(path: &Path, what: &str, source: std::io::Error) -> AssetError {
    AssetError::Io {
        path: format!("{} ({what})", path.display()),
        source,
    }
}

/// The temporary name beside `path`: hidden, unique per process and call.
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Writes `bytes` to a temporary file beside `path` and syncs it; returns the temporary path.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, AssetError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, "writing", e));
    }
    Ok(tmp)
}

fn rename(tmp: &Path, path: &Path) -> Result<(), AssetError> {
    std::fs::rename(tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        io_err(path, "renaming the finished file into place", e)
    })
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), AssetError> {
    let tmp = write_temp(path, bytes.as_ref())?;
    rename(&tmp, path)
}

/// A set of files written together: [`Staged::add`] writes each to a temporary file at once
/// (so a full disk is found before anything is replaced), [`Staged::commit`] renames them all
/// into place. Dropped without `commit`, the temporary files are removed and every destination
/// keeps its old content.
#[derive(Debug, Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages `bytes` for `path`; a second add for the same path replaces the first.
    pub fn add(
        &mut self,
        path: impl Into<PathBuf>,
        bytes: impl AsRef<[u8]>,
    ) -> Result<(), AssetError> {
        let path = path.into();
        let tmp = write_temp(&path, bytes.as_ref())?;
        if let Some(i) = self.files.iter().position(|(p, _)| *p == path) {
            let (_, old) = std::mem::replace(&mut self.files[i], (path, tmp));
            let _ = std::fs::remove_file(old);
        } else {
            self.files.push((path, tmp));
        }
        Ok(())
    }

    /// The destinations staged so far, in order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// Renames every staged file into place (renames need no space, so this does not fail on a
    /// full disk).
    pub fn commit(mut self) -> Result<(), AssetError> {
        let files = std::mem::take(&mut self.files);
        let mut first_err = None;
        for (path, tmp) in files {
            if first_err.is_some() {
                let _ = std::fs::remove_file(&tmp);
                continue;
            }
            if let Err(e) = rename(&tmp, &path) {
                first_err = Some(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (_, tmp) in self.files.drain(..) {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("langbias-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let d = dir("one");
        let p = d.join("a.txt");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert!(leftovers(&d).is_empty());
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_names_the_path() {
        let d = dir("fail");
        // A destination in a directory that does not exist: creating the temporary fails.
        let p = d.join("missing").join("a.txt");
        let err = write_atomic(&p, "x").unwrap_err().to_string();
        assert!(err.contains("missing/a.txt"), "{err}");
        // Renaming onto a directory fails after the temporary was written: old content stays.
        let target = d.join("dir");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "k").unwrap();
        assert!(write_atomic(&target, "x").is_err());
        assert_eq!(std::fs::read_to_string(target.join("keep")).unwrap(), "k");
        assert!(leftovers(&d).is_empty());
    }

    #[test]
    fn staged_files_replace_nothing_until_commit() {
        let d = dir("staged");
        let a = d.join("a");
        let b = d.join("b");
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        {
            let mut s = Staged::new();
            s.add(&a, "new a").unwrap();
            s.add(&b, "new b").unwrap();
            // Dropped without commit (a later step failed): nothing changed, no temporaries.
        }
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old b");
        assert!(leftovers(&d).is_empty());
        let mut s = Staged::new();
        s.add(&a, "new a").unwrap();
        s.add(&a, "newer a").unwrap();
        s.add(&b, "new b").unwrap();
        assert_eq!(s.paths().count(), 2);
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "newer a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        assert!(leftovers(&d).is_empty());
    }
}
