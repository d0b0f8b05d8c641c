//! `io/sndif.h`: the para-virtual sound protocol, version 2.
//!
//! Every request, response and event is 64 bytes. The C unions are mirrored as
//! a 56-byte payload (`op`/`resp`) plus one struct per payload kind, which is
//! read from or written into those bytes with `zerocopy`.
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XENSND_PROTOCOL_VERSION`.
pub const XENSND_PROTOCOL_VERSION: u32 = 2;

/// `XENSND_OP_OPEN`.
pub const XENSND_OP_OPEN: u8 = 0;
/// `XENSND_OP_CLOSE`.
pub const XENSND_OP_CLOSE: u8 = 1;
/// `XENSND_OP_READ`.
pub const XENSND_OP_READ: u8 = 2;
/// `XENSND_OP_WRITE`.
pub const XENSND_OP_WRITE: u8 = 3;
/// `XENSND_OP_SET_VOLUME`.
pub const XENSND_OP_SET_VOLUME: u8 = 4;
/// `XENSND_OP_GET_VOLUME`.
pub const XENSND_OP_GET_VOLUME: u8 = 5;
/// `XENSND_OP_MUTE`.
pub const XENSND_OP_MUTE: u8 = 6;
/// `XENSND_OP_UNMUTE`.
pub const XENSND_OP_UNMUTE: u8 = 7;
/// `XENSND_OP_TRIGGER`.
pub const XENSND_OP_TRIGGER: u8 = 8;
/// `XENSND_OP_HW_PARAM_QUERY`.
pub const XENSND_OP_HW_PARAM_QUERY: u8 = 9;

/// `XENSND_OP_TRIGGER_START`.
pub const XENSND_OP_TRIGGER_START: u8 = 0;
/// `XENSND_OP_TRIGGER_PAUSE`.
pub const XENSND_OP_TRIGGER_PAUSE: u8 = 1;
/// `XENSND_OP_TRIGGER_STOP`.
pub const XENSND_OP_TRIGGER_STOP: u8 = 2;
/// `XENSND_OP_TRIGGER_RESUME`.
pub const XENSND_OP_TRIGGER_RESUME: u8 = 3;

/// `XENSND_EVT_CUR_POS`.
pub const XENSND_EVT_CUR_POS: u8 = 0;

/// `XENSND_PCM_FORMAT_*` codes with their XenStore strings
/// (`XENSND_PCM_FORMAT_*_STR`), indexed by code.
pub const XENSND_PCM_FORMATS: [(u8, &str); 25] = [
    (0, "s8"),
    (1, "u8"),
    (2, "s16_le"),
    (3, "s16_be"),
    (4, "u16_le"),
    (5, "u16_be"),
    (6, "s24_le"),
    (7, "s24_be"),
    (8, "u24_le"),
    (9, "u24_be"),
    (10, "s32_le"),
    (11, "s32_be"),
    (12, "u32_le"),
    (13, "u32_be"),
    (14, "float_le"),
    (15, "float_be"),
    (16, "float64_le"),
    (17, "float64_be"),
    (18, "iec958_subframe_le"),
    (19, "iec958_subframe_be"),
    (20, "mu_law"),
    (21, "a_law"),
    (22, "ima_adpcm"),
    (23, "mpeg"),
    (24, "gsm"),
];

/// `XENSND_PCM_FORMAT_S8`.
pub const XENSND_PCM_FORMAT_S8: u8 = 0;
/// `XENSND_PCM_FORMAT_U8`.
pub const XENSND_PCM_FORMAT_U8: u8 = 1;
/// `XENSND_PCM_FORMAT_S16_LE`.
pub const XENSND_PCM_FORMAT_S16_LE: u8 = 2;
/// `XENSND_PCM_FORMAT_S16_BE`.
pub const XENSND_PCM_FORMAT_S16_BE: u8 = 3;
/// `XENSND_PCM_FORMAT_U16_LE`.
pub const XENSND_PCM_FORMAT_U16_LE: u8 = 4;
/// `XENSND_PCM_FORMAT_U16_BE`.
pub const XENSND_PCM_FORMAT_U16_BE: u8 = 5;
/// `XENSND_PCM_FORMAT_S24_LE`.
pub const XENSND_PCM_FORMAT_S24_LE: u8 = 6;
/// `XENSND_PCM_FORMAT_S24_BE`.
pub const XENSND_PCM_FORMAT_S24_BE: u8 = 7;
/// `XENSND_PCM_FORMAT_U24_LE`.
pub const XENSND_PCM_FORMAT_U24_LE: u8 = 8;
/// `XENSND_PCM_FORMAT_U24_BE`.
pub const XENSND_PCM_FORMAT_U24_BE: u8 = 9;
/// `XENSND_PCM_FORMAT_S32_LE`.
pub const XENSND_PCM_FORMAT_S32_LE: u8 = 10;
/// `XENSND_PCM_FORMAT_S32_BE`.
pub const XENSND_PCM_FORMAT_S32_BE: u8 = 11;
/// `XENSND_PCM_FORMAT_U32_LE`.
pub const XENSND_PCM_FORMAT_U32_LE: u8 = 12;
/// `XENSND_PCM_FORMAT_U32_BE`.
pub const XENSND_PCM_FORMAT_U32_BE: u8 = 13;
/// `XENSND_PCM_FORMAT_F32_LE`.
pub const XENSND_PCM_FORMAT_F32_LE: u8 = 14;
/// `XENSND_PCM_FORMAT_F32_BE`.
pub const XENSND_PCM_FORMAT_F32_BE: u8 = 15;
/// `XENSND_PCM_FORMAT_F64_LE`.
pub const XENSND_PCM_FORMAT_F64_LE: u8 = 16;
/// `XENSND_PCM_FORMAT_F64_BE`.
pub const XENSND_PCM_FORMAT_F64_BE: u8 = 17;
/// `XENSND_PCM_FORMAT_IEC958_SUBFRAME_LE`.
pub const XENSND_PCM_FORMAT_IEC958_SUBFRAME_LE: u8 = 18;
/// `XENSND_PCM_FORMAT_IEC958_SUBFRAME_BE`.
pub const XENSND_PCM_FORMAT_IEC958_SUBFRAME_BE: u8 = 19;
/// `XENSND_PCM_FORMAT_MU_LAW`.
pub const XENSND_PCM_FORMAT_MU_LAW: u8 = 20;
/// `XENSND_PCM_FORMAT_A_LAW`.
pub const XENSND_PCM_FORMAT_A_LAW: u8 = 21;
/// `XENSND_PCM_FORMAT_IMA_ADPCM`.
pub const XENSND_PCM_FORMAT_IMA_ADPCM: u8 = 22;
/// `XENSND_PCM_FORMAT_MPEG`.
pub const XENSND_PCM_FORMAT_MPEG: u8 = 23;
/// `XENSND_PCM_FORMAT_GSM`.
pub const XENSND_PCM_FORMAT_GSM: u8 = 24;

/// `XENSND_DRIVER_NAME`.
pub const XENSND_DRIVER_NAME: &str = "vsnd";
/// `XENSND_LIST_SEPARATOR`.
pub const XENSND_LIST_SEPARATOR: &str = ",";
/// `XENSND_FIELD_BE_VERSIONS`.
pub const XENSND_FIELD_BE_VERSIONS: &str = "versions";
/// `XENSND_FIELD_FE_VERSION`.
pub const XENSND_FIELD_FE_VERSION: &str = "version";
/// `XENSND_FIELD_VCARD_SHORT_NAME`.
pub const XENSND_FIELD_VCARD_SHORT_NAME: &str = "short-name";
/// `XENSND_FIELD_VCARD_LONG_NAME`.
pub const XENSND_FIELD_VCARD_LONG_NAME: &str = "long-name";
/// `XENSND_FIELD_RING_REF`.
pub const XENSND_FIELD_RING_REF: &str = "ring-ref";
/// `XENSND_FIELD_EVT_CHNL`.
pub const XENSND_FIELD_EVT_CHNL: &str = "event-channel";
/// `XENSND_FIELD_EVT_RING_REF`.
pub const XENSND_FIELD_EVT_RING_REF: &str = "evt-ring-ref";
/// `XENSND_FIELD_EVT_EVT_CHNL`.
pub const XENSND_FIELD_EVT_EVT_CHNL: &str = "evt-event-channel";
/// `XENSND_FIELD_DEVICE_NAME`.
pub const XENSND_FIELD_DEVICE_NAME: &str = "name";
/// `XENSND_FIELD_TYPE`.
pub const XENSND_FIELD_TYPE: &str = "type";
/// `XENSND_FIELD_STREAM_UNIQUE_ID`.
pub const XENSND_FIELD_STREAM_UNIQUE_ID: &str = "unique-id";
/// `XENSND_FIELD_CHANNELS_MIN`.
pub const XENSND_FIELD_CHANNELS_MIN: &str = "channels-min";
/// `XENSND_FIELD_CHANNELS_MAX`.
pub const XENSND_FIELD_CHANNELS_MAX: &str = "channels-max";
/// `XENSND_FIELD_SAMPLE_RATES`.
pub const XENSND_FIELD_SAMPLE_RATES: &str = "sample-rates";
/// `XENSND_FIELD_SAMPLE_FORMATS`.
pub const XENSND_FIELD_SAMPLE_FORMATS: &str = "sample-formats";
/// `XENSND_FIELD_BUFFER_SIZE`.
pub const XENSND_FIELD_BUFFER_SIZE: &str = "buffer-size";
/// `XENSND_STREAM_TYPE_PLAYBACK`.
pub const XENSND_STREAM_TYPE_PLAYBACK: &str = "p";
/// `XENSND_STREAM_TYPE_CAPTURE`.
pub const XENSND_STREAM_TYPE_CAPTURE: &str = "c";
/// `XENSND_SAMPLE_RATE_MAX_LEN`.
pub const XENSND_SAMPLE_RATE_MAX_LEN: usize = 11;
/// `XENSND_SAMPLE_FORMAT_MAX_LEN`.
pub const XENSND_SAMPLE_FORMAT_MAX_LEN: usize = 24;

/// `struct xensnd_req`: id, operation, then the 56-byte `op` union.
#[doc(alias = "xensnd_req")]
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Request {
    /// `id`: chosen by the frontend, copied into the response.
    pub id: u16,
    /// `operation`: `XENSND_OP_*`.
    pub operation: u8,
    /// `reserved[5]`.
    pub reserved: [u8; 5],
    /// `op`: one of [`OpenRequest`], [`RwRequest`], [`TriggerRequest`], [`HwParam`].
    pub op: [u8; 56],
}
const _: () = assert!(core::mem::size_of::<Request>() == 64);

impl Request {
    /// A request `id`/`operation` whose `op` union starts with `payload`
    /// (at most 56 bytes are kept), the rest and `reserved` zero.
    pub fn new(id: u16, operation: u8, payload: &[u8]) -> Self {
        let mut request = Self {
            id,
            operation,
            reserved: [0; 5],
            op: [0; 56],
        };
        let n = payload.len().min(request.op.len());
        request.op[..n].copy_from_slice(&payload[..n]);
        request
    }
}

/// `struct xensnd_resp`: id, operation, status, then the 56-byte `resp` union.
#[doc(alias = "xensnd_resp")]
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Response {
    /// `id`: copied from the request.
    pub id: u16,
    /// `operation`: copied from the request.
    pub operation: u8,
    /// `reserved`.
    pub reserved: u8,
    /// `status`: 0 or a negative Xen errno.
    pub status: i32,
    /// `resp`: [`HwParam`] for `XENSND_OP_HW_PARAM_QUERY`, otherwise reserved.
    pub resp: [u8; 56],
}
const _: () = assert!(core::mem::size_of::<Response>() == 64);

/// `struct xensnd_evt`: id, type, then the 56-byte `op` union.
#[doc(alias = "xensnd_evt")]
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Event {
    /// `id`: increments by one per event.
    pub id: u16,
    /// `type`: `XENSND_EVT_*`.
    pub event_type: u8,
    /// `reserved[5]`.
    pub reserved: [u8; 5],
    /// `op`: [`CurPosEvent`] for `XENSND_EVT_CUR_POS`.
    pub op: [u8; 56],
}
const _: () = assert!(core::mem::size_of::<Event>() == 64);

/// `struct xensnd_open_req`.
#[doc(alias = "xensnd_open_req")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct OpenRequest {
    /// `pcm_rate`, Hz.
    pub pcm_rate: u32,
    /// `pcm_format`: `XENSND_PCM_FORMAT_*`.
    pub pcm_format: u8,
    /// `pcm_channels`.
    pub pcm_channels: u8,
    /// `reserved`.
    pub reserved: u16,
    /// `buffer_sz`, bytes.
    pub buffer_sz: u32,
    /// `gref_directory`: first page of the buffer's page directory.
    pub gref_directory: u32,
    /// `period_sz`, bytes (0: no position events).
    pub period_sz: u32,
}
const _: () = assert!(core::mem::size_of::<OpenRequest>() == 20);

/// `struct xensnd_rw_req` (also used by volume and mute requests).
#[doc(alias = "xensnd_rw_req")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct RwRequest {
    /// `offset` into the shared buffer, bytes.
    pub offset: u32,
    /// `length`, bytes.
    pub length: u32,
}
const _: () = assert!(core::mem::size_of::<RwRequest>() == 8);

/// `struct xensnd_trigger_req`.
#[doc(alias = "xensnd_trigger_req")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct TriggerRequest {
    /// `type`: `XENSND_OP_TRIGGER_*`.
    pub trigger_type: u8,
}
const _: () = assert!(core::mem::size_of::<TriggerRequest>() == 1);

/// A `{ uint32_t min; uint32_t max; }` interval of `struct xensnd_query_hw_param`.
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct Interval {
    /// `min`.
    pub min: u32,
    /// `max`.
    pub max: u32,
}
const _: () = assert!(core::mem::size_of::<Interval>() == 8);

/// `struct xensnd_query_hw_param`: the same layout in request and response.
/// Buffer and period are in frames here (bytes in OPEN).
#[doc(alias = "xensnd_query_hw_param")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct HwParam {
    /// `formats`: bit mask of `1 << XENSND_PCM_FORMAT_*`.
    pub formats: u64,
    /// `rates`, Hz.
    pub rates: Interval,
    /// `channels`.
    pub channels: Interval,
    /// `buffer`, frames.
    pub buffer: Interval,
    /// `period`, frames.
    pub period: Interval,
}
const _: () = assert!(core::mem::size_of::<HwParam>() == 40);

/// `struct xensnd_cur_pos_evt`.
#[doc(alias = "xensnd_cur_pos_evt")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct CurPosEvent {
    /// `position`: bytes played or captured since the stream started.
    pub position: u64,
}
const _: () = assert!(core::mem::size_of::<CurPosEvent>() == 8);

/// `struct xensnd_event_page`: the header of the event page.
#[doc(alias = "xensnd_event_page")]
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct EventPageHeader {
    /// `in_cons`: written by the frontend.
    pub in_cons: u32,
    /// `in_prod`: written by the backend.
    pub in_prod: u32,
    /// `reserved[56]`.
    pub reserved: [u8; 56],
}
const _: () = assert!(core::mem::size_of::<EventPageHeader>() == 64);

/// Byte offset of `in_cons` in the event page.
pub const XENSND_EVENT_PAGE_IN_CONS: usize = 0;
/// Byte offset of `in_prod` in the event page.
pub const XENSND_EVENT_PAGE_IN_PROD: usize = 4;
/// `XENSND_EVENT_PAGE_SIZE`.
pub const XENSND_EVENT_PAGE_SIZE: usize = 4096;
/// `XENSND_IN_RING_OFFS`.
pub const XENSND_IN_RING_OFFS: usize = core::mem::size_of::<EventPageHeader>();
/// `XENSND_IN_RING_SIZE`.
pub const XENSND_IN_RING_SIZE: usize = XENSND_EVENT_PAGE_SIZE - XENSND_IN_RING_OFFS;
/// `XENSND_IN_RING_LEN`: event slots; the slot of index `i` is `i % 63`.
pub const XENSND_IN_RING_LEN: usize = XENSND_IN_RING_SIZE / core::mem::size_of::<Event>();

/// `struct xensnd_page_directory` header: the `gref[]` array follows.
#[doc(alias = "xensnd_page_directory")]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PageDirectoryHeader {
    /// `gref_dir_next_page`: the next directory page, 0 at the end.
    pub gref_dir_next_page: u32,
}
const _: () = assert!(core::mem::size_of::<PageDirectoryHeader>() == 4);

/// Byte offset of `gref[0]` in a directory page.
pub const XENSND_PAGE_DIRECTORY_GREF_OFFSET: usize = 4;
/// Buffer grefs per 4 KiB directory page.
pub const XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE: usize = (4096 - 4) / 4;
