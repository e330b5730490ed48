//! Which maker's PTP extensions a camera speaks, decided from its DeviceInfo the way libgphoto2 does
//! (`ptpip-vendors.md` §1.1), or forced with the `dialect=` URL option.

use crate::wire::DeviceInfo;
use crate::wire::canon;

/// VendorExtensionID of Canon.
const VENDOR_CANON: u32 = 0x0B;
/// VendorExtensionID of Nikon.
const VENDOR_NIKON: u32 = 0x0A;
/// VendorExtensionID of Microsoft (MTP), which Canon and Nikon bodies also report; and the "MTP" alias.
const VENDOR_MTP: [u32; 2] = [0x06, 0xFFFF_FFFF];

/// A maker's PTP dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The ISO 15740 operations only.
    Generic,
    /// Canon EOS: SetRemoteMode/SetEventMode, polled GetEvent, RemoteRelease, the D1xx properties.
    CanonEos,
    /// Nikon: GetEvent 0x90C7 polling, DeviceReady, the vendor properties.
    Nikon,
}

impl Dialect {
    /// The dialect `info` reports and the `dialect=` option names.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::CanonEos => "canon",
            Dialect::Nikon => "nikon",
        }
    }

    /// Parses a `dialect=` value.
    ///
    /// ```
    /// use camctl_ptpip::Dialect;
    /// assert_eq!(Dialect::parse("canon"), Some(Dialect::CanonEos));
    /// assert_eq!(Dialect::parse("sony"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Dialect> {
        [Dialect::Generic, Dialect::CanonEos, Dialect::Nikon].into_iter().find(|d| d.name() == s)
    }

    /// libgphoto2's decision: the VendorExtensionID, or for MTP-reporting bodies the Manufacturer
    /// (case-sensitive substring, as gphoto2 matches it). A Canon body is driven as an EOS only when
    /// it has the EOS event poll (0x9116): PowerShots speak another Canon dialect.
    pub fn detect(info: &DeviceInfo) -> Dialect {
        let maker = match info.vendor_extension_id {
            VENDOR_CANON => Some(Dialect::CanonEos),
            VENDOR_NIKON => Some(Dialect::Nikon),
            id if VENDOR_MTP.contains(&id) && info.manufacturer.contains("Canon") => Some(Dialect::CanonEos),
            id if VENDOR_MTP.contains(&id) && info.manufacturer.contains("Nikon") => Some(Dialect::Nikon),
            _ => None,
        };
        match maker {
            Some(Dialect::CanonEos) if !info.operations.contains(&canon::op::GET_EVENT) => Dialect::Generic,
            Some(d) => d,
            None => Dialect::Generic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(vendor: u32, maker: &str, ops: &[u16]) -> DeviceInfo {
        DeviceInfo {
            vendor_extension_id: vendor,
            manufacturer: maker.into(),
            operations: ops.to_vec(),
            ..DeviceInfo::default()
        }
    }

    #[test]
    fn detected_as_gphoto2_does() {
        let eos = [canon::op::GET_EVENT];
        assert_eq!(Dialect::detect(&info(0x0B, "Canon Inc.", &eos)), Dialect::CanonEos);
        assert_eq!(Dialect::detect(&info(0x06, "Canon Inc.", &eos)), Dialect::CanonEos);
        assert_eq!(Dialect::detect(&info(0xFFFF_FFFF, "Nikon Corporation", &[])), Dialect::Nikon);
        assert_eq!(Dialect::detect(&info(0x0A, "", &[])), Dialect::Nikon);
        // Only MTP ids are remapped by the manufacturer; a PowerShot without 0x9116 stays generic.
        assert_eq!(Dialect::detect(&info(0, "Canon Inc.", &eos)), Dialect::Generic);
        assert_eq!(Dialect::detect(&info(0x0B, "Canon Inc.", &[])), Dialect::Generic);
        assert_eq!(Dialect::detect(&info(0x06, "canon", &eos)), Dialect::Generic);
    }
}
