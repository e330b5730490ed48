//! Authentication material (tutk.md §3): XXTEA exactly as `btea` (§3.4), the key selected by the
//! camera status of the 10001 challenge (§3.3), which challenge-response command to send (§3.5), and the
//! secrets the transport derives from ENR and MAC (§3.7: AuthKey, DTLS PSK).
//!
//! ```
//! use camctl_wyze::auth;
//! let answer = auth::solve_challenge(3, b"0123456789ABCDEF", b"AbCdEfGh/JkLmN0p").unwrap();
//! assert_eq!(auth::hex(&answer), "0b4289aefd09b49cc03c5953cc4d54a3");
//! assert_eq!(auth::auth_key("AbCdEfGh/JkLmN0p", "2CAABBCCDDEE"), "GgGDlrGh");
//! ```

use sha2::{Digest, Sha256};

use crate::wire::{FrameSize, code};

/// The key of cameras in status 1: ASCII `"FFFFFFFFFFFFFFFF"` (16 × 0x46, not 0xFF).
pub const DEFAULT_KEY: [u8; 16] = *b"FFFFFFFFFFFFFFFF";

const DELTA: u32 = 0x9E37_79B9;

fn words(block: &[u8; 16]) -> [u32; 4] {
    let mut w = [0u32; 4];
    for (i, chunk) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    w
}

fn bytes(w: [u32; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, word) in w.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

fn mx(sum: u32, y: u32, z: u32, p: usize, e: u32, k: &[u32; 4]) -> u32 {
    (((z >> 5) ^ (y << 2)).wrapping_add((y >> 3) ^ (z << 4)))
        ^ ((sum ^ y).wrapping_add(k[(p & 3) ^ e as usize] ^ z))
}

/// XXTEA ("Corrected Block TEA") encryption of one 16-byte block, data and key read as 4 × u32 LE, no
/// padding, 19 rounds (`btea` with n = 4).
pub fn xxtea_encrypt(data: &[u8; 16], key: &[u8; 16]) -> [u8; 16] {
    const N: usize = 4;
    let mut v = words(data);
    let k = words(key);
    let mut sum: u32 = 0;
    let mut z = v[N - 1];
    for _ in 0..(6 + 52 / N) {
        sum = sum.wrapping_add(DELTA);
        let e = (sum >> 2) & 3;
        for p in 0..N {
            let y = v[(p + 1) % N];
            v[p] = v[p].wrapping_add(mx(sum, y, z, p, e, &k));
            z = v[p];
        }
    }
    bytes(v)
}

/// XXTEA decryption of one 16-byte block (the inverse of [`xxtea_encrypt`]); what a client applies to
/// the camera's challenge.
pub fn xxtea_decrypt(data: &[u8; 16], key: &[u8; 16]) -> [u8; 16] {
    const N: usize = 4;
    let rounds = (6 + 52 / N) as u32;
    let mut v = words(data);
    let k = words(key);
    let mut sum = rounds.wrapping_mul(DELTA);
    let mut y = v[0];
    while sum != 0 {
        let e = (sum >> 2) & 3;
        for p in (0..N).rev() {
            let z = v[(p + N - 1) % N];
            v[p] = v[p].wrapping_sub(mx(sum, y, z, p, e, &k));
            y = v[p];
        }
        sum = sum.wrapping_sub(DELTA);
    }
    bytes(v)
}

/// 16 key bytes from `material`: the first 16, zero-padded when shorter (as the `xxtea` C library
/// treats short keys).
pub fn key16(material: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    let n = material.len().min(16);
    key[..n].copy_from_slice(&material[..n]);
    key
}

/// What a camera status in the 10001 reply means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySchedule {
    /// Status 1: one pass with [`DEFAULT_KEY`].
    Default,
    /// Status 3: one pass with ENR\[0..16\].
    Enr,
    /// Status 6: two passes, ENR\[0..16\] then the second key (ENR\[16..32\] or the parent ENR).
    DoubleEnr,
}

/// Why a camera status does not allow authentication (tutk.md §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// Status 2, 4, 5 or unknown; the camera must not be answered.
    #[error("camera status {status}: {}", describe_status(*status))]
    Unavailable {
        /// The status byte.
        status: u8,
    },
}

/// The human meaning of a camera status byte.
pub fn describe_status(status: u8) -> &'static str {
    match status {
        1 => "default key",
        2 => "camera is updating",
        3 => "ENR key",
        4 => "camera is checking ENR",
        5 => "camera is off",
        6 => "double ENR key",
        _ => "unexpected camera status",
    }
}

