//! Pure encode/decode of the Lytro protocol: no sockets, no clocks.
//!
//! Every decoder takes bytes and returns a value or a [`WireError`]; none panics and none allocates
//! from a length field it has not checked against the bytes actually present.
//!
//! ```
//! use camctl_lytro::wire::{Header, Request};
//! // Query battery level (`C6 00 06`) with a 4-byte buffer: reference §2.4.
//! let req = Request::query_battery();
//! let bytes = req.to_bytes();
//! assert_eq!(&bytes[..14], &[0xAF, 0x55, 0xAA, 0xFA, 4, 0, 0, 0, 1, 0, 0, 0, 0xC6, 0]);
//! let header = Header::decode(bytes[..28].try_into().unwrap()).unwrap();
//! assert_eq!((header.command, header.sub()), (0xC6, 6));
//! ```

mod blobs;
mod callback;

pub use blobs::{
    CalibrationFile, CameraTime, HardwareInfo, PICTURE_ENTRY_LEN, PICTURE_PREFIX_LEN, PictureEntry,
    PictureList, RAW_LEN, STACK_HEADER_LEN, THUMBNAIL_LEN, THUMBNAIL_SIDE, encode_calibration, encode_stack,
    parse_calibration, split_stack, thumbnail_to_rgb,
};
pub use callback::{
    Callback, CallbackDecoder, CallbackError, CallbackEvent, DEFAULT_MAX_LINE, encode_callback,
};

use std::fmt;
use std::str::FromStr;

/// Frame magic, `AF 55 AA FA` (u32 LE `0xFAAA55AF`).
pub const MAGIC: [u8; 4] = [0xAF, 0x55, 0xAA, 0xFA];

/// Size of every frame header.
pub const HEADER_LEN: usize = 28;

/// Largest download buffer the camera can allocate (\[LIB\]: "Maximum buffer size the camera is able to
/// allocate"), hence the largest useful chunk.
pub const MAX_CHUNK: u32 = 0x20_0000;

/// Header flag bits (§2.1).
pub mod flags {
    /// `length` is the size of the receive buffer; no payload follows the request.
    pub const NO_CONTENT: u32 = 0x1;
    /// Set in every camera-to-client message.
    pub const IS_RESPONSE: u32 = 0x2;
}

/// Command classes (header bytes 0x0C..0x0D).
pub mod cmd {
    /// `C0` control (take picture, set time, delete...).
    pub const CONTROL: u16 = 0xC0;
    /// `C2` load a blob (then query its size and download it).
    pub const LOAD: u16 = 0xC2;
    /// `C4` download a chunk of the loaded blob.
    pub const DOWNLOAD: u16 = 0xC4;
    /// `C6` query.
    pub const QUERY: u16 = 0xC6;
}

/// Sub-commands of [`cmd::LOAD`] (param byte 0).
pub mod load {
    /// Hardware info, 644 bytes.
    pub const HARDWARE_INFO: u8 = 0x00;
    /// A file by its camera path (payload: NUL-terminated path).
    pub const FILE: u8 = 0x01;
    /// The picture list.
    pub const PICTURE_LIST: u8 = 0x02;
    /// A picture by id and format character (payload `<id><fmt>\0`).
    pub const PICTURE: u8 = 0x05;
    /// The calibration bundle ("minimum set of files").
    pub const CALIBRATION: u8 = 0x06;
    /// A picture as JPEG-compressed raw (payload `<id>\0`); firmware-dependent, see §4.1.
    pub const COMPRESSED_RAW: u8 = 0x07;
    /// Log files (lytro-dl, unconfirmed).
    pub const LOG: u8 = 0x08;
}

/// Sub-commands of [`cmd::QUERY`].
pub mod query {
    /// u32 size of the loaded blob.
    pub const CONTENT_LENGTH: u8 = 0x00;
    /// 14-byte camera time.
    pub const CAMERA_TIME: u8 = 0x03;
    /// f32 battery percent.
    pub const BATTERY: u8 = 0x06;
}

