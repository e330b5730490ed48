//! Camera-supplied text made safe for a terminal: a camera names files, models and settings, and a
//! hostile one could otherwise set the window title or clear the screen through `ls` or `info`.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls (ESC, CSI, BEL...), DEL, and the
/// bidirectional overrides that make text display in another order than it is stored.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character, escape sequence introducer and bidi override written visibly
/// (`\e`, `\n`, `\u{9b}`...); plain text is returned as is, without copying.
///
/// ```
/// use camctl_core::text::escape;
/// assert_eq!(escape("IMG_0001.JPG"), "IMG_0001.JPG");
/// assert_eq!(escape("x\u{1b}]0;owned\u{7}y"), r"x\e]0;owned\u{7}y");
/// assert_eq!(escape("a\nb\tc\u{9b}2J"), r"a\nb\tc\u{9b}2J");
/// assert_eq!(escape("back\\slash"), r"back\\slash");
/// ```
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            '\u{1b}' => out.push_str(r"\e"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Display adapter for [`escape`]: `format!("{}", Safe(name))`.
///
/// ```
/// use camctl_core::text::Safe;
/// assert_eq!(format!("{:>8}", Safe("a\u{7}")), r"  a\u{7}");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Safe<'a>(pub &'a str);

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&escape(self.0))
    }
}

/// Equality of secrets whose time depends only on the lengths, so a guesser learns nothing from
/// how long a wrong guess took.
///
/// ```
/// assert!(camctl_core::text::constant_time_eq("token", "token"));
/// assert!(!camctl_core::text::constant_time_eq("token", "tokex"));
/// assert!(!camctl_core::text::constant_time_eq("token", "tok"));
/// ```
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_unsafe_survives() {
        let hostile = "\u{1b}[2J\u{1b}]0;title\u{7}\u{9b}31m\u{202e}gpj.exe\u{0}\u{7f}";
        let shown = escape(hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(shown, r"\e[2J\e]0;title\u{7}\u{9b}31m\u{202e}gpj.exe\u{0}\u{7f}");
    }

    #[test]
    fn plain_and_unicode_text_is_kept() {
        assert!(matches!(escape("Café 東京 f/5.6"), Cow::Borrowed(_)));
    }
}
