//! Files written so that a crash leaves the old one or the new one, never half of one.

use std::io::Write;
use std::path::Path;

/// Replaces `path` by a file holding `text`: a temporary file in the same folder, flushed to
/// disk, given the original's permissions, then renamed over it, so that a crash leaves either
/// the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    // Write through a symbolic link to the file it names, not over the link.
    let path =
        std::fs::canonicalize(path).map_err(|e| format!("cannot find {}: {e}", path.display()))?;
    let folder = path.parent().unwrap_or(Path::new("/"));
    let metadata =
        std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    refuse_read_only(&path, &metadata, folder)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".ovscript-")
        .suffix(".tf.tmp")
        .tempfile_in(folder)
        .map_err(|e| {
            format!(
                "cannot write next to {} (an atomic write needs a temporary file in {}): {e}",
                path.display(),
                folder.display()
            )
        })?;
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    temporary.write_all(text.as_bytes()).map_err(failed)?;
    temporary
        .as_file()
        .set_permissions(metadata.permissions())
        .map_err(failed)?;
    temporary.as_file().sync_all().map_err(failed)?;
    temporary.persist(&path).map_err(|e| failed(e.error))?;
    // The rename is durable once the folder is flushed too; a folder that cannot be opened for
    // that (some file systems) already holds the complete new file, so this is best effort.
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A read-only file or folder was made so on purpose: refuse by its permission bits, which holds
/// for root too (root could rename over it regardless), and by a real write check otherwise.
fn refuse_read_only(
    path: &Path,
    metadata: &std::fs::Metadata,
    folder: &Path,
) -> Result<(), String> {
    let file_writable = !metadata.permissions().readonly()
        && std::fs::OpenOptions::new().write(true).open(path).is_ok();
    if !file_writable {
        return Err(format!(
            "{} is read-only: make it writable (chmod u+w) if it should change, then run again",
            path.display()
        ));
    }
    let folder_read_only = std::fs::metadata(folder)
        .map(|m| m.permissions().readonly())
        .unwrap_or(false);
    if folder_read_only {
        return Err(format!(
            "the folder {} is read-only, and an atomic write of {} needs a temporary file there: make it writable (chmod u+w), then run again",
            folder.display(),
            path.display()
        ));
    }
    Ok(())
}
