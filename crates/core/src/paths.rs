//! Where Callcard keeps its files.
//!
//! Configuration, data and logs follow the XDG base directories, so they land
//! where a Linux user expects them. `CALLCARD_HOME` moves all three under one
//! folder: tests and side-by-side installs use it.

use std::path::{Path, PathBuf};

const APP_DIR: &str = "callcard";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Settings that are not secret and deployment configuration.
    pub config_dir: PathBuf,
    /// The SQLite database.
    pub data_dir: PathBuf,
    /// Logs.
    pub state_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot tell where to keep Callcard's files: neither CALLCARD_HOME nor HOME is set")]
    NoHome,
    #[error("cannot create the folder {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
}

impl Paths {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, PathsError> {
        Self::resolve(|key| std::env::var_os(key).map(PathBuf::from))
    }

    /// The rule itself, over any environment lookup, so it can be tested.
    pub fn resolve(env: impl Fn(&str) -> Option<PathBuf>) -> Result<Self, PathsError> {
        // Empty values count as unset, as the XDG specification says.
        let var = |key: &str| env(key).filter(|p| !p.as_os_str().is_empty());
        if let Some(home) = var("CALLCARD_HOME") {
            return Ok(Self::under(&home));
        }
        let home = var("HOME").ok_or(PathsError::NoHome)?;
        let xdg = |key: &str, fallback: &str| {
            var(key)
                .filter(|p| p.is_absolute())
                .unwrap_or_else(|| home.join(fallback))
                .join(APP_DIR)
        };
        Ok(Self {
            config_dir: xdg("XDG_CONFIG_HOME", ".config"),
            data_dir: xdg("XDG_DATA_HOME", ".local/share"),
            state_dir: xdg("XDG_STATE_HOME", ".local/state"),
        })
    }

    /// All three folders under one root (the `CALLCARD_HOME` layout).
    pub fn under(root: &Path) -> Self {
        Self {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
            state_dir: root.join("state"),
        }
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join("callcard.sqlite3")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// Creates the folders, readable by the user only: the database holds
    /// names and numbers from the CRM.
    pub fn create_all(&self) -> Result<(), PathsError> {
        for dir in [&self.config_dir, &self.data_dir, &self.log_dir()] {
            create_private_dir(dir).map_err(|source| PathsError::Create {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let map: HashMap<String, PathBuf> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn callcard_home_moves_every_folder_under_it() {
        let paths = Paths::resolve(env(&[("CALLCARD_HOME", "/tmp/cc"), ("HOME", "/home/u")])).unwrap();
        assert_eq!(paths.config_dir, PathBuf::from("/tmp/cc/config"));
        assert_eq!(paths.data_dir, PathBuf::from("/tmp/cc/data"));
        assert_eq!(paths.state_dir, PathBuf::from("/tmp/cc/state"));
        assert_eq!(paths.database(), PathBuf::from("/tmp/cc/data/callcard.sqlite3"));
    }

    #[test]
    fn xdg_defaults_are_used_under_home_when_nothing_else_is_set() {
        let paths = Paths::resolve(env(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(paths.config_dir, PathBuf::from("/home/u/.config/callcard"));
        assert_eq!(paths.data_dir, PathBuf::from("/home/u/.local/share/callcard"));
        assert_eq!(paths.state_dir, PathBuf::from("/home/u/.local/state/callcard"));
    }

    #[test]
    fn xdg_variables_win_over_home_but_relative_ones_are_ignored() {
        let paths = Paths::resolve(env(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/etc/xdg-u"),
            ("XDG_DATA_HOME", "relative/data"),
            ("XDG_STATE_HOME", ""),
        ]))
        .unwrap();
        assert_eq!(paths.config_dir, PathBuf::from("/etc/xdg-u/callcard"));
        assert_eq!(paths.data_dir, PathBuf::from("/home/u/.local/share/callcard"));
        assert_eq!(paths.state_dir, PathBuf::from("/home/u/.local/state/callcard"));
    }

    #[test]
    fn no_home_at_all_is_a_clear_error() {
        let err = Paths::resolve(env(&[])).unwrap_err();
        assert!(err.to_string().contains("CALLCARD_HOME"));
    }

    #[test]
    fn create_all_makes_private_folders() {
        let root = tempfile::tempdir().unwrap();
        let paths = Paths::under(root.path());
        paths.create_all().unwrap();
        assert!(paths.log_dir().is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&paths.data_dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "data folder must not be readable by others");
        }
    }
}
