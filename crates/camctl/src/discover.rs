//! `camctl discover`: find cameras on the local network and print URLs the other commands accept.
//!
//! DNS-SD over multicast DNS: Lytro cameras announce `_lytro._tcp` (instance `lytro-A#########`, SRV to
//! the command port); PTP/IP cameras that use ZeroConf announce `_ptp._tcp`.

use std::net::IpAddr;
use std::time::Duration;

use camctl_core::{Error, Result};
use serde_json::json;

/// Service types browsed, with the URL scheme each maps to.
const SERVICES: [(&str, &str); 2] = [("_lytro._tcp", "lytro"), ("_ptp._tcp", "ptpip")];

/// Browses for `timeout_secs` and prints what answered.
pub async fn run(timeout_secs: f64, json: bool, interfaces: Vec<IpAddr>) -> Result<()> {
    if !timeout_secs.is_finite() || timeout_secs <= 0.0 {
        return Err(Error::InvalidValue(format!("--timeout {timeout_secs}")));
    }
    let interfaces = if interfaces.is_empty() { default_interfaces()? } else { interfaces };
    let types: Vec<&str> = SERVICES.iter().map(|(t, _)| *t).collect();
    let found = camctl_lytro::discovery::browse(&types, &interfaces, Duration::from_secs_f64(timeout_secs))
        .await
        .map_err(camctl_core::Error::from)?;
    let mut rows = Vec::new();
    for f in &found {
        let scheme =
            SERVICES.iter().find(|(t, _)| *t == f.service_type).map(|(_, s)| *s).unwrap_or("unknown");
        // Prefer IPv4: camera Wi-Fi networks are IPv4, and the URL needs no brackets.
        let Some(addr) = f.addrs.iter().find(|a| a.is_ipv4()).or(f.addrs.first()) else { continue };
        let host = if addr.is_ipv6() { format!("[{addr}]") } else { addr.to_string() };
        rows.push((format!("{scheme}://{host}:{}", f.port), f));
    }
    if json {
        let list: Vec<_> = rows
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
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into()));
    } else if rows.is_empty() {
        eprintln!("no cameras found in {timeout_secs} s");
    } else {
        for (url, f) in &rows {
            println!("{url:<32} {}", f.instance);
        }
    }
    Ok(())
}

/// Every IPv4 address of an interface that is up and not loopback: where cameras are.
fn default_interfaces() -> Result<Vec<IpAddr>> {
    let addrs = if_addrs::get_if_addrs().map_err(|e| Error::io("listing network interfaces", e))?;
    let found: Vec<IpAddr> =
        addrs.iter().filter(|i| !i.is_loopback() && i.ip().is_ipv4()).map(|i| i.ip()).collect();
    if found.is_empty() {
        return Err(Error::NotFound(
            "no network interface with an IPv4 address (join the camera's Wi-Fi)".into(),
        ));
    }
    Ok(found)
}
