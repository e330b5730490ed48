//! The 14 PTP/IP packet types: an 8-byte header (`u32` length including the header, `u32` type) and a
//! type-specific payload, all little-endian.

use super::WireError;
use super::bytes::{Reader, put_u16, put_u32, put_u64, put_utf16z};

/// Size of the common header.
pub const HEADER_LEN: usize = 8;

/// Protocol version 1.0 (`major << 16 | minor`).
pub const PROTOCOL_VERSION: u32 = 0x0001_0000;

/// The magic version Fuji initiators put before the GUID in a fixed 82-byte Init_Command_Request.
pub const FUJI_VERSION_MAGIC: u32 = 0x8F53_E4F2;

/// Payload size of Fuji's fixed 82-byte Init_Command_Request.
const FUJI_PAYLOAD_LEN: usize = 74;

/// Init_Fail reasons (CIPA DC-X005).
#[allow(missing_docs)]
pub mod fail_reason {
    pub const REJECTED_INITIATOR: u32 = 1;
    pub const BUSY: u32 = 2;
    pub const UNSPECIFIED: u32 = 3;

    /// What a reason code means, for error messages.
    pub fn describe(reason: u32) -> &'static str {
        match reason {
            REJECTED_INITIATOR => "initiator rejected (this computer is not paired/allowed)",
            BUSY => "camera busy (too many connections)",
            UNSPECIFIED => "unspecified failure",
            4 => "invalid GUID",
            0x2019 => "camera is waiting / name mismatch (Fuji)",
            0x201D => "unsupported protocol version (Fuji)",
            _ => "unknown reason",
        }
    }
}

/// Packet type numbers.
#[allow(missing_docs)]
pub mod kind {
    pub const INIT_COMMAND_REQUEST: u32 = 1;
    pub const INIT_COMMAND_ACK: u32 = 2;
    pub const INIT_EVENT_REQUEST: u32 = 3;
    pub const INIT_EVENT_ACK: u32 = 4;
    pub const INIT_FAIL: u32 = 5;
    pub const OPERATION_REQUEST: u32 = 6;
    pub const OPERATION_RESPONSE: u32 = 7;
    pub const EVENT: u32 = 8;
    pub const START_DATA: u32 = 9;
    pub const DATA: u32 = 10;
    pub const CANCEL: u32 = 11;
    pub const END_DATA: u32 = 12;
    pub const PROBE_REQUEST: u32 = 13;
    pub const PROBE_RESPONSE: u32 = 14;

    /// The packet type's name, for logs.
    pub fn name(kind: u32) -> &'static str {
        const NAMES: [&str; 15] = [
            "Invalid",
            "Init_Command_Request",
            "Init_Command_Ack",
            "Init_Event_Request",
            "Init_Event_Ack",
            "Init_Fail",
            "Cmd_Request",
            "Cmd_Response",
            "Event",
            "Start_Data",
            "Data",
            "Cancel",
            "End_Data",
            "Probe_Request",
            "Probe_Response",
        ];
        usize::try_from(kind).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("Unknown")
    }
}

/// DataPhaseInfo values of an operation request.
#[allow(missing_docs)]
pub mod data_phase {
    pub const NONE_OR_IN: u32 = 1;
    pub const OUT: u32 = 2;
}

/// A packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Whole packet length including the header.
    pub length: u32,
    /// Packet type.
    pub kind: u32,
}

impl Header {
    /// Decodes and checks a header: the length must cover at least the header itself.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, WireError> {
        let length = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let kind = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if (length as usize) < HEADER_LEN {
            return Err(WireError::BadLength(length));
        }
        Ok(Header { length, kind })
    }

    /// Bytes that follow the header.
    pub fn payload_len(&self) -> usize {
        self.length as usize - HEADER_LEN
    }

    /// Encodes a header for a payload of `payload_len` bytes.
    pub fn encode(kind: u32, payload_len: usize) -> Result<[u8; HEADER_LEN], WireError> {
        let length = u32::try_from(payload_len + HEADER_LEN).map_err(|_| WireError::TooLarge(payload_len))?;
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&length.to_le_bytes());
        out[4..].copy_from_slice(&kind.to_le_bytes());
        Ok(out)
    }
}

/// Up to five `u32` operation/response/event parameters, stored inline.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    len: u8,
    values: [u32; 5],
}

