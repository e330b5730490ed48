//! Message ids and result codes (`protocols/ambarella.md` §3). Names follow Ambarella's `AMBA_*` and
//! `ERROR_NETCTRL_*` lists; the Xiaomi/YI range is `0x0100_0000 + n`.

/// Message ids (`msg_id`).
pub mod msg {
    /// Read one setting: `type:"<key>"`.
    pub const GET_SETTING: i64 = 1;
    /// Write one setting: `type:"<key>", param:"<value>"`.
    pub const SET_SETTING: i64 = 2;
    /// All settings as an array of one-key objects; with `param:"<key>"` the early-firmware describe form.
    pub const GET_ALL_SETTINGS: i64 = 3;
    /// Format the memory card.
    pub const FORMAT: i64 = 4;
    /// Card space in KiB: `type:"total"|"free"`.
    pub const GET_SPACE: i64 = 5;
    /// Number of files (SDK; the Yi answers -13).
    pub const GET_NUMB_FILES: i64 = 6;
    /// Camera-initiated notification (`type`, `param`); never a request.
    pub const NOTIFICATION: i64 = 7;
    /// Firmware burn-in (reference only).
    pub const BURNIN_FW: i64 = 8;
    /// Allowed values of one setting: `param:"<key>"` -> `permission`, `options`.
    pub const GET_SETTING_OPTIONS: i64 = 9;
    /// GPS info (reference).
    pub const PUT_GPS_INFO: i64 = 10;
    /// Device description (brand, model, firmware...).
    pub const GET_DEVICE_INFO: i64 = 11;
    /// Power management (reference).
    pub const POWER_MANAGE: i64 = 12;
    /// Battery level: `type:"battery"|"adapter"`, `param:"<percent>"`.
    pub const GET_BATTERY_LEVEL: i64 = 13;
    /// Digital zoom set.
    pub const DIGITAL_ZOOM: i64 = 14;
    /// Digital zoom query.
    pub const DIGITAL_ZOOM_INFO: i64 = 15;
    /// Change bitrate (reference).
    pub const CHANGE_BITRATE: i64 = 16;
    /// Start a session; the reply's `param` is the token.
    pub const START_SESSION: i64 = 257;
    /// End the session (revokes the token).
    pub const STOP_SESSION: i64 = 258;
    /// Start the viewfinder / RTSP live view (`param:"none_force"`).
    pub const RESET_VF: i64 = 259;
    /// Stop the viewfinder.
    pub const STOP_VF: i64 = 260;
    /// Register the data-channel peer (`type:"TCP"`, `param:"<ip>"`).
    pub const SET_CLIENT_INFO: i64 = 261;
    /// Start recording.
    pub const RECORD_START: i64 = 513;
    /// Stop recording.
    pub const RECORD_STOP: i64 = 514;
    /// Seconds recorded so far (-14 when idle).
    pub const GET_RECORD_TIME: i64 = 515;
    /// Split the recording.
    pub const FORCE_SPLIT: i64 = 516;
    /// Take a photo; the reply comes after `photo_taken`.
    pub const TAKE_PHOTO: i64 = 769;
    /// Stop a continuous capture.
    pub const CONTINUE_CAPTURE_STOP: i64 = 770;
    /// Thumbnail over the data port, then `size`/`md5sum`.
    pub const GET_THUMB: i64 = 1025;
    /// Media information (size, date, resolution...).
    pub const GET_MEDIA_INFO: i64 = 1026;
    /// Set the read-only attribute (reference).
    pub const SET_MEDIA_ATTRIBUTE: i64 = 1027;
    /// Delete a file (wildcards allowed).
    pub const DEL_FILE: i64 = 1281;
    /// List a directory (`"<dir>/ -D -S"`).
    pub const LS: i64 = 1282;
    /// Change directory; the reply carries `pwd`.
    pub const CD: i64 = 1283;
    /// Current directory.
    pub const PWD: i64 = 1284;
    /// Download over the data port.
    pub const GET_FILE: i64 = 1285;
    /// Upload over the data port.
    pub const PUT_FILE: i64 = 1286;
    /// Cancel a data-port transfer.
    pub const CANCEL_FILE_XFER: i64 = 1287;
    /// Wi-Fi restart (reference).
    pub const WIFI_RESTART: i64 = 1537;
    /// Session-holder query (camera -> holder) and its answer (holder -> camera).
    pub const QUERY_SESSION_HOLDER: i64 = 1793;
    /// SD card type.
    pub const YI_SD_TYPE: i64 = 0x0100_0001;
    /// Capture with an explicit `"<mode>;<option>"` (immediate reply).
    pub const YI_CAPTURE: i64 = 0x0100_0004;
    /// Wi-Fi restart/apply as seen on the wire (AMBARPC names 0x0100_0009; both are conflicting sources).
    pub const YI_WIFI_RESTART: i64 = 0x0100_0008;
    /// Set capture mode, same `param` syntax as [`YI_CAPTURE`].
    pub const YI_SET_CAPTURE_MODE: i64 = 0x0100_000C;
    /// Timelapse recording elapsed count (`-14` when idle).
    pub const YI_TIMELAPSE_TIME: i64 = 0x0100_0019;
    /// Client heartbeat (YI 4K).
    pub const YI_HEARTBEAT: i64 = 0x0100_001C;