impl KeySchedule {
    /// The schedule for a status byte (DWB: only 1, 3 and 6 are answered).
    pub fn for_status(status: u8) -> Result<Self, StatusError> {
        match status {
            1 => Ok(KeySchedule::Default),
            3 => Ok(KeySchedule::Enr),
            6 => Ok(KeySchedule::DoubleEnr),
            status => Err(StatusError::Unavailable { status }),
        }
    }

    /// The keys, in the order the client applies them (decryption passes). `material` is the ENR, or for
    /// status 6 the ENR followed by the parent ENR (DWB `enr + parent_enr`). The second key of status 6
    /// follows go2rtc: `material[16..32]` when at least 32 bytes, zero-padded `material[16..]` when
    /// 17..=31, otherwise [`DEFAULT_KEY`].
    pub fn keys(self, material: &[u8]) -> Vec<[u8; 16]> {
        match self {
            KeySchedule::Default => vec![DEFAULT_KEY],
            KeySchedule::Enr => vec![key16(material)],
            KeySchedule::DoubleEnr => {
                let second = match material.get(16..) {
                    Some(rest) if !rest.is_empty() => key16(rest),
                    _ => DEFAULT_KEY,
                };
                vec![key16(material), second]
            }
        }
    }
}

/// The client's answer to a 10001 challenge: XXTEA-decrypt with the status's key(s).
///
/// The camera (or the emulator) chooses R, sends `C = encrypt_challenge(R)` and expects R back.
pub fn solve_challenge(status: u8, challenge: &[u8; 16], material: &[u8]) -> Result<[u8; 16], StatusError> {
    let keys = KeySchedule::for_status(status)?.keys(material);
    Ok(keys.iter().fold(*challenge, |block, key| xxtea_decrypt(&block, key)))
}

/// The camera's side: the challenge to send so that a client holding `material` answers `secret`.
pub fn encrypt_challenge(status: u8, secret: &[u8; 16], material: &[u8]) -> Result<[u8; 16], StatusError> {
    let keys = KeySchedule::for_status(status)?.keys(material);
    Ok(keys.iter().rev().fold(*secret, |block, key| xxtea_encrypt(&block, key)))
}

/// The 4-byte "username" of 10002/10006/10008: the first 4 bytes of the MAC / phone id, with `"1234"`
/// appended first when shorter than 4 (KROO/DWB).
pub fn username(id: &str) -> [u8; 4] {
    let mut s = id.as_bytes().to_vec();
    if s.len() < 4 {
        s.extend_from_slice(b"1234");
    }
    [s[0], s[1], s[2], s[3]]
}

/// Which challenge-response command a client sends (tutk.md §3.5, DWB selection).
///
/// Doorbells `WYZEDB3`/`HL_DB2` use 10006 from protocol 23, else 10002; models known to support 10008 use it from
/// their threshold (25; `WVOD1` 29); everything else, and unknown models, use 10002 (which go2rtc sends
/// to every camera).
///
/// ```
/// use camctl_wyze::auth::auth_command;
/// assert_eq!(auth_command(Some("WYZE_CAKP2JFUS"), 30), 10008);
/// assert_eq!(auth_command(Some("HL_DB2"), 30), 10006);
/// assert_eq!(auth_command(Some("WYZEC1"), 30), 10002);
/// assert_eq!(auth_command(None, 30), 10002);
/// ```
pub fn auth_command(model: Option<&str>, protocol: u16) -> u16 {
    let Some(model) = model else { return code::CONNECT_AUTH };
    if matches!(model, "WYZEDB3" | "HL_DB2") {
        // Doorbells never use 10008 (KROO/TDG force WYZEDB3 off it); 10006 from protocol 23 (§4.1).
        return if protocol >= 23 { code::CONNECT_USER_AUTH_DB } else { code::CONNECT_AUTH };
    }
    let threshold = match model {
        "WYZEC1-JZ" | "WYZECP1_JEF" | "WYZE_CAKP2JFUS" | "HL_PAN2" | "HL_PAN3" | "HL_PANP" | "HL_CAM3P"
        | "HL_CAM4" | "HL_CFL2" => Some(25),
        "WVOD1" => Some(29),
        _ => None,
    };
    match threshold {
        Some(t) if protocol >= t => code::CONNECT_USER_AUTH,
        _ => code::CONNECT_AUTH,
    }
}