impl Params {
    /// Most parameters a PTP/IP packet carries.
    pub const MAX: usize = 5;

    /// Parameters from a slice; values past the fifth are dropped.
    pub fn new(values: &[u32]) -> Params {
        let len = values.len().min(Self::MAX);
        let mut p = Params { len: len as u8, values: [0; 5] };
        p.values[..len].copy_from_slice(&values[..len]);
        p
    }

    /// The parameters.
    pub fn as_slice(&self) -> &[u32] {
        &self.values[..usize::from(self.len)]
    }

    /// Parameter `i`, where a missing parameter reads as 0 (padded and short requests mean the same).
    pub fn get(&self, i: usize) -> u32 {
        self.as_slice().get(i).copied().unwrap_or(0)
    }

    fn decode(r: &mut Reader<'_>) -> Params {
        // Count implied by the length; a trailing partial word is ignored, extras past 5 dropped.
        let mut p = Params::default();
        while r.remaining() >= 4 && usize::from(p.len) < Self::MAX {
            p.values[usize::from(p.len)] = r.u32().unwrap_or_default();
            p.len += 1;
        }
        p
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice().iter().map(|v| format!("{v:#x}"))).finish()
    }
}

/// Cmd_Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationRequest {
    /// DataPhaseInfo (1 = none or data-in, 2 = data-out; others: decide by opcode).
    pub data_phase: u32,
    /// Operation code.
    pub code: u16,
    /// Transaction id.
    pub tid: u32,
    /// Parameters.
    pub params: Params,
}

/// Cmd_Response or Event: a code, a transaction id and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeAndParams {
    /// Response or event code.
    pub code: u16,
    /// Transaction id.
    pub tid: u32,
    /// Parameters.
    pub params: Params,
}

/// One PTP/IP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Type 1.
    InitCommandRequest {
        /// Initiator GUID.
        guid: [u8; 16],
        /// Initiator friendly name.
        name: String,
        /// Protocol version, absent in some initiators.
        version: Option<u32>,
    },
    /// Type 2.
    InitCommandAck {
        /// Connection number the event connection must quote.
        connection: u32,
        /// Responder GUID.
        guid: [u8; 16],
        /// Responder friendly name.
        name: String,
        /// Protocol version, if sent.
        version: Option<u32>,
    },
    /// Type 3.
    InitEventRequest {
        /// Connection number from the Ack.
        connection: u32,
    },
    /// Type 4.
    InitEventAck,
    /// Type 5.
    InitFail {
        /// Reason code ([`fail_reason`]).
        reason: u32,
    },
    /// Type 6.
    OperationRequest(OperationRequest),
    /// Type 7.
    OperationResponse(CodeAndParams),
    /// Type 8.
    Event(CodeAndParams),
    /// Type 9.
    StartData {
        /// Transaction id.
        tid: u32,
        /// Total length of the data phase (`u64::MAX` = unknown).
        total: u64,
    },
    /// Type 10.
    Data {
        /// Transaction id.
        tid: u32,
        /// Payload bytes.
        data: Vec<u8>,
    },
    /// Type 11.
    Cancel {
        /// Transaction id.
        tid: u32,
    },
    /// Type 12.
    EndData {
        /// Transaction id.
        tid: u32,
        /// Payload bytes (may be empty).
        data: Vec<u8>,
    },
    /// Type 13 ("Ping").
    ProbeRequest,
    /// Type 14 ("Pong").
    ProbeResponse,
    /// A type this codec does not know; kept so a caller can log it.
    Unknown {
        /// Packet type.
        kind: u32,
        /// Raw payload.
        payload: Vec<u8>,
    },
}