    /// The name of a message id as in Ambarella's lists (`"START_SESSION"` for 257), for logs;
    /// `"?"` for ids without one.
    ///
    /// ```
    /// assert_eq!(camctl_ambarella::wire::msg::name(257), "START_SESSION");
    /// ```
    pub fn name(msg_id: i64) -> &'static str {
        match msg_id {
            GET_SETTING => "GET_SETTING",
            SET_SETTING => "SET_SETTING",
            GET_ALL_SETTINGS => "GET_ALL_SETTINGS",
            FORMAT => "FORMAT",
            GET_SPACE => "GET_SPACE",
            GET_NUMB_FILES => "GET_NUMB_FILES",
            NOTIFICATION => "NOTIFICATION",
            BURNIN_FW => "BURNIN_FW",
            GET_SETTING_OPTIONS => "GET_SETTING_OPTIONS",
            PUT_GPS_INFO => "PUT_GPS_INFO",
            GET_DEVICE_INFO => "GET_DEVICE_INFO",
            POWER_MANAGE => "POWER_MANAGE",
            GET_BATTERY_LEVEL => "GET_BATTERY_LEVEL",
            DIGITAL_ZOOM => "DIGITAL_ZOOM",
            DIGITAL_ZOOM_INFO => "DIGITAL_ZOOM_INFO",
            CHANGE_BITRATE => "CHANGE_BITRATE",
            START_SESSION => "START_SESSION",
            STOP_SESSION => "STOP_SESSION",
            RESET_VF => "RESET_VF",
            STOP_VF => "STOP_VF",
            SET_CLIENT_INFO => "SET_CLIENT_INFO",
            RECORD_START => "RECORD_START",
            RECORD_STOP => "RECORD_STOP",
            GET_RECORD_TIME => "GET_RECORD_TIME",
            FORCE_SPLIT => "FORCE_SPLIT",
            TAKE_PHOTO => "TAKE_PHOTO",
            CONTINUE_CAPTURE_STOP => "CONTINUE_CAPTURE_STOP",
            GET_THUMB => "GET_THUMB",
            GET_MEDIA_INFO => "GET_MEDIA_INFO",
            SET_MEDIA_ATTRIBUTE => "SET_MEDIA_ATTRIBUTE",
            DEL_FILE => "DEL_FILE",
            LS => "LS",
            CD => "CD",
            PWD => "PWD",
            GET_FILE => "GET_FILE",
            PUT_FILE => "PUT_FILE",
            CANCEL_FILE_XFER => "CANCEL_FILE_XFER",
            WIFI_RESTART => "WIFI_RESTART",
            QUERY_SESSION_HOLDER => "QUERY_SESSION_HOLDER",
            YI_SD_TYPE => "YI_SD_TYPE",
            YI_CAPTURE => "YI_CAPTURE",
            YI_WIFI_RESTART => "YI_WIFI_RESTART",
            YI_SET_CAPTURE_MODE => "YI_SET_CAPTURE_MODE",
            YI_TIMELAPSE_TIME => "YI_TIMELAPSE_TIME",
            YI_HEARTBEAT => "YI_HEARTBEAT",
            _ => "?",
        }
    }
}

