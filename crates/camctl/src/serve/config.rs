//! What `camctl serve` serves: cameras by name with their URLs and import folders, the listen
//! addresses and the credentials, from a TOML file and/or the command line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use camctl_core::text::constant_time_eq;
use camctl_core::{Error, Result};
use serde::Deserialize;

/// The default HTTP address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8380";
/// The default RTSP address.
pub const DEFAULT_RTSP_LISTEN: &str = "127.0.0.1:8554";

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    rtsp_listen: Option<SocketAddr>,
    catalog: Option<PathBuf>,
    auth: Option<Credentials>,
    #[serde(default)]
    cameras: BTreeMap<String, CameraEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraEntry {
    url: String,
    import: Option<PathBuf>,
    filename: Option<String>,
}

/// Who may use the gateway: a bearer token, a user and password, or both. The same credentials
/// open the RTSP streams (Basic; a token is accepted as the password of any user name).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// `Authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// Basic authentication: user name...
    pub user: Option<String>,
    /// ...and password.
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    // Never the secrets themselves, not even in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Credentials {
    /// Whether any credential is set.
    pub fn is_set(&self) -> bool {
        self.token.is_some() || (self.user.is_some() && self.password.is_some())
    }

    /// Whether a Basic `user`/`password` pair is accepted.
    pub fn accepts_basic(&self, user: &str, password: &str) -> bool {
        let pair = match (&self.user, &self.password) {
            (Some(u), Some(p)) => constant_time_eq(u, user) & constant_time_eq(p, password),
            _ => false,
        };
        pair || self.accepts_token(password)
    }

    /// Whether `token` is the configured token.
    pub fn accepts_token(&self, token: &str) -> bool {
        self.token.as_deref().is_some_and(|t| constant_time_eq(t, token))
    }
}

/// One camera to serve.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// The name in URLs (`/api/cameras/NAME`, `rtsp://.../NAME`).
    pub name: String,
    /// The camera URL (may carry secrets: never shown).
    pub url: String,
    /// Auto-import folder.
    pub import: Option<PathBuf>,
    /// Local names for imports (gphoto2's codes).
    pub filename: Option<String>,
}

/// Everything serve needs.
#[derive(Debug)]
pub struct ServeConfig {
    /// HTTP address.
    pub listen: SocketAddr,
    /// RTSP address.
    pub rtsp_listen: SocketAddr,
    /// The import catalog (default location when `None`).
    pub catalog: Option<PathBuf>,
    /// Credentials (none: loopback only).
    pub auth: Credentials,
    /// The cameras, in name order.
    pub cameras: Vec<CameraConfig>,
}