/// Sub-commands of [`cmd::CONTROL`].
pub mod control {
    /// Trigger the shutter.
    pub const TAKE_PICTURE: u8 = 0x00;
    /// Set the camera time (payload 14 bytes).
    pub const SET_TIME: u8 = 0x04;
    /// Delete one picture (kennege's use of `C0 00 05`; payload 24 bytes).
    pub const DELETE_PICTURE: u8 = 0x05;
}

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame does not start with `AF 55 AA FA`.
    #[error("bad magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// Fewer bytes than the structure needs.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A length field larger than allowed.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// The announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A value outside its domain.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// The 28-byte frame header (§2).
///
/// For a request with [`flags::NO_CONTENT`] set, `length` is the receive-buffer size and no payload
/// follows; otherwise (and always in responses) `length` payload bytes follow the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Payload length or receive-buffer size.
    pub length: u32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Command class, e.g. [`cmd::LOAD`].
    pub command: u16,
    /// Header bytes 0x0E..0x1C; byte 0 is the sub-command.
    pub params: [u8; 14],
}

impl Header {
    /// A request header for `command`/`sub` with all other parameters zero.
    pub fn request(command: u16, sub: u8, flags: u32, length: u32) -> Header {
        let mut params = [0u8; 14];
        params[0] = sub;
        Header { length, flags, command, params }
    }

    /// Decodes a header, checking the magic.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, WireError> {
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(WireError::BadMagic(magic));
        }
        let mut params = [0u8; 14];
        params.copy_from_slice(&bytes[14..28]);
        Ok(Header {
            length: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            flags: u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            command: u16::from_le_bytes([bytes[12], bytes[13]]),
            params,
        })
    }

    /// The 28 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4..8].copy_from_slice(&self.length.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..14].copy_from_slice(&self.command.to_le_bytes());
        b[14..].copy_from_slice(&self.params);
        b
    }

    /// The sub-command (param byte 0, header byte 0x0E).
    pub fn sub(&self) -> u8 {
        self.params[0]
    }

    /// Whether this is a camera-to-client message.
    pub fn is_response(&self) -> bool {
        self.flags & flags::IS_RESPONSE != 0
    }

    /// Whether `length` is a buffer size rather than a payload length (requests only).
    pub fn no_content(&self) -> bool {
        self.flags & flags::NO_CONTENT != 0
    }

    /// Number of payload bytes that follow this header on the wire.
    ///
    /// Responses always carry `length` bytes; requests carry none when [`flags::NO_CONTENT`] is set.
    pub fn payload_len(&self) -> u32 {
        if !self.is_response() && self.no_content() { 0 } else { self.length }
    }

    /// The byte offset of a [`cmd::DOWNLOAD`] request (u32 LE at header bytes 0x0F..0x12).
    pub fn offset(&self) -> u32 {
        u32::from_le_bytes([self.params[1], self.params[2], self.params[3], self.params[4]])
    }

    /// The response header for this request carrying `payload_len` bytes: command and parameters
    /// echoed, flags = request flags | IS_RESPONSE (§2.3).
    pub fn response(&self, payload_len: u32) -> Header {
        Header { length: payload_len, flags: self.flags | flags::IS_RESPONSE, ..*self }
    }

    /// The command's name for logs, e.g. `LOAD file` for `C2 00 01`.
    ///
    /// ```
    /// use camctl_lytro::wire::Request;
    /// assert_eq!(Request::query_battery().header.name(), "QUERY battery");
    /// ```
    pub fn name(&self) -> &'static str {
        match (self.command, self.sub()) {
            (cmd::LOAD, load::HARDWARE_INFO) => "LOAD hardware info",
            (cmd::LOAD, load::FILE) => "LOAD file",
            (cmd::LOAD, load::PICTURE_LIST) => "LOAD picture list",
            (cmd::LOAD, load::PICTURE) => "LOAD picture",
            (cmd::LOAD, load::CALIBRATION) => "LOAD calibration",
            (cmd::LOAD, load::COMPRESSED_RAW) => "LOAD compressed raw",
            (cmd::LOAD, load::LOG) => "LOAD log",
            (cmd::LOAD, _) => "LOAD (unknown)",
            (cmd::DOWNLOAD, _) => "DOWNLOAD",
            (cmd::QUERY, query::CONTENT_LENGTH) => "QUERY content length",
            (cmd::QUERY, query::CAMERA_TIME) => "QUERY camera time",
            (cmd::QUERY, query::BATTERY) => "QUERY battery",
            (cmd::QUERY, _) => "QUERY (unknown)",
            (cmd::CONTROL, control::TAKE_PICTURE) => "CONTROL take picture",
            (cmd::CONTROL, control::SET_TIME) => "CONTROL set time",
            (cmd::CONTROL, control::DELETE_PICTURE) => "CONTROL delete picture",
            (cmd::CONTROL, _) => "CONTROL (unknown)",
            _ => "unknown command",
        }
    }

    /// Whether `response` answers this request (command and parameters echoed, response flag set).
    pub fn is_answered_by(&self, response: &Header) -> bool {
        response.is_response() && response.command == self.command && response.params == self.params
    }
}

