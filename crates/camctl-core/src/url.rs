//! Camera addresses: `scheme://host[:port][?key=value&...]`.
//!
//! A full URL crate would bring IDNA tables for a grammar this small; camera URLs only ever carry an
//! IP literal or host name, an optional port and plain `key=value` options.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a camera URL could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No `scheme://` prefix.
    #[error("not a camera URL (expected scheme://host[:port]): {0:?}")]
    MissingScheme(String),
    /// Host part empty or malformed.
    #[error("bad host in camera URL: {0:?}")]
    BadHost(String),
    /// Port not a number in 0..=65535.
    #[error("bad port in camera URL: {0:?}")]
    BadPort(String),
    /// A query option was not `key=value`, was badly escaped or was given twice. Only the key is
    /// kept: values can be secrets (a Wyze ENR).
    #[error("bad option {0:?} in camera URL (not key=value, badly %-escaped, or given twice)")]
    BadOption(String),
    /// An option the protocol does not know (a typo would otherwise be ignored silently).
    #[error("unknown option {option:?} in {scheme}:// URL (known: {})", known.join(", "))]
    UnknownOption {
        /// The URL's scheme.
        scheme: String,
        /// The option given.
        option: String,
        /// The options this scheme knows.
        known: Vec<String>,
    },
}

/// A parsed camera address such as `ptpip://192.168.1.1:15740` or `yi://127.0.0.1?data_port=9000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraUrl {
    /// Lower-cased scheme, e.g. `ptpip`.
    pub scheme: String,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Query options in key order.
    pub options: BTreeMap<String, String>,
}

impl CameraUrl {
    /// The explicit port, or `default` (the camera's real port).
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }

    /// `host:port` suitable for `TcpStream::connect`, bracketing IPv6 literals.
    pub fn socket_addr(&self, default_port: u16) -> String {
        format!("{}:{}", self.host_for_url(), self.port_or(default_port))
    }

    /// Parse option `key` as a number, if present.
    pub fn option_u16(&self, key: &str) -> Result<Option<u16>, UrlError> {
        self.options.get(key).map(|v| v.parse().map_err(|_| UrlError::BadOption(key.to_string()))).transpose()
    }

    /// Option `key` as a yes/no (`1`, `true`, `on` / `0`, `false`, `off`); `default` when absent.
    ///
    /// ```
    /// use camctl_core::CameraUrl;
    /// let url: CameraUrl = "wyze://h?resend=1&dtls=off&audio=maybe".parse().unwrap();
    /// assert_eq!(url.option_bool("resend", false).unwrap(), true);
    /// assert_eq!(url.option_bool("dtls", true).unwrap(), false);
    /// assert_eq!(url.option_bool("verify", true).unwrap(), true);
    /// assert!(url.option_bool("audio", true).unwrap_err().to_string().contains("audio=maybe"));
    /// ```
    pub fn option_bool(&self, key: &str, default: bool) -> crate::Result<bool> {
        match self.options.get(key).map(String::as_str) {
            None => Ok(default),
            Some("1" | "true" | "on") => Ok(true),
            Some("0" | "false" | "off") => Ok(false),
            Some(other) => Err(crate::Error::InvalidValue(format!(
                "{key}={} (use 1 or 0, true or false)",
                crate::text::Safe(other)
            ))),
        }
    }

    /// Refuses options not in `known`, naming the known ones.
    ///
    /// ```
    /// use camctl_core::CameraUrl;
    /// let url: CameraUrl = "yi://h?data_prot=1".parse().unwrap();
    /// let err = url.check_options(&["data_port", "verify"]).unwrap_err();
    /// assert_eq!(err.to_string(), r#"unknown option "data_prot" in yi:// URL (known: data_port, verify)"#);
    /// ```
    pub fn check_options(&self, known: &[&str]) -> Result<(), UrlError> {
        match self.options.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(option) => Err(UrlError::UnknownOption {
                scheme: self.scheme.clone(),
                option: option.clone(),
                known: known.iter().map(|k| k.to_string()).collect(),
            }),
        }
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() }
    }
}

