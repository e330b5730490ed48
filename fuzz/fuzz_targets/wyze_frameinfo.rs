//! Wyze/TUTK FRAMEINFO (40 bytes) and the Annex-B sink fed with arbitrary frames.
#![no_main]

use camctl_wyze::sink::AnnexBSink;
use camctl_wyze::wire::FrameInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = FrameInfo::decode(data) {
        // The layout is fixed: the first 40 bytes round-trip exactly.
        assert_eq!(&info.encode()[..], &data[..40]);
        let _ = (info.audio_flags(), info.time_secs(), info.mac_str(), info.is_keyframe());
        // The payload after the FRAMEINFO goes through the sink (SPS parsing, keyframe logic).
        let mut sink = AnnexBSink::new(Vec::new());
        let _ = sink.push(&info, &data[40..]);
        let _ = sink.push(&FrameInfo { frame_no: info.frame_no.wrapping_add(2), ..info }, &data[40..]);
    }
});