impl Packet {
    /// Decodes a packet from its type and payload (the bytes after the header).
    ///
    /// ```
    /// use camctl_ptpip::wire::Packet;
    /// let p = Packet::decode(3, &[1, 0, 0, 0]).unwrap();
    /// assert_eq!(p, Packet::InitEventRequest { connection: 1 });
    /// ```
    pub fn decode(kind: u32, payload: &[u8]) -> Result<Packet, WireError> {
        let mut r = Reader::new(payload);
        let packet = match kind {
            kind::INIT_COMMAND_REQUEST => decode_init_command_request(payload)?,
            kind::INIT_COMMAND_ACK => {
                let connection = r.u32()?;
                let guid = r.array::<16>()?;
                let (name, version) = split_name_and_version(r.rest());
                Packet::InitCommandAck { connection, guid, name, version }
            }
            kind::INIT_EVENT_REQUEST => Packet::InitEventRequest { connection: r.u32()? },
            kind::INIT_EVENT_ACK => Packet::InitEventAck,
            kind::INIT_FAIL => Packet::InitFail { reason: r.u32().unwrap_or(fail_reason::UNSPECIFIED) },
            kind::OPERATION_REQUEST => {
                let data_phase = r.u32()?;
                let code = r.u16()?;
                let tid = r.u32()?;
                let params = Params::decode(&mut r);
                Packet::OperationRequest(OperationRequest { data_phase, code, tid, params })
            }
            kind::OPERATION_RESPONSE | kind::EVENT => {
                let code = r.u16()?;
                let tid = r.u32()?;
                let params = Params::decode(&mut r);
                let cp = CodeAndParams { code, tid, params };
                if kind == kind::EVENT { Packet::Event(cp) } else { Packet::OperationResponse(cp) }
            }
            kind::START_DATA => {
                let tid = r.u32()?;
                // Some initiators send only a u32 length.
                let total = match r.remaining() {
                    4..=7 => u64::from(r.u32()?),
                    _ => r.u64()?,
                };
                Packet::StartData { tid, total }
            }
            kind::DATA => Packet::Data { tid: r.u32()?, data: r.rest().to_vec() },
            kind::CANCEL => Packet::Cancel { tid: r.u32()? },
            kind::END_DATA => Packet::EndData { tid: r.u32()?, data: r.rest().to_vec() },
            kind::PROBE_REQUEST => Packet::ProbeRequest,
            kind::PROBE_RESPONSE => Packet::ProbeResponse,
            other => Packet::Unknown { kind: other, payload: payload.to_vec() },
        };
        Ok(packet)
    }

    /// Decodes one whole packet (header included) from `bytes`, which must hold exactly one packet.
    pub fn decode_frame(bytes: &[u8]) -> Result<Packet, WireError> {
        let head: &[u8; HEADER_LEN] =
            bytes.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(WireError::Truncated("header"))?;
        let header = Header::decode(head)?;
        if header.length as usize != bytes.len() {
            return Err(WireError::LengthMismatch { declared: header.length, actual: bytes.len() });
        }
        Packet::decode(header.kind, &bytes[HEADER_LEN..])
    }

