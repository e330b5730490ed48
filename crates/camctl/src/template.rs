//! `--filename TEMPLATE`: local file names from gphoto2's %-codes.
//!
//! Codes: `%f` the camera's name without suffix, `%C` its suffix (without the dot), `%F` the camera
//! folder, `%Y %y %m %d %H %M %S` the capture time, `%n` a sequence number (`%03n` zero-padded to
//! three digits), `%%` a percent sign. A `/` in the template makes folders. The rendered name goes
//! through the same sanitizing as camera paths, so no template or camera name can reach outside the
//! target folder.
//!
//! The capture time is the camera's date as it reports it: cameras keep local wall-clock time and
//! report it without a zone, so it is used as is. Without a date, the local time of the import.

use std::path::PathBuf;

use camctl_core::time::DateTime;
use camctl_core::{Error, Result};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Stem,
    Suffix,
    Folder,
    Year,
    YearOfCentury,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Sequence { width: usize },
}

/// Widest zero padding accepted for `%Nn` (more is a typo, not a wish).
const MAX_SEQUENCE_WIDTH: usize = 12;

/// A parsed `--filename` template.
///
/// ```ignore
/// let t = FilenameTemplate::parse("%Y/%m/%d/%f_%03n.%C").unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilenameTemplate {
    parts: Vec<Part>,
}

/// What a template is rendered from.
pub struct TemplateInput<'a> {
    /// The camera's path of the file (`/`-separated).
    pub camera_path: &'a str,
    /// The capture time as the camera reports it.
    pub captured: Option<DateTime>,
    /// The sequence number of this file in the job, from 1.
    pub sequence: u64,
}

impl FilenameTemplate {
    /// Parses `template`; unknown codes and a trailing `%` are refused with the reason.
    pub fn parse(template: &str) -> Result<FilenameTemplate> {
        let bad = |why: String| Error::InvalidValue(format!("--filename {template:?}: {why}"));
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            let Some(code) = chars.next() else {
                return Err(bad("ends with a lone '%' (write %% for a percent sign)".into()));
            };
            if !digits.is_empty() && code != 'n' {
                return Err(bad(format!("a width is only for %n, not %{digits}{code}")));
            }
            let part = match code {
                '%' => {
                    literal.push('%');
                    continue;
                }
                'f' => Part::Stem,
                'C' => Part::Suffix,
                'F' => Part::Folder,
                'Y' => Part::Year,
                'y' => Part::YearOfCentury,
                'm' => Part::Month,
                'd' => Part::Day,
                'H' => Part::Hour,
                'M' => Part::Minute,
                'S' => Part::Second,
                'n' => {
                    let width = if digits.is_empty() { 0 } else { digits.parse().unwrap_or(usize::MAX) };
                    if width > MAX_SEQUENCE_WIDTH {
                        return Err(bad(format!("%{digits}n: at most {MAX_SEQUENCE_WIDTH} digits")));
                    }
                    Part::Sequence { width }
                }
                other => {
                    return Err(bad(format!(
                        "unknown code %{other} (known: %f %C %F %Y %y %m %d %H %M %S %n %03n %%)"
                    )));
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if parts.is_empty() {
            return Err(bad("empty".into()));
        }
        Ok(FilenameTemplate { parts })
    }

    /// The relative local path for `input`, sanitized like a camera path.
    pub fn render(&self, input: &TemplateInput<'_>) -> Result<PathBuf> {
        let (folder, name) = input.camera_path.rsplit_once('/').unwrap_or(("", input.camera_path));
        let (stem, suffix) = match name.rsplit_once('.') {
            Some((stem, suffix)) if !stem.is_empty() => (stem, suffix),
            _ => (name, ""),
        };
        let when = input.captured.unwrap_or_else(DateTime::now_local);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Stem => out.push_str(stem),
                Part::Suffix => out.push_str(suffix),
                Part::Folder => out.push_str(folder.trim_matches('/')),
                Part::Year => out.push_str(&format!("{:04}", when.year)),
                Part::YearOfCentury => out.push_str(&format!("{:02}", when.year.rem_euclid(100))),
                Part::Month => out.push_str(&format!("{:02}", when.month)),
                Part::Day => out.push_str(&format!("{:02}", when.day)),
                Part::Hour => out.push_str(&format!("{:02}", when.hour)),
                Part::Minute => out.push_str(&format!("{:02}", when.minute)),
                Part::Second => out.push_str(&format!("{:02}", when.second)),
                Part::Sequence { width } => out.push_str(&format!("{:0width$}", input.sequence)),
            }
        }
        if out.ends_with('/') || out.ends_with('.') {
            // "%f." for a file without suffix: no trailing dot, and never an empty last component.
            out = out.trim_end_matches(['/', '.']).to_string();
        }
        camctl_core::download::sanitize_relative_path(&out).map_err(|e| {
            Error::InvalidValue(format!("--filename: {e} (rendered for {:?})", input.camera_path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str, seq: u64) -> TemplateInput<'_> {
        TemplateInput { camera_path: path, captured: DateTime::parse("2024-03-05 07:08:09"), sequence: seq }
    }

    fn render(t: &str, path: &str, seq: u64) -> String {
        FilenameTemplate::parse(t).unwrap().render(&input(path, seq)).unwrap().to_string_lossy().into_owned()
    }

    #[test]
    fn every_code() {
        let p = "DCIM/100MEDIA/YDXJ0042.MP4";
        assert_eq!(render("%f.%C", p, 1), "YDXJ0042.MP4");
        assert_eq!(render("%F/%f", p, 1), "DCIM/100MEDIA/YDXJ0042");
        // ':' is not portable in file names: sanitized to '_' like any camera name.
        assert_eq!(render("%Y-%m-%d %H:%M:%S", p, 1), "2024-03-05 07_08_09");
        assert_eq!(render("%y%m%d", p, 1), "240305");
        assert_eq!(render("shot_%n.%C", p, 7), "shot_7.MP4");
        assert_eq!(render("shot_%03n.%C", p, 7), "shot_007.MP4");
        assert_eq!(render("100%%_%f", p, 1), "100%_YDXJ0042");
        assert_eq!(render("%Y/%m/%f.%C", p, 1), "2024/03/YDXJ0042.MP4");
    }

    #[test]
    fn names_without_folder_or_suffix() {
        assert_eq!(render("%F/%f.%C", "IMG_1", 1), "IMG_1");
        assert_eq!(render("%f.%C", ".hidden", 1), ".hidden");
        assert_eq!(render("x/%f.%C", "a/b.tar.gz", 1), "x/b.tar.gz");
    }

    #[test]
    fn cannot_leave_the_folder() {
        // A template or a camera name pointing up or to the root stays inside.
        assert_eq!(render("/etc/%f", "passwd", 1), "etc/passwd");
        let up = FilenameTemplate::parse("../%f").unwrap().render(&input("x", 1));
        assert!(up.is_err() || !up.unwrap().starts_with(".."));
        let evil = FilenameTemplate::parse("%F/%f").unwrap().render(&input("../../etc/passwd", 1));
        assert!(evil.is_err() || !evil.unwrap().to_string_lossy().contains(".."));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in ["%q", "abc%", "%3f", "%99999999999999999999n", "%13n", ""] {
            assert!(FilenameTemplate::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FilenameTemplate::parse("%12n").is_ok());
    }
}