/// What the command line says, beside the config file.
#[derive(Debug, Default)]
pub struct CommandLine {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `NAME=URL...`.
    pub cameras: Vec<String>,
    /// `--import NAME=DIR...`.
    pub imports: Vec<String>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--rtsp-listen`.
    pub rtsp_listen: Option<SocketAddr>,
    /// `--catalog`.
    pub catalog: Option<PathBuf>,
}

/// A camera name usable in URL paths and RTSP mounts.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.')
}

fn split_pair<'a>(arg: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    arg.split_once('=').ok_or_else(|| Error::InvalidValue(format!("{arg:?}: expected {what}")))
}

impl ServeConfig {
    /// Reads the config file (if any) and applies the command line over it.
    pub fn load(cli: CommandLine) -> Result<ServeConfig> {
        let file = match &cli.config {
            Some(path) => parse_file(path)?,
            None => File::default(),
        };
        let mut cameras: BTreeMap<String, CameraConfig> = BTreeMap::new();
        for (name, entry) in file.cameras {
            cameras.insert(
                name.clone(),
                CameraConfig { name, url: entry.url, import: entry.import, filename: entry.filename },
            );
        }
        for arg in &cli.cameras {
            let (name, url) = split_pair(arg, "NAME=URL")?;
            if cameras.contains_key(name) {
                return Err(Error::InvalidValue(format!("camera {name:?} is named twice")));
            }
            cameras.insert(
                name.to_string(),
                CameraConfig { name: name.to_string(), url: url.to_string(), import: None, filename: None },
            );
        }
        for arg in &cli.imports {
            let (name, dir) = split_pair(arg, "NAME=DIR")?;
            let camera = cameras
                .get_mut(name)
                .ok_or_else(|| Error::InvalidValue(format!("--import {name}=...: no camera of that name")))?;
            camera.import = Some(PathBuf::from(dir));
        }
        for (name, camera) in &cameras {
            // A URL that cannot work is refused now, not retried for ever (its error names no
            // option value: those can be secrets).
            camera
                .url
                .parse::<camctl_core::CameraUrl>()
                .map_err(|e| Error::InvalidValue(format!("camera {name}: {e}")))?;
            if !valid_name(name) {
                return Err(Error::InvalidValue(format!(
                    "camera name {name:?}: use letters, digits, '-', '_' and '.' (up to 64)"
                )));
            }
        }
        if cameras.is_empty() {
            return Err(Error::InvalidValue(
                "no cameras to serve: give NAME=URL arguments or a --config file with [cameras.NAME]".into(),
            ));
        }
        let parse_default = |s: &str| s.parse::<SocketAddr>().expect("a valid default address");
        let config = ServeConfig {
            listen: cli.listen.or(file.listen).unwrap_or_else(|| parse_default(DEFAULT_LISTEN)),
            rtsp_listen: cli
                .rtsp_listen
                .or(file.rtsp_listen)
                .unwrap_or_else(|| parse_default(DEFAULT_RTSP_LISTEN)),
            catalog: cli.catalog.or(file.catalog),
            auth: file.auth.unwrap_or_default(),
            cameras: cameras.into_values().collect(),
        };
        config.check_exposure()?;
        Ok(config)
    }

    /// Loopback needs nothing; any other address needs credentials.
    fn check_exposure(&self) -> Result<()> {
        let auth = &self.auth;
        if auth.user.is_some() != auth.password.is_some() {
            return Err(Error::InvalidValue("[auth]: give both user and password, or neither".into()));
        }
        if auth.token.as_deref().is_some_and(|t| t.len() < 16)
            || auth.password.as_deref().is_some_and(|p| p.len() < 8)
        {
            return Err(Error::InvalidValue(
                "[auth]: the token needs at least 16 characters, the password at least 8".into(),
            ));
        }
        for (what, addr) in [("--listen", self.listen), ("--rtsp-listen", self.rtsp_listen)] {
            if !addr.ip().is_loopback() && !auth.is_set() {
                return Err(Error::InvalidValue(format!(
                    "refusing to serve on {addr} ({what}) without authentication: anyone on that network could \
                     see and control the cameras. Set [auth] token = \"...\" or user/password in the --config \
                     file, or listen on 127.0.0.1"
                )));
            }
        }
        Ok(())
    }
}

fn parse_file(path: &Path) -> Result<File> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    toml::from_str(&text).map_err(|e| Error::InvalidValue(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml_text: &str, cli: CommandLine) -> Result<ServeConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, toml_text).unwrap();
        ServeConfig::load(CommandLine { config: Some(path), ..cli })
    }

    #[test]
    fn file_and_command_line_combine() {
        let config = load(
            "listen = \"127.0.0.1:9000\"\n[cameras.studio]\nurl = \"ptpip://127.0.0.1:15740\"\nimport = \"/tmp/in\"\n",
            CommandLine { cameras: vec!["yard=yi://127.0.0.1:7878".into()], ..CommandLine::default() },
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.rtsp_listen.to_string(), DEFAULT_RTSP_LISTEN);
        let names: Vec<&str> = config.cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["studio", "yard"]);
        assert_eq!(config.cameras[0].import.as_deref(), Some(Path::new("/tmp/in")));
    }

    #[test]
    fn other_addresses_need_credentials() {
        let cli = || CommandLine {
            cameras: vec!["a=ptpip://127.0.0.1".into()],
            listen: Some("0.0.0.0:8380".parse().unwrap()),
            ..CommandLine::default()
        };
        let e = ServeConfig::load(cli()).unwrap_err().to_string();
        assert!(e.contains("without authentication"), "{e}");
        let ok = load("[auth]\ntoken = \"0123456789abcdef\"\n", cli()).unwrap();
        assert!(ok.auth.accepts_token("0123456789abcdef"));
        assert!(!ok.auth.accepts_token("0123456789abcdeX"));
        assert!(ok.auth.accepts_basic("anyone", "0123456789abcdef"));
        assert!(load("[auth]\ntoken = \"short\"\n", cli()).is_err());
        assert!(load("[auth]\nuser = \"me\"\n", cli()).is_err());
        assert!(!format!("{:?}", ok.auth).contains("0123"));
    }

    #[test]
    fn bad_names_and_unknown_keys_are_refused() {
        let bad = CommandLine { cameras: vec!["../x=ptpip://127.0.0.1".into()], ..CommandLine::default() };
        assert!(ServeConfig::load(bad).is_err());
        assert!(
            load("[cameras.a]\nurl = \"ptpip://127.0.0.1\"\npasword = 1\n", CommandLine::default()).is_err()
        );
        assert!(ServeConfig::load(CommandLine::default()).is_err());
        let twice =
            CommandLine { cameras: vec!["a=yi://h".into(), "a=yi://h".into()], ..CommandLine::default() };
        assert!(ServeConfig::load(twice).is_err());
    }
}
