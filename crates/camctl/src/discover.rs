//! `camctl discover`: find cameras on the local network and print URLs the other commands accept.
//!
//! DNS-SD over multicast DNS: Lytro cameras announce `_lytro._tcp` (instance `lytro-A#########`, SRV to
//! the command port); PTP/IP cameras that use ZeroConf announce `_ptp._tcp`. Wyze cameras answer a TUTK
//! LAN search (a UDP broadcast to port 32761 naming their UID), which needs the UID, ENR and MAC.

use std::net::IpAddr;
use std::time::Duration;

use camctl_core::{Error, Result};
use serde_json::json;

/// Service types browsed, with the URL scheme each maps to.
const SERVICES: [(&str, &str); 2] = [("_lytro._tcp", "lytro"), ("_ptp._tcp", "ptpip")];

/// The Wyze camera a TUTK LAN search looks for.
pub struct WyzeSearch {
    /// 20-character UID.
    pub uid: String,
    /// ENR (for the AuthKey in the probe).
    pub enr: String,
    /// MAC (for the AuthKey in the probe).
    pub mac: String,
}

/// Browses for `timeout_secs` and prints what answered.
pub async fn run(
    timeout_secs: f64,
    json: bool,
    interfaces: Vec<IpAddr>,
    wyze: Option<WyzeSearch>,
) -> Result<()> {
    if !timeout_secs.is_finite() || timeout_secs <= 0.0 {
        return Err(Error::InvalidValue(format!("--timeout {timeout_secs}")));
    }
    let timeout = Duration::from_secs_f64(timeout_secs);
    let interfaces =
        if interfaces.is_empty() { camctl_core::discovery::default_interfaces()? } else { interfaces };
    let mdns = mdns_cameras(&interfaces, timeout);
    let tutk = async {
        let Some(w) = &wyze else { return Ok(Vec::new()) };
        let mut urls = Vec::new();
        for ip in &interfaces {
            let Some(broadcast) = broadcast_of(*ip) else { continue };
            let target = std::net::SocketAddr::new(broadcast.into(), camctl_wyze::DEFAULT_PORT);
            let cameras = camctl_wyze::tutk::lan_search(*ip, target, &w.uid, &w.enr, &w.mac, timeout)
                .await
                .map_err(|e| Error::from(camctl_wyze::Error::from(e)))?;
            for cam in cameras {
                let mut url: camctl_core::CameraUrl =
                    format!("wyze://{cam}").parse().map_err(|e: camctl_core::UrlError| {
                        Error::Protocol(format!("camera address {cam}: {e}"))
                    })?;
                url.options.insert("uid".into(), w.uid.clone());
                url.options.insert("enr".into(), w.enr.clone());
                url.options.insert("mac".into(), w.mac.clone());
                url.options.insert("firmware".into(), "old".into());
                urls.push(url.to_string());
            }
        }
        Ok::<_, Error>(urls)
    };
    let (rows, wyze_urls) = tokio::join!(mdns, tutk);
    let (rows, wyze_urls) = (rows?, wyze_urls?);
    if json {
        let mut list: Vec<_> = rows
            .iter()
            .map(|(url, f)| {
                json!({
                    "url": url,
                    "service": f.service_type,
                    "instance": f.instance,
                    "host": f.host,
                    "addresses": f.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        list.extend(wyze_urls.iter().map(
            |url| json!({ "url": url, "service": "tutk", "instance": wyze.as_ref().map(|w| w.uid.as_str()) }),
        ));
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into()));
    } else if rows.is_empty() && wyze_urls.is_empty() {
        eprintln!("no cameras found in {timeout_secs} s");
    } else {
        for (url, f) in &rows {
            println!("{url:<32} {}", f.instance);
        }
        for url in &wyze_urls {
            println!("{url}");
        }
    }
    Ok(())
}

/// The cameras announcing themselves over mDNS on `interfaces` within `timeout`, each with a URL
/// the other commands accept.
pub async fn mdns_cameras(
    interfaces: &[IpAddr],
    timeout: Duration,
) -> Result<Vec<(String, camctl_core::discovery::Found)>> {
    let types: Vec<&str> = SERVICES.iter().map(|(t, _)| *t).collect();
    let found = camctl_core::discovery::browse(&types, interfaces, timeout).await?;
    let mut rows = Vec::new();
    for f in found {
        let scheme =
            SERVICES.iter().find(|(t, _)| *t == f.service_type).map(|(_, s)| *s).unwrap_or("unknown");
        // Prefer IPv4: camera Wi-Fi networks are IPv4, and the URL needs no brackets.
        let Some(addr) = f.addrs.iter().find(|a| a.is_ipv4()).or(f.addrs.first()) else { continue };
        let host = if addr.is_ipv6() { format!("[{addr}]") } else { addr.to_string() };
        rows.push((format!("{scheme}://{host}:{}", f.port), f));
    }
    Ok(rows)
}

/// The IPv4 broadcast address of the interface that owns `ip`.
pub fn broadcast_of(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    let addrs = if_addrs::get_if_addrs().ok()?;
    addrs.into_iter().find_map(|i| match i.addr {
        if_addrs::IfAddr::V4(v4) if IpAddr::V4(v4.ip) == ip && !v4.ip.is_loopback() => {
            Some(v4.broadcast.unwrap_or_else(|| (u32::from(v4.ip) | !u32::from(v4.netmask)).into()))
        }
        _ => None,
    })
}
