//! Path rules shared by both sides of a transfer: the caller's path checked and placed under a
//! root, names from a directory listing checked before they become path components, and the
//! temporary name a file is written under before it is renamed into place.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::ToolError;

/// Longest path a caller may name, bytes (Linux's `PATH_MAX`).
const MAX_PATH: usize = 4096;

/// Check the shape of a path the caller gave (`what` names it in the error): not empty, no
/// NUL byte, at most 4096 bytes.
pub(crate) fn check_given(what: &str, path: &str) -> Result<(), ToolError> {
    if path.trim().is_empty() {
        return Err(ToolError::invalid(format!("{what} is empty")));
    }
    if path.contains('\0') {
        return Err(ToolError::invalid(format!("{what} contains a NUL byte")));
    }
    if path.len() > MAX_PATH {
        return Err(ToolError::invalid(format!(
            "{what} is {} bytes long (at most {MAX_PATH})",
            path.len()
        )));
    }
    Ok(())
}

/// `path` with `.` dropped and each `..` removing the component before it (never above `/`
/// for an absolute path; kept at the front of a relative one). No file system access.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for c in path.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::Prefix(p) => out.push(p.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            Component::ParentDir if path.is_absolute() => {}
            Component::ParentDir => out.push(".."),
            Component::Normal(n) => {
                out.push(n);
                depth += 1;
            }
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Where a side of a transfer may reach: `None` = anywhere (relative paths are the side's
/// own: the server's working directory, or the remote login directory), `Some(root)` = only
/// inside `root`, relative paths starting there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Root(Option<PathBuf>);

impl Root {
    /// No restriction.
    pub fn anywhere() -> Root {
        Root(None)
    }

    /// Only inside `dir` (absolute; normalized here). An empty path means no restriction.
    pub fn inside(dir: impl Into<PathBuf>) -> Root {
        let dir = dir.into();
        if dir.as_os_str().is_empty() {
            Root(None)
        } else {
            Root(Some(normalize(&dir)))
        }
    }

    /// The root directory, when one is set.
    pub fn dir(&self) -> Option<&Path> {
        self.0.as_deref()
    }

    /// Place the caller's `path` (`what` names it): as given without a root; with one,
    /// relative paths start at the root and the normalized result must stay inside it — a
    /// `..` that leaves the root is refused. Symbolic links are checked later, against the
    /// file system ([`Root::holds`]).
    pub fn place(&self, what: &str, path: &str) -> Result<PathBuf, ToolError> {
        check_given(what, path)?;
        let Some(root) = &self.0 else {
            return Ok(PathBuf::from(path));
        };
        let given = Path::new(path);
        let full = normalize(&root.join(given));
        if self.holds(&full) {
            Ok(full)
        } else {
            Err(ToolError::invalid(format!(
                "{what} {path} is outside the transfer root {}",
                root.display()
            )))
        }
    }

    /// Whether `path` (absolute, normalized) is the root or below it; always true without a
    /// root.
    pub fn holds(&self, path: &Path) -> bool {
        match &self.0 {
            None => true,
            Some(root) => path.starts_with(root),
        }
    }
}

/// Whether a name read from a directory listing can be used as one path component: not
/// empty, not `.` or `..`, no `/` and no NUL. A hostile SFTP server could list
/// `../../etc/passwd`; such names are skipped, never joined.
pub(crate) fn safe_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b != b"." && b != b".." && !b.contains(&b'/') && !b.contains(&0)
}

/// The last component of `path`, for a destination that is an existing directory (the file
/// or tree keeps its name inside it).
pub(crate) fn base_name(path: &Path) -> Option<OsString> {
    match normalize(path).components().next_back() {
        Some(Component::Normal(n)) => Some(n.to_os_string()),
        _ => None,
    }
}

/// A fresh temporary name next to `name`: `.<name>.rsh-<16 hex>.part` (the name shortened so
/// the whole stays within 255 bytes). Created exclusively, so an existing file or symbolic
/// link of that name is never opened.
pub(crate) fn temp_name(name: &OsStr) -> OsString {
    let mut b = [0u8; 8];
    rand::fill(&mut b[..]);
    let bytes = name.as_bytes();
    let keep = &bytes[..bytes.len().min(200)];
    let mut out = Vec::with_capacity(keep.len() + 32);
    out.push(b'.');
    out.extend_from_slice(keep);
    out.extend_from_slice(format!(".rsh-{}.part", hex::encode(b)).as_bytes());
    OsString::from(std::ffi::OsStr::from_bytes(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_is_lexical() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(normalize(Path::new("/../../etc")), Path::new("/etc"));
        assert_eq!(normalize(Path::new("a/../../b")), Path::new("../b"));
        assert_eq!(normalize(Path::new("./")), Path::new("."));
    }

    #[test]
    fn a_root_confines_relative_and_absolute_paths() {
        let r = Root::inside("/srv/data/");
        assert_eq!(
            r.place("remote path", "x/y").unwrap(),
            Path::new("/srv/data/x/y")
        );
        assert_eq!(
            r.place("remote path", "/srv/data/../data/z").unwrap(),
            Path::new("/srv/data/z")
        );
        assert_eq!(r.place("remote path", ".").unwrap(), Path::new("/srv/data"));
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../x",
            "/srv/database",
            "/srv/data/../../etc",
        ] {
            let e = r.place("remote path", bad).unwrap_err();
            assert_eq!(
                e.render(),
                format!(
                    "[ERROR: InvalidArgument: remote path {bad} is outside the transfer root /srv/data]"
                )
            );
        }
        // Without a root, `..` is the caller's business.
        assert_eq!(
            Root::anywhere().place("local path", "../x").unwrap(),
            Path::new("../x")
        );
        assert!(Root::inside("").dir().is_none());
    }

    #[test]
    fn given_paths_are_checked() {
        assert!(check_given("local path", "").is_err());
        assert!(check_given("local path", "  ").is_err());
        assert!(check_given("local path", "a\0b").is_err());
        assert!(check_given("local path", &"a".repeat(4097)).is_err());
        assert!(check_given("local path", "a b/c").is_ok());
    }

    #[test]
    fn listed_names_that_would_move_are_unsafe() {
        for bad in ["", ".", "..", "a/b", "../x", "a\0"] {
            assert!(!safe_name(OsStr::new(bad)), "{bad:?}");
        }
        for ok in ["a", "..a", ".hidden", "a b", "ünï"] {
            assert!(safe_name(OsStr::new(ok)), "{ok:?}");
        }
    }

    #[test]
    fn temporary_names_are_hidden_fresh_and_bounded() {
        let a = temp_name(OsStr::new("report.txt"));
        let b = temp_name(OsStr::new("report.txt"));
        assert_ne!(a, b);
        let s = a.to_string_lossy();
        assert!(
            s.starts_with(".report.txt.rsh-") && s.ends_with(".part"),
            "{s}"
        );
        assert!(temp_name(OsStr::new(&"n".repeat(255))).len() <= 255);
        assert_eq!(base_name(Path::new("/a/b/")), Some("b".into()));
        assert_eq!(base_name(Path::new("/")), None);
    }
}
