//! The hub's configuration: from the environment (a systemd unit's
//! `Environment=`/`EnvironmentFile=`, a container's variables), secrets from
//! a file (`…_FILE`, for systemd credentials and container secrets) or the
//! variable itself. Secrets never reach a log: the config's Debug hides them.

use crate::server::WebhookToken;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error("{name} is not valid: {detail}")]
    Invalid { name: &'static str, detail: String },
    #[error("cannot read {name} from {path}: {source}")]
    SecretFile {
        name: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct HubConfig {
    /// Where the hub listens (behind a TLS reverse proxy).
    pub addr: SocketAddr,
    /// The event log's SQLite file.
    pub database: PathBuf,
    /// Needed to serve; the user commands do without.
    pub webhook_token: Option<WebhookToken>,
    /// Where `webhook create` and `webhook rotate` keep the token.
    pub webhook_token_file: Option<PathBuf>,
    /// Events older than this are pruned.
    pub retention_days: u32,
    /// The company's Aircall API key: to look a desktop's user and numbers up.
    pub aircall: Option<AircallKey>,
    /// The JobAdder partner app, when the hub brokers its tokens.
    pub jobadder: Option<crate::broker::JobAdderClient>,
}

/// An Aircall API key (id and token) and the API's base URL.
pub struct AircallKey {
    pub api_url: String,
    pub api_id: String,
    pub api_token: String,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("addr", &self.addr)
            .field("database", &self.database)
            .field("retention_days", &self.retention_days)
            .finish_non_exhaustive()
    }
}

/// `CALLCARD_HUB_CONFIG`: a file of `NAME=value` lines with the same names
/// as the variables (blank lines and `#` comments allowed, values may be
/// quoted); a variable set in the environment wins over the file.
pub fn read_config_file(
    path: &std::path::Path,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        name: "CALLCARD_HUB_CONFIG",
        path: path.to_owned(),
        source,
    })?;
    let mut values = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(ConfigError::Invalid {
                name: "CALLCARD_HUB_CONFIG",
                detail: format!("line {} is not NAME=value", n + 1),
            });
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        values.insert(name.trim().to_owned(), value.to_owned());
    }
    Ok(values)
}

/// The environment, then the config file it names (if any).
pub fn environment_and_file() -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    let file = match std::env::var("CALLCARD_HUB_CONFIG") {
        Ok(path) if !path.trim().is_empty() => read_config_file(std::path::Path::new(path.trim()))?,
        _ => Default::default(),
    };
    Ok(move |key: &str| std::env::var(key).ok().or_else(|| file.get(key).cloned()))
}