/// A whole frame: header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The payload ([`Header::payload_len`] bytes).
    pub payload: Vec<u8>,
}

impl Frame {
    /// Decodes one frame from the start of `bytes`; returns it and the number of bytes it used.
    ///
    /// The payload length is checked against the bytes present before anything is allocated.
    pub fn decode(bytes: &[u8]) -> Result<(Frame, usize), WireError> {
        let head: &[u8; HEADER_LEN] =
            bytes.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(WireError::Truncated("header"))?;
        let header = Header::decode(head)?;
        let len = header.payload_len() as usize;
        let end = HEADER_LEN.checked_add(len).ok_or(WireError::Truncated("payload"))?;
        let payload = bytes.get(HEADER_LEN..end).ok_or(WireError::Truncated("payload"))?.to_vec();
        Ok((Frame { header, payload }, end))
    }

    /// Header and payload as bytes. The header's length is used as is.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.header.encode());
        out.extend_from_slice(&self.payload);
        out
    }
}

/// A client request: header plus optional payload, built by the constructors below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The header.
    pub header: Header,
    /// Payload (empty for buffer-type requests).
    pub payload: Vec<u8>,
}

impl Request {
    /// A request without payload that accepts up to `buffer` bytes back (flags = NO_CONTENT).
    pub fn buffer(command: u16, sub: u8, buffer: u32) -> Request {
        Request { header: Header::request(command, sub, flags::NO_CONTENT, buffer), payload: Vec::new() }
    }

    /// A request carrying `payload` (flags 0, length = payload size).
    ///
    /// Fails when the payload does not fit a u32 length.
    pub fn with_payload(command: u16, sub: u8, payload: Vec<u8>) -> Result<Request, WireError> {
        let len = u32::try_from(payload.len()).map_err(|_| WireError::TooLarge {
            what: "request payload",
            len: payload.len() as u64,
            max: u64::from(u32::MAX),
        })?;
        Ok(Request { header: Header::request(command, sub, 0, len), payload })
    }

    /// `C2 00 00`: load hardware info. Loads are sent with buffer 0 (lytro-dl saw junk otherwise).
    pub fn load_hardware_info() -> Request {
        Request::buffer(cmd::LOAD, load::HARDWARE_INFO, 0)
    }

    /// `C2 00 01`: load a file by camera path, e.g. `I:\DCIM\100PHOTO\IMG_0001.TXT`.
    pub fn load_file(path: &str) -> Result<Request, WireError> {
        Request::with_payload(cmd::LOAD, load::FILE, nul_terminated(path)?)
    }

    /// `C2 00 02`: load the picture list.
    pub fn load_picture_list() -> Request {
        Request::buffer(cmd::LOAD, load::PICTURE_LIST, 0)
    }

    /// `C2 00 05`: load a picture by id in `format` (payload `<id><'0'..'4'>\0`).
    pub fn load_picture(id: &str, format: PictureFormat) -> Result<Request, WireError> {
        let mut payload = id.as_bytes().to_vec();
        payload.push(format.load_char());
        if payload.contains(&0) {
            return Err(WireError::Invalid("picture id containing NUL"));
        }
        payload.push(0);
        Request::with_payload(cmd::LOAD, load::PICTURE, payload)
    }

    /// `C2 00 06`: load the calibration bundle.
    pub fn load_calibration() -> Request {
        Request::buffer(cmd::LOAD, load::CALIBRATION, 0)
    }

