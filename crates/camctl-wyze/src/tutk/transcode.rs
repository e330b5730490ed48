//! TUTK "TransCode" obfuscation of OLD-firmware IOTC packets (tutk.md §6.4.1, go2rtc `crypto.go`).
//!
//! Full 16-byte blocks: rotate the four LE words right by 1/5/9/13 bits, XOR with the key, permute the
//! bytes, rotate right by 3/7/11/15 bits. A shorter tail is XORed with the key and, for lengths 2, 4 and 8,
//! byte-swapped. Whether the tail swap applies to LAN-search frames is disputed (go2rtc: always; FSS:
//! never), so every blob function takes a [`TailSwap`].

/// The obfuscation key; only its first 16 bytes are used.
const KEY: &[u8; 16] = b"Charlie is the d";
const PERM: [usize; 16] = [11, 9, 8, 15, 13, 10, 12, 14, 2, 1, 5, 0, 6, 4, 7, 3];

/// Whether a sub-16-byte tail of length 2, 4 or 8 is byte-swapped (the reference's open discrepancy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TailSwap {
    /// go2rtc: the tail is always swapped (reported working against OLD-firmware cameras).
    #[default]
    Always,
    /// FSS: no swap.
    Never,
}

fn words_ror(b: &mut [u8; 16], base: u32) {
    for (i, w) in b.chunks_exact_mut(4).enumerate() {
        let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]).rotate_right(base + 4 * i as u32);
        w.copy_from_slice(&v.to_le_bytes());
    }
}

fn words_rol(b: &mut [u8; 16], base: u32) {
    for (i, w) in b.chunks_exact_mut(4).enumerate() {
        let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]).rotate_left(base + 4 * i as u32);
        w.copy_from_slice(&v.to_le_bytes());
    }
}

fn block_forward(b: &mut [u8; 16]) {
    words_ror(b, 1);
    for (x, k) in b.iter_mut().zip(KEY) {
        *x ^= k;
    }
    let src = *b;
    for (j, p) in PERM.iter().enumerate() {
        b[j] = src[*p];
    }
    words_ror(b, 3);
}

fn block_reverse(b: &mut [u8; 16]) {
    words_rol(b, 3);
    let src = *b;
    for (j, p) in PERM.iter().enumerate() {
        b[*p] = src[j];
    }
    for (x, k) in b.iter_mut().zip(KEY) {
        *x ^= k;
    }
    words_rol(b, 1);
}

// The swaps are involutions, so the same table undoes them.
fn tail_swap(t: &mut [u8]) {
    let perm: &[usize] = match t.len() {
        2 => &[1, 0],
        4 => &[2, 3, 0, 1],
        8 => &[7, 4, 3, 2, 1, 6, 5, 0],
        _ => return,
    };
    let src: Vec<u8> = t.to_vec();
    for (j, p) in perm.iter().enumerate() {
        t[j] = src[*p];
    }
}

/// Obfuscates `data` in place as one unit (go2rtc `TransCodePartial`).
pub fn transcode(data: &mut [u8], swap: TailSwap) {
    let mut chunks = data.chunks_exact_mut(16);
    for c in &mut chunks {
        let mut b = [0u8; 16];
        b.copy_from_slice(c);
        block_forward(&mut b);
        c.copy_from_slice(&b);
    }
    let tail = chunks.into_remainder();
    for (x, k) in tail.iter_mut().zip(KEY) {
        *x ^= k;
    }
    if swap == TailSwap::Always {
        tail_swap(tail);
    }
}

/// Undoes [`transcode`] in place.
pub fn reverse_transcode(data: &mut [u8], swap: TailSwap) {
    let mut chunks = data.chunks_exact_mut(16);
    for c in &mut chunks {
        let mut b = [0u8; 16];
        b.copy_from_slice(c);
        block_reverse(&mut b);
        c.copy_from_slice(&b);
    }
    let tail = chunks.into_remainder();
    if swap == TailSwap::Always {
        tail_swap(tail);
    }
    for (x, k) in tail.iter_mut().zip(KEY) {
        *x ^= k;
    }
}

/// How much of the body after the 16-byte header is obfuscated: data packets (mode bit 0 set, i.e.
/// 0x0B) only their first 48 bytes, everything else in full.
fn body_span(mode: u8, body_len: usize) -> usize {
    if mode & 1 != 0 { body_len.min(48) } else { body_len }
}

/// Obfuscates a whole IOTC packet (go2rtc `TransCodeBlob`): the header and the body as separate units.
pub fn transcode_blob(plain: &[u8], swap: TailSwap) -> Vec<u8> {
    let mut out = plain.to_vec();
    let (head, body) = out.split_at_mut(plain.len().min(16));
    let mode = head.get(3).copied().unwrap_or(0);
    transcode(head, swap);
    let span = body_span(mode, body.len());
    transcode(&mut body[..span], swap);
    out
}

/// Undoes [`transcode_blob`] (go2rtc `ReverseTransCodeBlob`).
pub fn reverse_transcode_blob(wire: &[u8], swap: TailSwap) -> Vec<u8> {
    let mut out = wire.to_vec();
    let (head, body) = out.split_at_mut(wire.len().min(16));
    reverse_transcode(head, swap);
    let mode = head.get(3).copied().unwrap_or(0);
    let span = body_span(mode, body.len());
    reverse_transcode(&mut body[..span], swap);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn partial_vectors() {
        let mut a = b"0123456789abcdefXYZ".to_vec();
        transcode(&mut a, TailSwap::Always);
        assert_eq!(hex(&a), "7da8fe08228676ac0e7b1b1f03d7b88b1b313b");
        reverse_transcode(&mut a, TailSwap::Always);
        assert_eq!(a, b"0123456789abcdefXYZ");
        let mut z = [0u8; 16];
        transcode(&mut z, TailSwap::Always);
        assert_eq!(hex(&z), "6e2e8d8c40d040ca2d6d280c40e4cad8");
    }

    #[test]
    fn disco_blob_vector() {
        let plain = unhex(
            "04021a024800000001062100000000004142434445464748494a4b4c4d4e4f50515253540000000000000000000000000000000001010204112233445566778801000000000000000000476747446c724768000000000000",
        );
        let wire = transcode_blob(&plain, TailSwap::Always);
        assert_eq!(
            hex(&wire),
            "6e4c9d8c40d140ca2d2d882dc0e6cadcca8ad9020d2594ce796a0c2814a04fbc6e2e8d8c40d040ca386d0d2940b0cbd84f0ddf8a04a7194d2d6f280c50e48ac80e3add88271436ec2d6d280c40e4cbd8206c726100656904"
        );
        assert_eq!(reverse_transcode_blob(&wire, TailSwap::Always), plain);
        // The FSS variant differs only in the last 8 bytes and round-trips too.
        let fss = transcode_blob(&plain, TailSwap::Never);
        assert_eq!(wire[..80], fss[..80]);
        assert_ne!(wire[80..], fss[80..]);
        assert_eq!(reverse_transcode_blob(&fss, TailSwap::Never), plain);
    }

    #[test]
    fn every_length_round_trips() {
        for n in 0..100usize {
            let plain: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            for swap in [TailSwap::Always, TailSwap::Never] {
                assert_eq!(reverse_transcode_blob(&transcode_blob(&plain, swap), swap), plain);
            }
        }
    }
}
