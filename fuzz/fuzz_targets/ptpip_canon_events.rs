//! Canon EOS wire decoders: GetEvent 0x9116 records, SetDevicePropValueEx 0x9110 data, the packed
//! ImageFormat value and GetViewFinderData 0x9153 replies.
#![no_main]

use camctl_ptpip::wire::canon::{
    EosProp, ImageFormat, ViewfinderBlobs, decode_events, encode_events, viewfinder_jpeg,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Decoding drops what it does not keep (gaps, bytes after a name or list); after one round the
    // encoding must read back to the same events.
    if let Ok(events) = decode_events(data) {
        let mut out = Vec::new();
        encode_events(&events, &mut out);
        assert_eq!(decode_events(&out).as_ref(), Ok(&events));
    }
    if let Ok(p) = EosProp::decode_set_prop_ex(data) {
        assert_eq!(EosProp::decode_set_prop_ex(&p.set_prop_ex_bytes()), Ok(p));
    }
    if let Ok(f) = ImageFormat::decode(data) {
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(ImageFormat::decode(&out), Ok(f));
    }
    let _ = viewfinder_jpeg(data);
    ViewfinderBlobs::new(data).for_each(drop);
});
