//! DNS-SD over multicast DNS, protocol-neutral: the record set an emulator announces, where it may
//! announce, and browsing confined to given interfaces. Protocol crates name their own service types
//! and instances (`_lytro._tcp`, `_ptp._tcp`).
//!
//! Announcing is confined: never on loopback, on an unspecified address (`0.0.0.0`, `::`) only when
//! explicitly asked, otherwise only on the interface that owns the listen address.
//!
//! ```no_run
//! # async fn demo() -> camctl_core::discovery::Result<()> {
//! use std::time::Duration;
//! let here = "10.100.1.100".parse().unwrap();
//! for found in camctl_core::discovery::browse(&["_ptp._tcp"], &[here], Duration::from_secs(3)).await? {
//!     println!("{} at {:?}:{}", found.instance, found.addrs, found.port);
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

/// What went wrong announcing or browsing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mDNS daemon failed (sockets, malformed names).
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
    /// The full announcement could not be built (a name that is not a DNS name).
    #[error("mDNS announcement: {0}")]
    Packet(#[from] simple_dns::SimpleDnsError),
    /// The socket for the full announcement could not be set up.
    #[error("mDNS announcement socket: {0}")]
    Socket(#[from] std::io::Error),
    /// A browse was asked for no interface at all.
    #[error("mDNS browse needs at least one interface address")]
    NoInterface,
}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        match e {
            // The caller's mistake, not the network's.
            Error::NoInterface => crate::Error::InvalidValue(e.to_string()),
            Error::Mdns(_) | Error::Packet(_) | Error::Socket(_) => crate::Error::Discovery(e),
        }
    }
}

/// Result with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The records of one announced service instance: PTR, SRV to `instance.local.:port`, TXT, A/AAAA.
///
/// ```
/// use camctl_core::discovery::ServiceRecords;
/// let r = ServiceRecords::new("_ptp._tcp", "camctl-0001", "10.0.0.2".parse().unwrap(), 15740);
/// assert_eq!(r.service_type, "_ptp._tcp.local.");
/// assert_eq!(r.fullname, "camctl-0001._ptp._tcp.local.");
/// assert_eq!(r.host, "camctl-0001.local.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecords {
    /// Service type with domain and the trailing dot mdns-sd expects, e.g. `_ptp._tcp.local.`.
    pub service_type: String,
    /// Instance name, e.g. `camctl-0001`.
    pub instance: String,
    /// `instance.service_type` (PTR target, SRV/TXT owner).
    pub fullname: String,
    /// `instance.local.` (SRV target, A owner).
    pub host: String,
    /// SRV port.
    pub port: u16,
    /// A (or AAAA) record address.
    pub addr: IpAddr,
    /// TXT attributes.
    pub txt: Vec<(String, String)>,
}

