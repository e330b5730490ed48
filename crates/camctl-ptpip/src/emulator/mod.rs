//! PTP/IP camera emulator (being written).