    /// `C2 00 07`: load a picture as compressed raw (firmware-dependent code, §4.1).
    pub fn load_compressed_raw(id: &str) -> Result<Request, WireError> {
        Request::with_payload(cmd::LOAD, load::COMPRESSED_RAW, nul_terminated(id)?)
    }

    /// `C6 00 00`: size of the loaded blob (buffer 4).
    pub fn query_content_length() -> Request {
        Request::buffer(cmd::QUERY, query::CONTENT_LENGTH, 4)
    }

    /// `C6 00 03`: camera time (buffer 14).
    pub fn query_camera_time() -> Request {
        Request::buffer(cmd::QUERY, query::CAMERA_TIME, CameraTime::LEN as u32)
    }

    /// `C6 00 06`: battery level (buffer 4).
    pub fn query_battery() -> Request {
        Request::buffer(cmd::QUERY, query::BATTERY, 4)
    }

    /// `C4 00`: download `buffer` bytes of the loaded blob from `offset`.
    ///
    /// Param byte 0 is `00` as in \[LIB\] and lytro-dl's Wi-Fi code (pyly/lyli use `01`; meaning unknown).
    pub fn download(offset: u32, buffer: u32) -> Request {
        let mut r = Request::buffer(cmd::DOWNLOAD, 0, buffer);
        r.header.params[1..5].copy_from_slice(&offset.to_le_bytes());
        r
    }

    /// `C0 00 00`: take a picture (flags NO_CONTENT, length 0).
    pub fn take_picture() -> Request {
        Request::buffer(cmd::CONTROL, control::TAKE_PICTURE, 0)
    }

    /// `C0 00 04`: set the camera time (UTC).
    pub fn set_camera_time(time: &CameraTime) -> Request {
        let payload = time.encode().to_vec();
        Request { header: Header::request(cmd::CONTROL, control::SET_TIME, 0, payload.len() as u32), payload }
    }

    /// `C0 00 05`: delete the picture of a picture-list entry (24-byte descriptor, §4.4).
    pub fn delete_picture(entry: &PictureEntry) -> Request {
        let payload = entry.delete_descriptor().to_vec();
        Request {
            header: Header::request(cmd::CONTROL, control::DELETE_PICTURE, 0, payload.len() as u32),
            payload,
        }
    }

    /// Header and payload as one buffer (what goes on the wire in one write).
    pub fn to_bytes(&self) -> Vec<u8> {
        Frame { header: self.header, payload: self.payload.clone() }.to_bytes()
    }
}

/// `s` as bytes plus a terminating NUL; refuses embedded NULs (they would cut the string short).
fn nul_terminated(s: &str) -> Result<Vec<u8>, WireError> {
    if s.as_bytes().contains(&0) {
        return Err(WireError::Invalid("string containing NUL"));
    }
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    Ok(v)
}

/// The text of a NUL-terminated (or NUL-padded) string field; invalid UTF-8 is replaced.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A request as the camera understands it (what the emulator dispatches on).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `C2 00 00`.
    LoadHardwareInfo,
    /// `C2 00 01` with the path.
    LoadFile(String),
    /// `C2 00 02`.
    LoadPictureList,
    /// `C2 00 05` with id and format; `format` is `None` for an unknown format character.
    LoadPicture {
        /// Picture id (`sha1-...`).
        id: String,
        /// Requested format.
        format: Option<PictureFormat>,
    },
    /// `C2 00 06`.
    LoadCalibration,
    /// `C2 00 07` with the id.
    LoadCompressedRaw(String),
    /// `C2 00 08`.
    LoadLog,
    /// `C4`: chunk of the loaded blob.
    Download {
        /// Byte offset.
        offset: u32,
        /// Receive-buffer size.
        buffer: u32,
    },
    /// `C6 00 00`.
    QueryContentLength,
    /// `C6 00 03`.
    QueryCameraTime,
    /// `C6 00 06`.
    QueryBattery,
    /// `C0 00 00`.
    TakePicture,
    /// `C0 00 04`; `None` if the payload is not a valid time.
    SetCameraTime(Option<CameraTime>),
    /// `C0 00 05`; `None` if the payload is not a 24-byte descriptor.
    DeletePicture(Option<PictureRef>),
    /// Anything else (unknown code or format).
    Other,
}