impl ServiceRecords {
    /// The records of `instance` of `service_type` (with or without `.local.`) at `addr`, SRV port
    /// `port`, with an empty TXT.
    pub fn new(service_type: &str, instance: &str, addr: IpAddr, port: u16) -> ServiceRecords {
        let (_, fqdn) = normalize_service_type(service_type);
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

    /// The unsolicited mDNS response a DNS-SD responder sends at startup: `PTR
    /// _services._dns-sd._udp.local -> type` (RFC 6763 §9), `PTR type -> instance`, SRV, TXT (an empty
    /// one is a single empty string, RFC 6763 §6.1), A or AAAA, and an NSEC saying the host has no other
    /// address type (RFC 6762 §6.1). Host records live 120 s, the others 4500 s (RFC 6762 §10).
    pub fn announcement_packet(&self) -> Result<Vec<u8>> {
        use simple_dns::rdata::{A, AAAA, NSEC, NsecTypeBitMap, PTR, RData, SRV, TXT};
        use simple_dns::{CLASS, Name, Packet, PacketFlag, ResourceRecord};
        const HOST_TTL: u32 = 120;
        const OTHER_TTL: u32 = 4500;
        let (service_type, fullname, host) =
            (Name::new(&self.service_type)?, Name::new(&self.fullname)?, Name::new(&self.host)?);
        let txt_strings: Vec<String> = self.txt.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut txt = TXT::new();
        for entry in &txt_strings {
            txt.add_string(entry)?;
        }
        if txt_strings.is_empty() {
            txt.add_string("")?;
        }
        // NSEC type bitmap, window 0: A is type 1, AAAA type 28 (RFC 4034 §4.1.2).
        let (address, bitmap): (RData, &[u8]) = match self.addr {
            IpAddr::V4(v4) => (RData::A(A { address: v4.into() }), &[0x40]),
            IpAddr::V6(v6) => (RData::AAAA(AAAA { address: v6.into() }), &[0, 0, 0, 0x08]),
        };
        let nsec = NSEC {
            next_name: host.clone(),
            type_bit_maps: vec![NsecTypeBitMap { window_block: 0, bitmap: bitmap.into() }],
        };
        let shared = |name, ttl, data| ResourceRecord::new(name, CLASS::IN, ttl, data);
        // Records only this host owns carry the cache-flush bit (RFC 6762 §10.2).
        let unique = |name, ttl, data| ResourceRecord::new(name, CLASS::IN, ttl, data).with_cache_flush(true);
        let mut packet = Packet::new_reply(0);
        packet.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
        packet.answers = vec![
            shared(
                Name::new("_services._dns-sd._udp.local")?,
                OTHER_TTL,
                RData::PTR(PTR(service_type.clone())),
            ),
            shared(service_type, OTHER_TTL, RData::PTR(PTR(fullname.clone()))),
            unique(
                fullname.clone(),
                HOST_TTL,
                RData::SRV(SRV { priority: 0, weight: 0, port: self.port, target: host.clone() }),
            ),
            unique(fullname, OTHER_TTL, RData::TXT(txt)),
            unique(host.clone(), HOST_TTL, address),
            unique(host, HOST_TTL, RData::NSEC(nsec)),
        ];
        Ok(packet.build_bytes_vec_compressed()?)
    }

    /// The mdns-sd registration of these records. Builds data only; nothing is sent.
    ///
    /// An unspecified `addr` registers without addresses and lets mdns-sd fill in the host's.
    fn service_info(&self) -> Result<ServiceInfo> {
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
/// use camctl_core::discovery::{AnnounceScope, announce_scope};
/// assert_eq!(announce_scope("127.0.0.1".parse().unwrap(), true, true), None);
/// assert_eq!(announce_scope("::1".parse().unwrap(), true, true), None);
/// assert_eq!(announce_scope("0.0.0.0".parse().unwrap(), true, false), None);
/// assert_eq!(announce_scope("0.0.0.0".parse().unwrap(), true, true), Some(AnnounceScope::AllInterfaces));
/// let ip = "10.100.1.1".parse().unwrap();
/// assert_eq!(announce_scope(ip, true, false), Some(AnnounceScope::Interface(ip)));
/// assert_eq!(announce_scope(ip, false, true), None);
/// ```
pub fn announce_scope(listen: IpAddr, enabled: bool, allow_all_interfaces: bool) -> Option<AnnounceScope> {
    // `::ffff:127.0.0.1` is loopback too.
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
    // Dropped with the announcement, which ends the thread repeating the full announcement.
    _full_announcement: Option<std::sync::mpsc::Sender<()>>,
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
    let full = match scope {
        AnnounceScope::Interface(IpAddr::V4(ip)) => start_full_announcement(records, ip)?,
        _ => None,
    };
    tracing::info!(name = %records.fullname, ?scope, "mDNS announcement started");
    Ok(Announcement { daemon, fullname: records.fullname.clone(), _full_announcement: full })
}

/// mDNS's IPv4 group and port (RFC 6762 §3).
const MDNS_GROUP_V4: std::net::SocketAddrV4 =
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(224, 0, 0, 251), 5353);

/// mdns-sd announces PTR, SRV, TXT and A only; cameras (the Lytro seed's table) also send the service
/// type enumeration PTR and an NSEC. This sends that full set twice, one second apart (RFC 6762 §8.3),
/// starting once mdns-sd's probes (3 × 250 ms) have claimed the name. Sent from port 5353 as mDNS
/// requires, on the listen address's interface only.
fn start_full_announcement(
    records: &ServiceRecords,
    ip: std::net::Ipv4Addr,
) -> Result<Option<std::sync::mpsc::Sender<()>>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let packet = records.announcement_packet()?;
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if let Err(e) = socket.bind(&std::net::SocketAddrV4::new(ip, MDNS_GROUP_V4.port()).into()) {
        // mdns-sd's own announcement still goes out; only the two extra records are missing.
        tracing::warn!("mDNS: port 5353 on {ip} is taken ({e}); announcing without NSEC and type PTR");
        return Ok(None);
    }
    socket.set_multicast_if_v4(&ip)?;
    socket.set_multicast_ttl_v4(255)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new().name("mdns-announce".into()).spawn(move || {
        for _ in 0..2 {
            // A message or a dropped sender both mean the announcement is over.
            if stopped.recv_timeout(Duration::from_secs(1)) != Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            {
                return;
            }
            if let Err(e) = socket.send_to(&packet, &MDNS_GROUP_V4.into()) {
                tracing::warn!("mDNS announcement: {e}");
            }
        }
    })?;
    Ok(Some(stop))
}

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
fn normalize_service_type(t: &str) -> (String, String) {
    let base = t.trim().trim_end_matches('.').trim_end_matches(".local").to_string();
    let fqdn = format!("{base}.local.");
    (base, fqdn)
}

/// The instance part of `instance._type._proto.local.`.
fn instance_name(fullname: &str, fqdn_type: &str) -> String {
    fullname.strip_suffix(fqdn_type).map(|s| s.trim_end_matches('.')).unwrap_or(fullname).to_string()
}

/// Every IPv4 address of an interface that is up and not loopback: where cameras are, so where to
/// browse when the user names no interface.
pub fn default_interfaces() -> crate::Result<Vec<IpAddr>> {
    let addrs = if_addrs::get_if_addrs().map_err(|e| crate::Error::io("listing network interfaces", e))?;
    let found: Vec<IpAddr> =
        addrs.iter().filter(|i| !i.is_loopback() && i.ip().is_ipv4()).map(|i| i.ip()).collect();
    if found.is_empty() {
        return Err(crate::Error::NotFound(
            "no network interface with an IPv4 address (join the camera's Wi-Fi)".into(),
        ));
    }
    Ok(found)
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
        return Err(Error::NoInterface);
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

    #[test]
    fn registration_carries_the_records() {
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        let mut r = ServiceRecords::new("_ptp._tcp.local", "camctl-0001", ip, 15740);
        let info = r.service_info().unwrap();
        assert_eq!(info.get_type(), "_ptp._tcp.local.");
        assert_eq!(info.get_fullname(), "camctl-0001._ptp._tcp.local.");
        assert_eq!(info.get_hostname(), "camctl-0001.local.");
        assert_eq!(info.get_port(), 15740);
        assert!(info.get_properties().is_empty(), "TXT is empty");
        assert_eq!(info.get_addresses().iter().copied().collect::<Vec<_>>(), [ip]);
        r.txt.push(("k".into(), "v".into()));
        assert_eq!(r.service_info().unwrap().get_property_val_str("k"), Some("v"));
        let any = ServiceRecords::new("_ptp._tcp", "camctl-0001", "0.0.0.0".parse().unwrap(), 1);
        let info = any.service_info().unwrap();
        assert!(info.is_addr_auto() && info.get_addresses().is_empty());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(announce_scope(mapped, true, true), None);
    }

    #[tokio::test]
    async fn refuses_to_browse_everywhere() {
        let e = browse(&["_lytro._tcp"], &[], Duration::from_millis(1)).await.unwrap_err();
        assert!(matches!(e, Error::NoInterface));
        // The message users saw before the move.
        assert_eq!(
            crate::Error::from(e).to_string(),
            "invalid value: mDNS browse needs at least one interface address"
        );
    }
}
