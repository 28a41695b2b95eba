//! Reading a script or a module: a regular file of UTF-8 text, of a runbook's size. A FIFO would
//! block for ever, `/dev/zero` would fill memory, a 30 MB file would make a 60 MB message; a NUL
//! byte is named where it is, and a byte-order mark (left by some editors) is dropped.

use std::io::Read;
use std::path::Path;

/// The most a script or module may weigh: far past any runbook.
pub const MAX_BYTES: u64 = 1 << 20;

/// The text of the script at `path`, or what is wrong with it (the path named).
pub fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !metadata.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a folder, a FIFO or a device): give a script file"
        ));
    }
    if metadata.len() > MAX_BYTES {
        return Err(format!(
            "{shown} is {} bytes: a script is at most {MAX_BYTES} bytes (1 MiB)",
            metadata.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "{shown} grew past {MAX_BYTES} bytes while it was read: a script is at most 1 MiB"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        format!("{shown}:{line}: not UTF-8 text (byte {at}): save the script as UTF-8")
    })?;
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        return Err(format!(
            "{shown}:{line}: a NUL byte: a script is text (was a binary file given?)"
        ));
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_of_text_of_a_runbooks_size() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        assert_eq!(
            read(&file("bom.rhai", "\u{feff}print(1);".as_bytes())).unwrap(),
            "print(1);"
        );
        let nul = read(&file("nul.rhai", b"print(1);\nx\0y")).unwrap_err();
        assert!(
            nul.ends_with("nul.rhai:2: a NUL byte: a script is text (was a binary file given?)"),
            "{nul}"
        );
        let latin = read(&file("latin.rhai", b"// caf\xe9\n")).unwrap_err();
        assert!(
            latin.contains("latin.rhai:1: not UTF-8 text (byte 6)"),
            "{latin}"
        );
        let big = read(&file("big.rhai", &vec![b' '; (MAX_BYTES + 1) as usize])).unwrap_err();
        assert!(big.contains("a script is at most 1048576 bytes"), "{big}");
        assert!(read(dir.path()).unwrap_err().contains("not a regular file"));
        assert!(read(Path::new("/dev/zero"))
            .unwrap_err()
            .contains("not a regular file"));
    }
}