impl HubConfig {
    /// Reads `CALLCARD_HUB_*` through `env` (the process environment in the binary).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let addr = var("CALLCARD_HUB_ADDR").unwrap_or_else(|| "127.0.0.1:8750".to_owned());
        let addr = addr
            .parse()
            .map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
                name: "CALLCARD_HUB_ADDR",
                detail: e.to_string(),
            })?;
        let database = var("CALLCARD_HUB_DATABASE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("callcard-hub.sqlite3"));
        let retention_days = match var("CALLCARD_HUB_RETENTION_DAYS") {
            None => 30,
            Some(days) => days.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "CALLCARD_HUB_RETENTION_DAYS",
                detail: format!("{days:?} is not a number of days"),
            })?,
        };
        // In a file, the token is followed as it changes (a rotation needs no restart).
        let token = match var("CALLCARD_HUB_WEBHOOK_TOKEN_FILE") {
            Some(path) => {
                let path = PathBuf::from(path);
                match WebhookToken::from_file(&path) {
                    Ok(token) => Some(token),
                    // Not there yet: `webhook create` is about to write it.
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                    Err(source) => {
                        return Err(ConfigError::SecretFile {
                            name: "CALLCARD_HUB_WEBHOOK_TOKEN",
                            path,
                            source,
                        })
                    }
                }
            }
            None => var("CALLCARD_HUB_WEBHOOK_TOKEN").map(WebhookToken::new),
        };
        let webhook_token_file = var("CALLCARD_HUB_WEBHOOK_TOKEN_FILE").map(PathBuf::from);
        let aircall = match (
            var("CALLCARD_HUB_AIRCALL_API_ID"),
            secret(&env, "CALLCARD_HUB_AIRCALL_API_TOKEN")?,
        ) {
            (Some(api_id), Some(api_token)) => Some(AircallKey {
                api_url: var("CALLCARD_HUB_AIRCALL_API_URL")
                    .unwrap_or_else(|| "https://api.aircall.io".to_owned()),
                api_id,
                api_token,
            }),
            _ => None,
        };
        let jobadder = match (
            var("CALLCARD_HUB_JOBADDER_CLIENT_ID"),
            secret(&env, "CALLCARD_HUB_JOBADDER_CLIENT_SECRET")?,
        ) {
            (Some(client_id), Some(client_secret)) => Some(crate::broker::JobAdderClient {
                token_url: var("CALLCARD_HUB_JOBADDER_TOKEN_URL")
                    .unwrap_or_else(|| "https://id.jobadder.com/connect/token".to_owned()),
                client_id,
                client_secret,
            }),
            _ => None,
        };
        Ok(Self {
            jobadder,
            addr,
            database,
            webhook_token: token,
            webhook_token_file,
            retention_days,
            aircall,
        })
    }

    /// The webhook token, which serving needs.
    pub fn require_webhook_token(&self) -> Result<WebhookToken, ConfigError> {
        self.webhook_token.clone().ok_or(ConfigError::Missing(
            "CALLCARD_HUB_WEBHOOK_TOKEN",
            "the token Aircall sends with each webhook event (or CALLCARD_HUB_WEBHOOK_TOKEN_FILE)",
        ))
    }

    /// The Aircall key, which looking users up needs.
    pub fn require_aircall(&self) -> Result<&AircallKey, ConfigError> {
        self.aircall.as_ref().ok_or(ConfigError::Missing(
            "CALLCARD_HUB_AIRCALL_API_ID and CALLCARD_HUB_AIRCALL_API_TOKEN",
            "the company's Aircall API key, to look desktop users up",
        ))
    }
}

/// `NAME_FILE` (a file holding the secret) wins over `NAME`.
fn secret(env: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    if let Some(path) = env(&file_var).filter(|p| !p.trim().is_empty()) {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
            name,
            path: path.clone(),
            source,
        })?;
        return Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()));
    }
    Ok(env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_token_comes_from_a_file_first_and_never_shows_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let config = HubConfig::from_env(env(vec![
            ("CALLCARD_HUB_WEBHOOK_TOKEN", "from-env".into()),
            ("CALLCARD_HUB_WEBHOOK_TOKEN_FILE", file.display().to_string()),
        ]))
        .unwrap();
        assert!(!format!("{config:?}").contains("from-"));
        assert_eq!(config.retention_days, 30);
        assert_eq!(config.addr.to_string(), "127.0.0.1:8750");
    }

    #[test]
    fn a_missing_token_and_a_bad_address_are_explained() {
        let missing = HubConfig::from_env(env(vec![]))
            .unwrap()
            .require_webhook_token()
            .unwrap_err();
        assert!(missing.to_string().contains("CALLCARD_HUB_WEBHOOK_TOKEN"));
        let bad = HubConfig::from_env(env(vec![
            ("CALLCARD_HUB_WEBHOOK_TOKEN", "t".into()),
            ("CALLCARD_HUB_ADDR", "somewhere".into()),
        ]))
        .unwrap_err();
        assert!(bad.to_string().contains("CALLCARD_HUB_ADDR"));
    }

    #[test]
    fn a_config_file_gives_the_same_names_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.conf");
        std::fs::write(
            &path,
            "# the team hub\nCALLCARD_HUB_ADDR=127.0.0.1:9000\n\nCALLCARD_HUB_RETENTION_DAYS=\"14\"\n",
        )
        .unwrap();
        let file = read_config_file(&path).unwrap();
        assert_eq!(file["CALLCARD_HUB_ADDR"], "127.0.0.1:9000");
        assert_eq!(file["CALLCARD_HUB_RETENTION_DAYS"], "14");
        let config = HubConfig::from_env(|key| {
            (key == "CALLCARD_HUB_ADDR")
                .then(|| "127.0.0.1:9100".to_owned())
                .or_else(|| file.get(key).cloned())
        })
        .unwrap();
        assert_eq!(config.addr.port(), 9100);
        assert_eq!(config.retention_days, 14);
        std::fs::write(&path, "CALLCARD_HUB_ADDR\n").unwrap();
        assert!(read_config_file(&path).is_err(), "a line that is not NAME=value");
    }
}