/// Models that set frame size/bitrate with 10052 instead of 10056 (tutk.md §3.1).
pub fn uses_k10052(model: Option<&str>) -> bool {
    matches!(model, Some("WYZEDB3" | "WVOD1" | "HL_WCO2" | "WYZEC1"))
}

/// Models whose HD stream is 2K, frame size 3 (go2rtc `is2K`, tutk.md §5.1).
pub fn is_2k_model(model: Option<&str>) -> bool {
    matches!(model, Some("HL_CAM3P" | "HL_PANP" | "HL_CAM4" | "HL_DB2" | "HL_CFL2"))
}

/// The floodlight camera, whose HD stream is frame size 4 (go2rtc `isFloodlight`; DWB
/// `hq_size = 4 if floodlight`).
pub fn is_floodlight_model(model: Option<&str>) -> bool {
    model == Some("HL_CFL2")
}

/// Video doorbells with a portrait picture: frame size 3 is 1296x1728 and 4 is 480x640 (KROO/DWB
/// `FRAME_SIZE_DOORBELL_HD` / `_SD`, tutk.md §5.1).
pub fn is_portrait_doorbell(model: Option<&str>) -> bool {
    matches!(model, Some("WYZEDB3" | "HL_DB2"))
}

/// The frame size of a model's best ("HD") stream as go2rtc asks for it (`hdFrameSize`): 4 for the
/// floodlight, 3 for the 2K models, 0 (1080p) for every other model and an unknown one.
///
/// ```
/// use camctl_wyze::{auth::hd_frame_size, wire::FrameSize};
/// assert_eq!(hd_frame_size(Some("HL_CAM4")), FrameSize::QHD_2K);
/// assert_eq!(hd_frame_size(Some("HL_CFL2")), FrameSize::FOUR);
/// assert_eq!(hd_frame_size(Some("WYZE_CAKP2JFUS")), FrameSize::HD_1080P);
/// assert_eq!(hd_frame_size(None), FrameSize::HD_1080P);
/// ```
pub fn hd_frame_size(model: Option<&str>) -> FrameSize {
    if is_floodlight_model(model) {
        FrameSize::FOUR
    } else if is_2k_model(model) {
        FrameSize::QHD_2K
    } else {
        FrameSize::HD_1080P
    }
}

/// The 8-character AuthKey: base64(SHA-256(enr + MAC.upper())\[0..6\]) with `+`→`Z`, `/`→`9`, `=`→`A`.
/// Used by the transport (IOTC connect, discovery, CC51 HMAC), not by the HL layer.
pub fn auth_key(enr: &str, mac: &str) -> String {
    let mut h = Sha256::new();
    h.update(enr.as_bytes());
    h.update(mac.to_ascii_uppercase().as_bytes());
    let digest = h.finalize();
    base64_6(&[digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]])
        .chars()
        .map(|c| match c {
            '+' => 'Z',
            '/' => '9',
            '=' => 'A',
            c => c,
        })
        .collect()
}

// Six bytes are exactly eight base64 characters, so no crate and no padding logic is needed.
fn base64_6(b: &[u8; 6]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(8);
    for chunk in b.chunks_exact(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out
}

/// The DTLS PSK as go2rtc uses it: SHA-256(ENR), 32 bytes, with everything from the first 0x00 byte on
/// zeroed (the TUTK SDK treats the PSK as a C string).
pub fn dtls_psk(enr: &str) -> [u8; 32] {
    let mut psk = dtls_psk_raw(enr);
    if let Some(nul) = psk.iter().position(|b| *b == 0) {
        psk[nul..].fill(0);
    }
    psk
}

/// The untruncated SHA-256(ENR).
pub fn dtls_psk_raw(enr: &str) -> [u8; 32] {
    Sha256::digest(enr.as_bytes()).into()
}

/// The PSK truncated at its first 0x00 byte (FSS provides this form too).
pub fn dtls_psk_truncated(enr: &str) -> Vec<u8> {
    let raw = dtls_psk_raw(enr);
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    raw[..end].to_vec()
}

/// The AV-login password: `"888888"` for non-DTLS cameras, the ENR for DTLS cameras (tutk.md §3.7).
pub fn av_password(enr: &str, dtls: bool) -> &str {
    if dtls { enr } else { "888888" }
}

/// Lower-case hex of `bytes` (for logs and test vectors).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