/// Result codes (`rval`).
pub mod rval {
    /// Success.
    pub const OK: i64 = 0;
    /// Unknown error (the Yi also uses it for "file not found").
    pub const UNKNOWN_ERROR: i64 = -1;
    /// Session start refused: another client keeps the session.
    pub const SESSION_START_FAIL: i64 = -3;
    /// Wrong or stale token: start a new session.
    pub const INVALID_TOKEN: i64 = -4;
    /// Too many clients.
    pub const REACH_MAX_CLNT: i64 = -5;
    /// `{ {` before a matching `}`.
    pub const JSON_PACKAGE_ERROR: i64 = -7;
    /// No closing brace in time.
    pub const JSON_PACKAGE_TIMEOUT: i64 = -8;
    /// Syntax error or a required field missing.
    pub const JSON_SYNTAX_ERROR: i64 = -9;
    /// Bad value / unsupported message on the Yi.
    pub const INVALID_OPTION_VALUE: i64 = -13;
    /// Not possible now (e.g. record time while idle; after stop-session).
    pub const INVALID_OPERATION: i64 = -14;
    /// Setting not writable (Yi observation, not in the reference).
    pub const NOT_WRITABLE: i64 = -15;
    /// HDMI connected.
    pub const HDMI_INSERTED: i64 = -16;
    /// Card full.
    pub const NO_MORE_SPACE: i64 = -17;
    /// Card write-protected.
    pub const CARD_PROTECTED: i64 = -18;
    /// Out of memory.
    pub const NO_MORE_MEMORY: i64 = -19;
    /// Photo not allowed now (e.g. while recording).
    pub const PIV_NOT_ALLOWED: i64 = -20;
    /// Busy (e.g. a transfer is running).
    pub const SYSTEM_BUSY: i64 = -21;
    /// Not ready.
    pub const APP_NOT_READY: i64 = -22;
    /// Unsupported operation (AMBARPC: invalid msg_id).
    pub const OPERATION_UNSUPPORTED: i64 = -23;
    /// Invalid type.
    pub const INVALID_TYPE: i64 = -24;
    /// Invalid parameter.
    pub const INVALID_PARAM: i64 = -25;
    /// Invalid path / file not found.
    pub const INVALID_PATH: i64 = -26;
    /// Directory exists.
    pub const DIR_EXIST: i64 = -27;
    /// Permission denied.
    pub const PERMISSION_DENIED: i64 = -28;
    /// Authentication failed.
    pub const AUTHENTICATION_FAILED: i64 = -29;

    /// A short description of a result code.
    ///
    /// ```
    /// assert_eq!(camctl_ambarella::wire::rval::describe(-4), "invalid token");
    /// ```
    pub fn describe(rval: i64) -> &'static str {
        match rval {
            OK => "ok",
            UNKNOWN_ERROR => "unknown error (or file not found)",
            SESSION_START_FAIL => "session kept by another client",
            INVALID_TOKEN => "invalid token",
            REACH_MAX_CLNT => "too many clients",
            JSON_PACKAGE_ERROR => "malformed JSON package",
            JSON_PACKAGE_TIMEOUT => "JSON package timeout",
            JSON_SYNTAX_ERROR => "JSON syntax error or missing field",
            INVALID_OPTION_VALUE => "invalid value or unsupported request",
            INVALID_OPERATION => "operation not possible now",
            NOT_WRITABLE => "setting not writable",
            HDMI_INSERTED => "HDMI connected",
            NO_MORE_SPACE => "no space left",
            CARD_PROTECTED => "card write-protected",
            NO_MORE_MEMORY => "out of memory",
            PIV_NOT_ALLOWED => "photo not allowed now",
            SYSTEM_BUSY => "busy",
            APP_NOT_READY => "camera not ready",
            OPERATION_UNSUPPORTED => "unsupported operation",
            INVALID_TYPE => "invalid type",
            INVALID_PARAM => "invalid parameter",
            INVALID_PATH => "invalid path or no such file",
            DIR_EXIST => "directory exists",
            PERMISSION_DENIED => "permission denied",
            AUTHENTICATION_FAILED => "authentication failed",
            _ => "unknown result code",
        }
    }
}
