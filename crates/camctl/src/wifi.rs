//! `camctl wifi-profile`: the networks a Nikon camera keeps (the "Profile creation packet" of the
//! PTP/IP notes). A profile carries the network key: it is shown only with `--show-key`.

use camctl_core::text::Safe;
use camctl_core::{Error, Result};
use camctl_ptpip::wire::nikon::{
    self, ProfileList, WifiProfile, access_mode, address_setting, authentication, encryption,
};
use serde_json::json;

use crate::any::AnyCamera;
use crate::cli::WifiAction;

/// Runs one `wifi-profile` action on a connected camera.
pub async fn run(camera: &mut AnyCamera, action: WifiAction, json: bool) -> Result<()> {
    let Some(ptp) = camera.ptp() else {
        return Err(Error::Unsupported(
            "wifi-profile: only Nikon cameras over ptpip:// keep Wi-Fi profiles".into(),
        ));
    };
    match action {
        WifiAction::List => print_list(&ptp.wifi_profiles().await?, json),
        WifiAction::Add {
            name,
            ssid,
            key,
            auth,
            encryption,
            ip,
            netmask,
            gateway,
            channel,
            ad_hoc,
            show_key,
        } => {
            let request =
                Request { name, ssid, key, auth, encryption, ip, netmask, gateway, channel, ad_hoc };
            let profile = request.profile()?;
            let slot = ptp.add_wifi_profile(profile.clone()).await?;
            print_added(slot, &profile, show_key, json);
        }
        WifiAction::Delete { id } => {
            ptp.delete_wifi_profile(id).await?;
            if json {
                println!("{}", json!({ "deleted": id }));
            } else {
                println!("deleted Wi-Fi profile {id}");
            }
        }
    }
    Ok(())
}

/// What `wifi-profile add` was asked for.
struct Request {
    name: String,
    ssid: String,
    key: Option<String>,
    auth: Option<String>,
    encryption: Option<String>,
    ip: Option<std::net::Ipv4Addr>,
    netmask: Option<std::net::Ipv4Addr>,
    gateway: Option<std::net::Ipv4Addr>,
    channel: u8,
    ad_hoc: bool,
}

/// A WEP key given as hex (`:` separators allowed, as gphoto2 takes it): 5 or 13 bytes.
fn wep_key(text: &str) -> Option<Vec<u8>> {
    let digits: String = text.chars().filter(|&c| c != ':').collect();
    if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> =
        (0..digits.len()).step_by(2).filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok()).collect();
    matches!(bytes.len(), 5 | 13).then_some(bytes)
}

impl Request {
    fn profile(self) -> Result<WifiProfile> {
        let invalid = |m: String| Error::InvalidValue(m);
        let wep = self.key.as_deref().and_then(wep_key);
        let auth = match self.auth.as_deref() {
            Some("open") => authentication::OPEN,
            Some("shared") => authentication::SHARED,
            Some("wpa-psk" | "wpa" | "wpa2") => authentication::WPA_PSK,
            Some(other) => {
                return Err(invalid(format!("--auth {}: use open, shared or wpa-psk", Safe(other))));
            }
            None if self.key.is_none() => authentication::OPEN,
            None if wep.is_some() => authentication::SHARED,
            None => authentication::WPA_PSK,
        };
        let enc = match self.encryption.as_deref() {
            Some("none") => encryption::NONE,
            Some("wep64") => encryption::WEP64,
            Some("wep128") => encryption::WEP128,
            Some("tkip") => encryption::TKIP,
            Some(other) => {
                return Err(invalid(format!(
                    "--encryption {}: use none, wep64, wep128 or tkip",
                    Safe(other)
                )));
            }
            // TKIP is the only WPA cipher the profile format has.
            None if auth == authentication::WPA_PSK => encryption::TKIP,
            None => match wep.as_ref().map(Vec::len) {
                Some(5) => encryption::WEP64,
                Some(13) => encryption::WEP128,
                _ => encryption::NONE,
            },
        };
        let key: Vec<u8> = match (enc, &self.key) {
            (encryption::NONE, None) => Vec::new(),
            (encryption::NONE, Some(_)) => {
                return Err(invalid("--key with --encryption none: give an encryption or no key".into()));
            }
            (_, None) => return Err(invalid("an encrypted network needs --key".into())),
            (encryption::WEP64 | encryption::WEP128, Some(k)) => {
                let want = if enc == encryption::WEP64 { 5 } else { 13 };
                match wep_key(k) {
                    Some(bytes) if bytes.len() == want => bytes,
                    _ => {
                        return Err(invalid(format!(
                            "--key: a WEP key of {want} bytes in hex ({} digits, ':' allowed)",
                            want * 2
                        )));
                    }
                }
            }
            (_, Some(k)) => {
                if !(8..=63).contains(&k.len()) || !k.is_ascii() {
                    return Err(invalid("--key: a WPA passphrase is 8 to 63 ASCII characters".into()));
                }
                k.as_bytes().to_vec()
            }
        };
        let mut p = WifiProfile {
            name: self.name,
            ssid: self.ssid,
            authentication: auth,
            encryption: enc,
            channel: self.channel,
            access_mode: if self.ad_hoc { access_mode::AD_HOC } else { access_mode::MANAGED },
            date_time: camctl_ptpip::wire::format_ptp_date(camctl_core::time::DateTime::now_local()),
            ..WifiProfile::default()
        };
        if let Some(ip) = self.ip {
            p.ip_address = ip;
            p.subnet_mask =
                nikon::prefix_len(self.netmask.unwrap_or(std::net::Ipv4Addr::new(255, 255, 255, 0)));
            p.gateway = self.gateway.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            p.address_setting = address_setting::MANUAL;
        }
        p.set_key(&key).map_err(|e| invalid(format!("--key: {e}")))?;
        // Checked here, before anything is sent: over-long names or SSIDs.
        p.to_bytes().map_err(|e| invalid(e.to_string()))?;
        Ok(p)
    }
}