impl fmt::Display for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host_for_url())?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for (i, (k, v)) in self.options.iter().enumerate() {
            write!(f, "{}{}={}", if i == 0 { '?' } else { '&' }, percent_encode(k), percent_encode(v))?;
        }
        Ok(())
    }
}

impl FromStr for CameraUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = s
            .split_once("://")
            .filter(|(scheme, _)| {
                !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
            })
            .ok_or_else(|| UrlError::MissingScheme(s.to_string()))?;
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.trim_end_matches('/');
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) =
                bracketed.split_once(']').ok_or_else(|| UrlError::BadHost(authority.to_string()))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| UrlError::BadPort(p.to_string()))?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty()
            || host.chars().any(|c| c.is_whitespace() || c == '/' || c == '@')
            || (host.contains(':') && !authority.starts_with('['))
        {
            return Err(UrlError::BadHost(authority.to_string()));
        }
        let port =
            port.map(|p| p.parse::<u16>().map_err(|_| UrlError::BadPort(p.to_string()))).transpose()?;
        let mut options = BTreeMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            // The key alone names the option: an option without '=' is named by nothing of it.
            let (k, v) = pair.split_once('=').ok_or_else(|| UrlError::BadOption(String::new()))?;
            let bad = || UrlError::BadOption(percent_decode(k).unwrap_or_default());
            let (k, v) = (percent_decode(k).ok_or_else(bad)?, percent_decode(v).ok_or_else(bad)?);
            if k.is_empty() || options.insert(k, v).is_some() {
                return Err(bad());
            }
        }
        Ok(CameraUrl { scheme: scheme.to_ascii_lowercase(), host: host.to_string(), port, options })
    }
}

/// `%XX` escapes decoded (camera secrets such as a Wyze ENR may contain `/`, `+` or `=`).
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            // from_str_radix alone would take "%+5" as 5.
            let hex = [bytes.next()?, bytes.next()?];
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let u: CameraUrl = "ptpip://127.0.0.1:15741".parse().unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str(), u.port), ("ptpip", "127.0.0.1", Some(15741)));
        let u: CameraUrl = "yi://cam.local?data_port=9000".parse().unwrap();
        assert_eq!(u.port, None);
        assert_eq!(u.option_u16("data_port").unwrap(), Some(9000));
        let u: CameraUrl = "wyze://[::1]:32761?uid=ABC&enr=x&mac=AA".parse().unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.socket_addr(1), "[::1]:32761");
        assert_eq!(u.to_string(), "wyze://[::1]:32761?enr=x&mac=AA&uid=ABC");
    }

    #[test]
    fn option_values_are_percent_decoded_and_encoded() {
        let u: CameraUrl = "wyze://127.0.0.1:32761?enr=Ab%2FCd%2B%3D&uid=X".parse().unwrap();
        assert_eq!(u.options["enr"], "Ab/Cd+=");
        assert_eq!(u.to_string(), "wyze://127.0.0.1:32761?enr=Ab%2FCd%2B%3D&uid=X");
        assert!("wyze://h?enr=%zz".parse::<CameraUrl>().is_err());
        assert!("wyze://h?enr=%2".parse::<CameraUrl>().is_err());
        assert!("wyze://h?enr=%+5".parse::<CameraUrl>().is_err());
        assert!("wyze://h?enr=%-1".parse::<CameraUrl>().is_err());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "127.0.0.1",
            "ptpip://",
            "ptpip://h:99999",
            "ptpip://h:x",
            "ptpip://::1",
            "yi://h?x",
            "yi://h?a=1&a=2",
            "://h",
        ] {
            assert!(bad.parse::<CameraUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["ptpip://127.0.0.1:15740", "yi://10.0.0.1?data_port=1", "lytro://h"] {
            assert_eq!(s.parse::<CameraUrl>().unwrap().to_string(), s);
        }
    }
}
