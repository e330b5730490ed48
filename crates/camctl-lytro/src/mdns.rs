//! DNS-SD records of a Lytro camera and their mDNS announcement.
//!
//! The camera announces (§1, seed table): `PTR _services._dns-sd._udp.local -> _lytro._tcp.local`,
//! `PTR _lytro._tcp.local -> lytro-A#########._lytro._tcp.local`,
//! `SRV lytro-A#########._lytro._tcp.local -> lytro-A#########.local:5678`, an empty `TXT` and
//! `A lytro-A#########.local -> 10.100.1.1`.
//!
//! Announcing is confined: never on loopback, on an unspecified address (`0.0.0.0`, `::`) only when
//! explicitly asked, otherwise only on the interface that owns the listen address.
//!
//! ```
//! use camctl_lytro::mdns::ServiceRecords;
//! let r = ServiceRecords::new("A123456789", "10.100.1.1".parse().unwrap(), 5678);
//! assert_eq!(r.instance, "lytro-A123456789");
//! assert_eq!(r.fullname, "lytro-A123456789._lytro._tcp.local.");
//! assert_eq!(r.host, "lytro-A123456789.local.");
//! ```

use std::net::IpAddr;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

use crate::error::Result;

/// `_lytro._tcp.local.` with the trailing dot mdns-sd expects.
pub const SERVICE_TYPE_FQDN: &str = "_lytro._tcp.local.";

/// The records of one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecords {
    /// `_lytro._tcp.local.`
    pub service_type: String,
    /// `lytro-A#########`
    pub instance: String,
    /// `lytro-A#########._lytro._tcp.local.` (PTR target, SRV/TXT owner).
    pub fullname: String,
    /// `lytro-A#########.local.` (SRV target, A owner).
    pub host: String,
    /// SRV port: the command port.
    pub port: u16,
    /// A (or AAAA) record address.
    pub addr: IpAddr,
    /// TXT attributes: none on the camera.
    pub txt: Vec<(String, String)>,
}

impl ServiceRecords {
    /// The records of the camera with `serial` at `addr`, command port `port`.
    pub fn new(serial: &str, addr: IpAddr, port: u16) -> ServiceRecords {
        Self::for_service(SERVICE_TYPE_FQDN, &format!("lytro-{serial}"), addr, port)
    }

    /// The same record set for any DNS-SD service (`_ptp._tcp` for a PTP/IP camera): PTR, SRV to
    /// `instance.local.:port`, empty TXT, A/AAAA.
    ///
    /// ```
    /// use camctl_lytro::mdns::ServiceRecords;
    /// let r = ServiceRecords::for_service("_ptp._tcp", "camctl-0001", "10.0.0.2".parse().unwrap(), 15740);
    /// assert_eq!(r.fullname, "camctl-0001._ptp._tcp.local.");
    /// ```
    pub fn for_service(service_type: &str, instance: &str, addr: IpAddr, port: u16) -> ServiceRecords {
        let (_, fqdn) = crate::discovery::normalize_service_type(service_type);
        ServiceRecords {
            fullname: format!("{instance}.{fqdn}"),
            service_type: fqdn,
            host: format!("{instance}.local."),
            instance: instance.to_string(),
            port,
            addr,
            txt: Vec::new(),
        }
    }

    /// The mdns-sd registration of these records. Builds data only; nothing is sent.
    ///
    /// An unspecified `addr` registers without addresses and lets mdns-sd fill in the host's.
    pub fn service_info(&self) -> Result<ServiceInfo> {
        let props: std::collections::HashMap<String, String> = self.txt.iter().cloned().collect();
        let info = if self.addr.is_unspecified() {
            ServiceInfo::new(&self.service_type, &self.instance, &self.host, (), self.port, props)?
                .enable_addr_auto()
        } else {
            ServiceInfo::new(&self.service_type, &self.instance, &self.host, self.addr, self.port, props)?
        };
        Ok(info)
    }
}

/// Where an announcement may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceScope {
    /// Only the interface owning this address.
    Interface(IpAddr),
    /// Every interface (only for an unspecified listen address, when explicitly allowed).
    AllInterfaces,
}

/// Decides whether and where an emulator listening on `listen` announces: `None` when disabled,
/// for loopback addresses, and for unspecified addresses unless `allow_all_interfaces`.
///
/// ```
/// use camctl_lytro::mdns::{AnnounceScope, announce_scope};
/// assert_eq!(announce_scope("127.0.0.1".parse().unwrap(), true, true), None);
/// assert_eq!(announce_scope("::1".parse().unwrap(), true, true), None);
/// assert_eq!(announce_scope("0.0.0.0".parse().unwrap(), true, false), None);
/// assert_eq!(announce_scope("0.0.0.0".parse().unwrap(), true, true), Some(AnnounceScope::AllInterfaces));
/// let ip = "10.100.1.1".parse().unwrap();
/// assert_eq!(announce_scope(ip, true, false), Some(AnnounceScope::Interface(ip)));
/// assert_eq!(announce_scope(ip, false, true), None);
/// ```
pub fn announce_scope(listen: IpAddr, enabled: bool, allow_all_interfaces: bool) -> Option<AnnounceScope> {
    let listen = match listen {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(listen, IpAddr::V4),
        v4 => v4,
    };
    if !enabled || listen.is_loopback() {
        return None;
    }
    if listen.is_unspecified() {
        if !allow_all_interfaces {
            tracing::info!(
                "listening on every interface: mDNS announcement off (not asked for all interfaces)"
            );
        }
        return allow_all_interfaces.then_some(AnnounceScope::AllInterfaces);
    }
    Some(AnnounceScope::Interface(listen))
}

/// A running announcement; dropping it unregisters the service and stops the daemon.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Drop for Announcement {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

/// Announces `records` over mDNS within `scope`. Sends multicast traffic: use only on a real or
/// namespaced network.
pub fn announce(records: &ServiceRecords, scope: AnnounceScope) -> Result<Announcement> {
    let daemon = ServiceDaemon::new()?;
    let mut info = records.service_info()?;
    if let AnnounceScope::Interface(ip) = scope {
        // Interface selections apply in order: everything off, then only the listen address's one.
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(IfKind::Addr(ip))?;
        info.set_interfaces(vec![IfKind::Addr(ip)]);
    }
    daemon.register(info)?;
    tracing::info!(name = %records.fullname, ?scope, "mDNS announcement started");
    Ok(Announcement { daemon, fullname: records.fullname.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_match_the_camera_table() {
        let ip: IpAddr = "10.100.1.1".parse().unwrap();
        let r = ServiceRecords::new("A903200311", ip, 5678);
        let info = r.service_info().unwrap();
        assert_eq!(info.get_type(), "_lytro._tcp.local.");
        assert_eq!(info.get_fullname(), "lytro-A903200311._lytro._tcp.local.");
        assert_eq!(info.get_hostname(), "lytro-A903200311.local.");
        assert_eq!(info.get_port(), 5678);
        assert!(info.get_properties().is_empty(), "TXT is empty");
        assert_eq!(info.get_addresses().iter().copied().collect::<Vec<_>>(), [ip]);
        let any = ServiceRecords::new("A903200311", "0.0.0.0".parse().unwrap(), 1);
        let info = any.service_info().unwrap();
        assert!(info.is_addr_auto() && info.get_addresses().is_empty());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(announce_scope(mapped, true, true), None);
    }
}
