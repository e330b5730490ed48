//! DNS-SD browsing (generic: `_lytro._tcp`, `_ptp._tcp`, ...), confined to given interfaces.
//!
//! ```no_run
//! # async fn demo() -> camctl_lytro::Result<()> {
//! use std::time::Duration;
//! let here = "10.100.1.100".parse().unwrap();
//! for found in camctl_lytro::discovery::browse(&["_lytro._tcp"], &[here], Duration::from_secs(3)).await? {
//!     println!("{} at {:?}:{}", found.instance, found.addrs, found.port);
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent};

use crate::error::{Error, Result};

/// One resolved service instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Service type as asked, normalized without domain, e.g. `_lytro._tcp`.
    pub service_type: String,
    /// Instance name, e.g. `lytro-A123456789`.
    pub instance: String,
    /// SRV target host, e.g. `lytro-A123456789.local.`.
    pub host: String,
    /// Addresses of the host (A/AAAA), sorted.
    pub addrs: Vec<IpAddr>,
    /// SRV port.
    pub port: u16,
    /// TXT attributes (key, value), sorted by key.
    pub txt: Vec<(String, String)>,
}

/// `_lytro._tcp`, `_lytro._tcp.local` or `_lytro._tcp.local.` -> (`_lytro._tcp`, `_lytro._tcp.local.`).
pub fn normalize_service_type(t: &str) -> (String, String) {
    let base = t.trim().trim_end_matches('.').trim_end_matches(".local").to_string();
    let fqdn = format!("{base}.local.");
    (base, fqdn)
}

/// The instance part of `instance._type._proto.local.`.
pub fn instance_name(fullname: &str, fqdn_type: &str) -> String {
    fullname.strip_suffix(fqdn_type).map(|s| s.trim_end_matches('.')).unwrap_or(fullname).to_string()
}

/// Browses `service_types` on the interfaces owning `interface_addrs` only, for `timeout`, and returns
/// every instance resolved (deduplicated, sorted by type and instance).
///
/// There is deliberately no "all interfaces" default: an empty `interface_addrs` is an error.
pub async fn browse(
    service_types: &[&str],
    interface_addrs: &[IpAddr],
    timeout: Duration,
) -> Result<Vec<Found>> {
    if interface_addrs.is_empty() {
        return Err(Error::InvalidValue("mDNS browse needs at least one interface address".into()));
    }
    let daemon = ServiceDaemon::new()?;
    let result = browse_with(&daemon, service_types, interface_addrs, timeout).await;
    if let Ok(rx) = daemon.shutdown() {
        // Wait briefly for the daemon thread to release its sockets.
        let _ = tokio::time::timeout(Duration::from_secs(1), rx.recv_async()).await;
    }
    result
}

async fn browse_with(
    daemon: &ServiceDaemon,
    service_types: &[&str],
    interface_addrs: &[IpAddr],
    timeout: Duration,
) -> Result<Vec<Found>> {
    // Selections apply in order: everything off, then the interfaces asked for.
    daemon.disable_interface(IfKind::All)?;
    daemon.enable_interface(interface_addrs.iter().map(|ip| IfKind::Addr(*ip)).collect::<Vec<_>>())?;
    let mut receivers = Vec::new();
    for t in service_types {
        let (base, fqdn) = normalize_service_type(t);
        receivers.push((base, fqdn.clone(), daemon.browse(&fqdn)?));
    }
    let deadline = Instant::now() + timeout;
    let mut found: BTreeMap<(String, String), Found> = BTreeMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || receivers.is_empty() {
            break;
        }
        // Wait on all receivers at once, until the deadline.
        let next = futures_select(&receivers);
        let Ok((i, event)) = tokio::time::timeout(left, next).await else { break };
        let Some(event) = event else {
            receivers.remove(i);
            continue;
        };
        if let ServiceEvent::ServiceResolved(s) = event {
            let (base, fqdn, _) = &receivers[i];
            let mut addrs: Vec<IpAddr> = s.addresses.iter().map(|a| a.to_ip_addr()).collect();
            addrs.sort();
            addrs.dedup();
            let mut txt: Vec<(String, String)> =
                s.txt_properties.iter().map(|p| (p.key().to_string(), p.val_str().to_string())).collect();
            txt.sort();
            let f = Found {
                service_type: base.clone(),
                instance: instance_name(&s.fullname, fqdn),
                host: s.host.clone(),
                addrs,
                port: s.port,
                txt,
            };
            found.insert((f.service_type.clone(), f.instance.clone()), f);
        }
    }
    for (_, fqdn, _) in &receivers {
        let _ = daemon.stop_browse(fqdn);
    }
    Ok(found.into_values().collect())
}

/// The next event of any receiver: (receiver index, event or `None` if it closed).
async fn futures_select(
    receivers: &[(String, String, mdns_sd::Receiver<ServiceEvent>)],
) -> (usize, Option<ServiceEvent>) {
    let mut futures: Vec<_> = receivers
        .iter()
        .enumerate()
        .map(|(i, (_, _, rx))| Box::pin(async move { (i, rx.recv_async().await.ok()) }))
        .collect();
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if let std::task::Poll::Ready(r) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready(r);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for t in ["_lytro._tcp", "_lytro._tcp.local", "_lytro._tcp.local."] {
            assert_eq!(normalize_service_type(t), ("_lytro._tcp".into(), "_lytro._tcp.local.".into()));
        }
        assert_eq!(
            instance_name("lytro-A123456789._lytro._tcp.local.", "_lytro._tcp.local."),
            "lytro-A123456789"
        );
        assert_eq!(instance_name("odd", "_lytro._tcp.local."), "odd");
    }

    #[tokio::test]
    async fn refuses_to_browse_everywhere() {
        assert!(matches!(
            browse(&["_lytro._tcp"], &[], Duration::from_millis(1)).await,
            Err(Error::InvalidValue(_))
        ));
    }
}