impl Command {
    /// Classifies a request from its header and payload. Total: unknown input is [`Command::Other`].
    pub fn parse(header: &Header, payload: &[u8]) -> Command {
        match (header.command, header.sub()) {
            (cmd::LOAD, load::HARDWARE_INFO) => Command::LoadHardwareInfo,
            (cmd::LOAD, load::FILE) => Command::LoadFile(c_string(payload)),
            (cmd::LOAD, load::PICTURE_LIST) => Command::LoadPictureList,
            (cmd::LOAD, load::PICTURE) => {
                let text = c_string(payload);
                let mut chars = text.chars();
                let format = chars
                    .next_back()
                    .and_then(|c| u8::try_from(c).ok())
                    .and_then(PictureFormat::from_load_char);
                Command::LoadPicture { id: chars.as_str().to_string(), format }
            }
            (cmd::LOAD, load::CALIBRATION) => Command::LoadCalibration,
            (cmd::LOAD, load::COMPRESSED_RAW) => Command::LoadCompressedRaw(c_string(payload)),
            (cmd::LOAD, load::LOG) => Command::LoadLog,
            (cmd::DOWNLOAD, _) => Command::Download { offset: header.offset(), buffer: header.length },
            (cmd::QUERY, query::CONTENT_LENGTH) => Command::QueryContentLength,
            (cmd::QUERY, query::CAMERA_TIME) => Command::QueryCameraTime,
            (cmd::QUERY, query::BATTERY) => Command::QueryBattery,
            (cmd::CONTROL, control::TAKE_PICTURE) => Command::TakePicture,
            (cmd::CONTROL, control::SET_TIME) => Command::SetCameraTime(CameraTime::decode(payload).ok()),
            (cmd::CONTROL, control::DELETE_PICTURE) => {
                Command::DeletePicture(PictureRef::decode(payload).ok())
            }
            _ => Command::Other,
        }
    }
}

/// The 24-byte picture descriptor of `C0 00 05` (delete): folder postfix, file prefix, numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PictureRef {
    /// Folder name postfix, e.g. `PHOTO`.
    pub folder_postfix: String,
    /// File name prefix, e.g. `IMG_`.
    pub file_prefix: String,
    /// Folder number, e.g. 100.
    pub folder_number: u32,
    /// File number.
    pub file_number: u32,
}

impl PictureRef {
    /// Size of the descriptor.
    pub const LEN: usize = 24;

    /// Decodes exactly 24 bytes.
    pub fn decode(b: &[u8]) -> Result<PictureRef, WireError> {
        if b.len() != Self::LEN {
            return Err(WireError::Truncated("picture descriptor"));
        }
        Ok(PictureRef {
            folder_postfix: c_string(&b[0..8]),
            file_prefix: c_string(&b[8..16]),
            folder_number: u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
            file_number: u32::from_le_bytes([b[20], b[21], b[22], b[23]]),
        })
    }

    /// The 24 bytes (strings cut to 8 bytes, NUL-padded).
    pub fn encode(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        put_str(&mut b[0..8], &self.folder_postfix);
        put_str(&mut b[8..16], &self.file_prefix);
        b[16..20].copy_from_slice(&self.folder_number.to_le_bytes());
        b[20..24].copy_from_slice(&self.file_number.to_le_bytes());
        b
    }
}

/// Copies `s` into a fixed field, cut to fit (the rest stays zero).
fn put_str(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// The picture formats of `C2 00 05` (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PictureFormat {
    /// `'0'`: flat JPEG preview (`.JPG`).
    Jpeg,
    /// `'1'`: RAW sensor data (`.RAW`), 3280x3280 12-bit packed, 16,137,600 bytes.
    Raw,
    /// `'2'`: JSON metadata (`.TXT`).
    Metadata,
    /// `'3'`: 128x128 thumbnail, raw YUY2 (`.128`, 32768 bytes).
    Thumbnail,
    /// `'4'`: focus stack of prerendered JPEGs (`.STK`).
    Stack,
}

impl PictureFormat {
    /// All formats, in format-character order.
    pub const ALL: [PictureFormat; 5] = [
        PictureFormat::Jpeg,
        PictureFormat::Raw,
        PictureFormat::Metadata,
        PictureFormat::Thumbnail,
        PictureFormat::Stack,
    ];