    /// The packet type number.
    pub fn kind(&self) -> u32 {
        match self {
            Packet::InitCommandRequest { .. } => kind::INIT_COMMAND_REQUEST,
            Packet::InitCommandAck { .. } => kind::INIT_COMMAND_ACK,
            Packet::InitEventRequest { .. } => kind::INIT_EVENT_REQUEST,
            Packet::InitEventAck => kind::INIT_EVENT_ACK,
            Packet::InitFail { .. } => kind::INIT_FAIL,
            Packet::OperationRequest(_) => kind::OPERATION_REQUEST,
            Packet::OperationResponse(_) => kind::OPERATION_RESPONSE,
            Packet::Event(_) => kind::EVENT,
            Packet::StartData { .. } => kind::START_DATA,
            Packet::Data { .. } => kind::DATA,
            Packet::Cancel { .. } => kind::CANCEL,
            Packet::EndData { .. } => kind::END_DATA,
            Packet::ProbeRequest => kind::PROBE_REQUEST,
            Packet::ProbeResponse => kind::PROBE_RESPONSE,
            Packet::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the whole packet (header and payload) to `out`, so it can go out in one write.
    ///
    /// ```
    /// use camctl_ptpip::wire::Packet;
    /// let mut out = Vec::new();
    /// Packet::InitEventAck.encode(&mut out).unwrap();
    /// assert_eq!(out, [8, 0, 0, 0, 4, 0, 0, 0]);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_LEN]);
        match self {
            Packet::InitCommandRequest { guid, name, version: Some(FUJI_VERSION_MAGIC) } => {
                // Fuji's layout: magic, GUID, then the name NUL-padded to a fixed size.
                put_u32(out, FUJI_VERSION_MAGIC);
                out.extend_from_slice(guid);
                name.encode_utf16().take((FUJI_PAYLOAD_LEN - 20) / 2).for_each(|u| put_u16(out, u));
                out.resize(start + HEADER_LEN + FUJI_PAYLOAD_LEN, 0);
            }
            Packet::InitCommandRequest { guid, name, version } => {
                out.extend_from_slice(guid);
                put_utf16z(out, name);
                if let Some(v) = version {
                    put_u32(out, *v);
                }
            }
            Packet::InitCommandAck { connection, guid, name, version } => {
                put_u32(out, *connection);
                out.extend_from_slice(guid);
                put_utf16z(out, name);
                if let Some(v) = version {
                    put_u32(out, *v);
                }
            }
            Packet::InitEventRequest { connection } => put_u32(out, *connection),
            Packet::InitEventAck | Packet::ProbeRequest | Packet::ProbeResponse => {}
            Packet::InitFail { reason } => put_u32(out, *reason),
            Packet::OperationRequest(req) => {
                put_u32(out, req.data_phase);
                put_u16(out, req.code);
                put_u32(out, req.tid);
                req.params.as_slice().iter().for_each(|p| put_u32(out, *p));
            }
            Packet::OperationResponse(cp) | Packet::Event(cp) => {
                put_u16(out, cp.code);
                put_u32(out, cp.tid);
                cp.params.as_slice().iter().for_each(|p| put_u32(out, *p));
            }
            Packet::StartData { tid, total } => {
                put_u32(out, *tid);
                put_u64(out, *total);
            }
            Packet::Data { tid, data } | Packet::EndData { tid, data } => {
                put_u32(out, *tid);
                out.extend_from_slice(data);
            }
            Packet::Cancel { tid } => put_u32(out, *tid),
            Packet::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
        match Header::encode(self.kind(), out.len() - start - HEADER_LEN) {
            Ok(header) => {
                out[start..start + HEADER_LEN].copy_from_slice(&header);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// The packet as a fresh byte vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// Lenient Init_Command_Request parsing (rule 5): standard UTF-16 name + version, UTF-16 name without a
/// version, an ASCII name, or Fuji's magic version before the GUID.
fn decode_init_command_request(payload: &[u8]) -> Result<Packet, WireError> {
    let fuji = payload.len() == FUJI_PAYLOAD_LEN && payload[..4] == FUJI_VERSION_MAGIC.to_le_bytes();
    if fuji {
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&payload[4..20]);
        let name = utf16_until_nul(&payload[20..]).unwrap_or_default();
        return Ok(Packet::InitCommandRequest { guid, name, version: Some(FUJI_VERSION_MAGIC) });
    }
    let mut r = Reader::new(payload);
    let guid = r.array::<16>()?;
    let (name, version) = split_name_and_version(r.rest());
    Ok(Packet::InitCommandRequest { guid, name, version })
}

/// Splits "UTF-16 name NUL [u32 version]" leniently; falls back to an 8-bit name.
fn split_name_and_version(rest: &[u8]) -> (String, Option<u32>) {
    if let Some(nul) = find_utf16_nul(rest) {
        let name = decode_utf16(&rest[..nul]);
        let after = &rest[nul + 2..];
        let version =
            (after.len() >= 4).then(|| u32::from_le_bytes([after[0], after[1], after[2], after[3]]));
        return (name, version);
    }
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    (String::from_utf8_lossy(&rest[..end]).into_owned(), None)
}

fn find_utf16_nul(bytes: &[u8]) -> Option<usize> {
    // A pair of printable ASCII bytes in one "unit" means the name is really 8-bit text (an ASCII name
    // followed by a version can contain 00 00 at an even offset by accident).
    let nul = bytes.chunks_exact(2).position(|u| u == [0, 0])? * 2;
    let looks_8bit = bytes[..nul].chunks_exact(2).any(|u| u[0].is_ascii_graphic() && u[1].is_ascii_graphic());
    (!looks_8bit).then_some(nul)
}

fn utf16_until_nul(bytes: &[u8]) -> Option<String> {
    let end = bytes.chunks_exact(2).position(|u| u == [0, 0]).map(|i| i * 2).unwrap_or(bytes.len() & !1);
    Some(decode_utf16(&bytes[..end]))
}

fn decode_utf16(bytes: &[u8]) -> String {
    char::decode_utf16(bytes.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}