fn auth_name(v: u8) -> &'static str {
    match v {
        authentication::OPEN => "open",
        authentication::SHARED => "shared",
        authentication::WPA_PSK => "wpa-psk",
        _ => "unknown",
    }
}

fn encryption_name(v: u8) -> &'static str {
    match v {
        encryption::NONE => "none",
        encryption::WEP64 => "wep64",
        encryption::WEP128 => "wep128",
        encryption::TKIP => "tkip",
        _ => "unknown",
    }
}

fn print_added(slot: u8, p: &WifiProfile, show_key: bool, json: bool) {
    let key = if show_key {
        String::from_utf8_lossy(p.key_bytes()).into_owned()
    } else if p.key_bytes().is_empty() {
        String::new()
    } else {
        "(hidden; --show-key shows it)".into()
    };
    let address =
        if p.address_setting == address_setting::MANUAL { p.ip_address.to_string() } else { "DHCP".into() };
    if json {
        let mut v = json!({
            "slot": slot, "name": p.name, "ssid": p.ssid, "authentication": auth_name(p.authentication),
            "encryption": encryption_name(p.encryption), "address": address, "channel": p.channel,
        });
        if show_key {
            v["key"] = json!(key);
        }
        println!("{v}");
        return;
    }
    println!(
        "added Wi-Fi profile {slot}: {} (SSID {}, {}, {}, {address}){}",
        Safe(&p.name),
        Safe(&p.ssid),
        auth_name(p.authentication),
        encryption_name(p.encryption),
        if key.is_empty() { String::new() } else { format!(", key {}", Safe(&key)) }
    );
}

fn print_list(list: &ProfileList, json: bool) {
    let used: Vec<_> = list.slots.iter().filter(|s| s.valid != 0).collect();
    if json {
        let slots: Vec<_> = used
            .iter()
            .map(|s| {
                json!({"id": s.id, "name": s.name, "ssid": s.ssid, "created": s.creation_date,
                "last_used": s.last_usage_date})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&slots).unwrap_or_else(|_| "[]".into()));
        return;
    }
    if used.is_empty() {
        println!("no Wi-Fi profiles ({} free slots)", list.slots.len());
        return;
    }
    for s in used {
        println!(
            "{:>3}  {:<17} SSID {:<33} created {}",
            s.id,
            Safe(&s.name),
            Safe(&s.ssid),
            Safe(&s.creation_date)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: Option<&str>, auth: Option<&str>) -> Request {
        Request {
            name: "home".into(),
            ssid: "net".into(),
            key: key.map(Into::into),
            auth: auth.map(Into::into),
            encryption: None,
            ip: None,
            netmask: None,
            gateway: None,
            channel: 0,
            ad_hoc: false,
        }
    }

    #[test]
    fn keys_pick_the_profile_s_security() {
        let p = request(None, None).profile().unwrap();
        assert_eq!((p.authentication, p.encryption), (authentication::OPEN, encryption::NONE));
        let p = request(Some("01:02:03:04:05"), None).profile().unwrap();
        assert_eq!((p.encryption, p.key_bytes()), (encryption::WEP64, &[1u8, 2, 3, 4, 5][..]));
        let p = request(Some("correct horse"), Some("wpa2")).profile().unwrap();
        assert_eq!((p.authentication, p.encryption), (authentication::WPA_PSK, encryption::TKIP));
        assert!(request(Some("short"), None).profile().is_err());
        assert!(request(None, Some("wpa-psk")).profile().is_err());
        assert!(request(None, Some("kerberos")).profile().is_err());
    }
}