    /// The ASCII format character appended to the id in `C2 00 05`.
    pub fn load_char(self) -> u8 {
        b'0' + self as u8
    }

    /// The format of a format character.
    pub fn from_load_char(c: u8) -> Option<PictureFormat> {
        PictureFormat::ALL.get(usize::from(c.checked_sub(b'0')?)).copied()
    }

    /// Extension of the component file on the camera (`I:\DCIM\100PHOTO\IMG_0001.<EXT>`).
    pub fn camera_extension(self) -> &'static str {
        match self {
            PictureFormat::Jpeg => "JPG",
            PictureFormat::Raw => "RAW",
            PictureFormat::Metadata => "TXT",
            PictureFormat::Thumbnail => "128",
            PictureFormat::Stack => "STK",
        }
    }

    /// The format of a camera file extension (case-insensitive).
    pub fn from_extension(ext: &str) -> Option<PictureFormat> {
        PictureFormat::ALL.into_iter().find(|f| f.camera_extension().eq_ignore_ascii_case(ext))
    }

    /// The name accepted by [`FromStr`] and shown to users.
    pub fn name(self) -> &'static str {
        match self {
            PictureFormat::Jpeg => "jpeg",
            PictureFormat::Raw => "raw",
            PictureFormat::Metadata => "txt",
            PictureFormat::Thumbnail => "thumb",
            PictureFormat::Stack => "stack",
        }
    }

    /// Parses a comma-separated list such as `jpeg,raw` (or `all`); duplicates are removed.
    ///
    /// ```
    /// use camctl_lytro::PictureFormat;
    /// let f = PictureFormat::parse_list("jpeg, raw,jpg").unwrap();
    /// assert_eq!(f, [PictureFormat::Jpeg, PictureFormat::Raw]);
    /// assert_eq!(PictureFormat::parse_list("all").unwrap().len(), 5);
    /// assert!(PictureFormat::parse_list("png").is_err());
    /// ```
    pub fn parse_list(list: &str) -> Result<Vec<PictureFormat>, UnknownFormat> {
        let mut out = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.eq_ignore_ascii_case("all") {
                return Ok(PictureFormat::ALL.to_vec());
            }
            let f: PictureFormat = part.parse()?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if out.is_empty() {
            return Err(UnknownFormat(list.to_string()));
        }
        Ok(out)
    }
}

impl fmt::Display for PictureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A picture format name that is not one of `jpeg`, `raw`, `txt`, `thumb`, `stack`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Lytro picture format {0:?} (use jpeg, raw, txt, thumb, stack or all)")]
pub struct UnknownFormat(pub String);

impl FromStr for PictureFormat {
    type Err = UnknownFormat;

