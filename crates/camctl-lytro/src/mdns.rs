//! DNS-SD records of a Lytro camera; announcing them is [`camctl_core::discovery`]'s job.
//!
//! The camera announces (§1, seed table): `PTR _services._dns-sd._udp.local -> _lytro._tcp.local`,
//! `PTR _lytro._tcp.local -> lytro-A#########._lytro._tcp.local`,
//! `SRV lytro-A#########._lytro._tcp.local -> lytro-A#########.local:5678`, an empty `TXT` and
//! `A lytro-A#########.local -> 10.100.1.1`, and `NSEC lytro-A#########.local` (no other address
//! type). The emulator sends exactly that set in its startup announcement
//! ([`camctl_core::discovery::ServiceRecords::announcement_packet`]).
//!
//! ```
//! let r = camctl_lytro::mdns::service_records("A123456789", "10.100.1.1".parse().unwrap(), 5678);
//! assert_eq!(r.instance, "lytro-A123456789");
//! assert_eq!(r.fullname, "lytro-A123456789._lytro._tcp.local.");
//! assert_eq!(r.host, "lytro-A123456789.local.");
//! ```

use std::net::IpAddr;

use camctl_core::discovery::ServiceRecords;

/// `_lytro._tcp.local.` with the trailing dot mdns-sd expects.
pub const SERVICE_TYPE_FQDN: &str = "_lytro._tcp.local.";

/// The records of the camera with `serial` at `addr`, command port `port`: instance
/// `lytro-<serial>`, empty TXT (as on the camera).
pub fn service_records(serial: &str, addr: IpAddr, port: u16) -> ServiceRecords {
    ServiceRecords::new(SERVICE_TYPE_FQDN, &format!("lytro-{serial}"), addr, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_match_the_camera_table() {
        let ip: IpAddr = "10.100.1.1".parse().unwrap();
        let r = service_records("A903200311", ip, 5678);
        assert_eq!(r.service_type, "_lytro._tcp.local.");
        assert_eq!(r.fullname, "lytro-A903200311._lytro._tcp.local.");
        assert_eq!(r.host, "lytro-A903200311.local.");
        assert_eq!((r.addr, r.port), (ip, 5678));
        assert!(r.txt.is_empty(), "TXT is empty");
        assert_eq!(format!("{}.local.", crate::SERVICE_TYPE), SERVICE_TYPE_FQDN);
    }
}