    /// Accepts `jpeg`/`jpg`, `raw`, `txt`/`metadata`/`json`, `thumb`/`thumbnail`/`128`,
    /// `stack`/`stk` (any case).
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => PictureFormat::Jpeg,
            "raw" => PictureFormat::Raw,
            "txt" | "metadata" | "json" => PictureFormat::Metadata,
            "thumb" | "thumbnail" | "128" => PictureFormat::Thumbnail,
            "stack" | "stk" => PictureFormat::Stack,
            _ => return Err(UnknownFormat(s.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn golden_battery_query_and_response() {
        let req = Request::query_battery();
        assert_eq!(
            req.to_bytes(),
            hex("AF 55 AA FA 04 00 00 00 01 00 00 00 C6 00 06 00 00 00 00 00 00 00 00 00 00 00 00 00")
        );
        let resp = req.header.response(4);
        assert_eq!(
            resp.encode().to_vec(),
            hex("AF 55 AA FA 04 00 00 00 03 00 00 00 C6 00 06 00 00 00 00 00 00 00 00 00 00 00 00 00")
        );
        assert!(req.header.is_answered_by(&resp));
        assert_eq!(resp.payload_len(), 4);
        assert_eq!(req.header.payload_len(), 0);
    }

    #[test]
    fn golden_load_file() {
        let path = r"I:\DCIM\100PHOTO\IMG_0001.TXT";
        assert_eq!(path.len(), 29);
        let req = Request::load_file(path).unwrap();
        let bytes = req.to_bytes();
        assert_eq!(&bytes[..14], &hex("AF 55 AA FA 1E 00 00 00 00 00 00 00 C2 00")[..]);
        assert_eq!(bytes[14], 1);
        assert!(bytes[15..28].iter().all(|&b| b == 0));
        assert_eq!(&bytes[28..31], &hex("49 3A 5C")[..]);
        assert_eq!(bytes[bytes.len() - 2..], [0x54, 0x00]);
        assert_eq!(bytes.len(), 28 + 30);
        let found = req.header.response(30);
        assert_eq!(&found.encode()[..14], &hex("AF 55 AA FA 1E 00 00 00 02 00 00 00 C2 00")[..]);
        let missing = req.header.response(0);
        assert_eq!(&missing.encode()[..14], &hex("AF 55 AA FA 00 00 00 00 02 00 00 00 C2 00")[..]);
        assert_eq!(Command::parse(&req.header, &req.payload), Command::LoadFile(path.into()));
    }

    #[test]
    fn golden_download_request() {
        let req = Request::download(0x10000, 0x10000);
        assert_eq!(
            req.to_bytes(),
            hex("AF 55 AA FA 00 00 01 00 01 00 00 00 C4 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00")
        );
        assert_eq!(Command::parse(&req.header, &[]), Command::Download { offset: 0x10000, buffer: 0x10000 });
        // The camera's captured answer header (lytro-dl): flags 3, command C4.
        let captured =
            hex("AF 55 AA FA 13 CD 0A 00 03 00 00 00 C4 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
        let h = Header::decode(captured[..].try_into().unwrap()).unwrap();
        assert_eq!((h.length, h.flags, h.command), (0x000A_CD13, 3, 0xC4));
        assert_eq!(h.payload_len(), 0x000A_CD13);
    }

    #[test]
    fn bad_magic_and_truncation() {
        let mut b = Request::query_battery().to_bytes();
        b[0] = 0;
        assert!(matches!(Frame::decode(&b), Err(WireError::BadMagic(_))));
        assert_eq!(Frame::decode(&b[..10]), Err(WireError::Truncated("header")));
        let req = Request::load_file("x").unwrap().to_bytes();
        assert_eq!(Frame::decode(&req[..29]), Err(WireError::Truncated("payload")));
        let (frame, used) = Frame::decode(&req).unwrap();
        assert_eq!((frame.payload.as_slice(), used), (&b"x\0"[..], 30));
        // A huge announced length with few bytes present fails without allocating.
        let mut huge = Header::request(cmd::LOAD, 1, 0, u32::MAX).encode().to_vec();
        huge.extend_from_slice(b"abc");
        assert_eq!(Frame::decode(&huge), Err(WireError::Truncated("payload")));
    }

    #[test]
    fn picture_load_and_format_chars() {
        let req = Request::load_picture("sha1-abc", PictureFormat::Thumbnail).unwrap();
        assert_eq!(req.payload, b"sha1-abc3\0");
        assert_eq!(
            Command::parse(&req.header, &req.payload),
            Command::LoadPicture { id: "sha1-abc".into(), format: Some(PictureFormat::Thumbnail) }
        );
        assert_eq!(PictureFormat::from_load_char(b'5'), None);
        assert_eq!(PictureFormat::from_load_char(b'/'), None);
        for f in PictureFormat::ALL {
            assert_eq!(PictureFormat::from_load_char(f.load_char()), Some(f));
            assert_eq!(f.name().parse::<PictureFormat>().unwrap(), f);
            assert_eq!(PictureFormat::from_extension(&f.camera_extension().to_lowercase()), Some(f));
        }
        assert!(Request::load_file("a\0b").is_err());
    }

    #[test]
    fn delete_descriptor_round_trips() {
        let r = PictureRef {
            folder_postfix: "PHOTO".into(),
            file_prefix: "IMG_".into(),
            folder_number: 100,
            file_number: 7,
        };
        let b = r.encode();
        assert_eq!(&b[..6], b"PHOTO\0");
        assert_eq!(PictureRef::decode(&b).unwrap(), r);
        assert!(PictureRef::decode(&b[..23]).is_err());
    }
}
