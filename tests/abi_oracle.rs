//! The ABI oracle: every size, field offset, field size, field signedness and
//! constant mirrored in `xen-abi` (`crates/xen-abi`) is checked against Xen's own headers.
//!
//! The test lists each Rust item with the C expression that names the same
//! thing in the headers (`sizeof(struct xensnd_req)`,
//! `offsetof(struct xensnd_req, op.open.pcm_rate)`, `XENSND_OP_OPEN`, ...),
//! writes a C program (`tests/abi_oracle/prelude.h` + one print per item)
//! into the target directory, compiles it with `cc` against `/usr/include/xen`,
//! runs it, and compares its output line by line with the Rust values. A
//! missing C name fails the compilation and is reported with its item; a
//! different value fails with both values. Without `cc` or the headers the
//! test fails and says to run `make deps`.
//!
//! In the other direction, every error number `xen/errno.h` gives a guest
//! must be mirrored in `abi::errno`.

use core::mem::{offset_of, size_of};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use xen_abi::{
    console, errno, event_channel, grant_table, hvm, memory, ring, sched, shared_info, sndif,
    start_info, vcpu, xen, xenbus, xs_wire,
};

/// How the C side prints an item.
#[derive(Clone, Copy)]
enum Kind {
    /// `ORACLE_INT`: any integer, in decimal.
    Integer,
    /// `ORACLE_STR`: a string between double quotes.
    Text,
}

/// One checked item: the line both sides must print.
struct Item {
    key: String,
    rust: String,
    c_expression: String,
    kind: Kind,
}

/// A Rust constant value and how to print it.
trait OracleValue {
    fn render(&self) -> (Kind, String);
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl OracleValue for $t {
            fn render(&self) -> (Kind, String) {
                (Kind::Integer, self.to_string())
            }
        }
    )*};
}
integer_value!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl OracleValue for &str {
    fn render(&self) -> (Kind, String) {
        (Kind::Text, format!("\"{self}\""))
    }
}

/// Size of the field a projection closure selects.
fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Whether the field a projection closure selects is a signed integer
/// (`None` for arrays, structs and anything else).
fn field_signed<T, F>(_: fn(&T) -> &F) -> Option<bool> {
    match core::any::type_name::<F>() {
        "i8" | "i16" | "i32" | "i64" => Some(true),
        "u8" | "u16" | "u32" | "u64" => Some(false),
        _ => None,
    }
}

#[derive(Default)]
struct Oracle {
    items: Vec<Item>,
}

impl Oracle {
    fn push(&mut self, key: String, kind: Kind, rust: String, c_expression: String) {
        self.items.push(Item {
            key,
            rust,
            c_expression,
            kind,
        });
    }

    /// `const <name>`: a constant whose C expression is its name.
    fn constant(&mut self, name: &str, value: &dyn OracleValue) {
        self.constant_as(name, name, value);
    }

    /// `const <name>`: a constant computed by `c_expression` on the C side.
    fn constant_as(&mut self, name: &str, c_expression: &str, value: &dyn OracleValue) {
        let (kind, rust) = value.render();
        self.push(
            format!("const {name}"),
            kind,
            rust,
            c_expression.to_string(),
        );
    }

    /// `size <name>`: `sizeof(<c_type>)`.
    fn size(&mut self, name: &str, c_type: &str, rust: usize) {
        self.push(
            format!("size {name}"),
            Kind::Integer,
            rust.to_string(),
            format!("sizeof({c_type})"),
        );
    }

    /// `offset`, `size` and (for integers) `signed` of `<name>.<path>`.
    fn field(
        &mut self,
        name: &str,
        c_type: &str,
        path: &str,
        offset: usize,
        size: usize,
        signed: Option<bool>,
    ) {
        self.push(
            format!("offset {name}.{path}"),
            Kind::Integer,
            offset.to_string(),
            format!("offsetof({c_type}, {path})"),
        );
        self.push(
            format!("size {name}.{path}"),
            Kind::Integer,
            size.to_string(),
            format!("sizeof((({c_type} *)0)->{path})"),
        );
        if let Some(signed) = signed {
            self.push(
                format!("signed {name}.{path}"),
                Kind::Integer,
                u8::from(signed).to_string(),
                format!("((__typeof__((({c_type} *)0)->{path}))-1 < 0)"),
            );
        }
    }
}

/// `structure!(oracle, "c_name", RustType { "c_field" => rust_field, ... }
/// padding: [rust_only_padding, ...])`: the struct's size and every field
/// (the list must name them all); `@ "prefix", base` checks the
/// fields inside another struct at byte `base` (a union member).
macro_rules! structure {
    ($o:ident, $c:literal, $t:ident { $($cf:literal => $rf:ident),* $(,)? }
        $(padding: [$($pad:ident),*])?) => {{
        // Exhaustive: every Rust field is checked against C or is declared
        // Rust-only padding (a new field that is neither fails to compile).
        let _exhaustive = |value: &$t| {
            let $t { $($rf: _,)* $($($pad: _,)*)? } = value;
        };
        $o.size($c, concat!("struct ", $c), size_of::<$t>());
        structure!(@fields $o, $c, concat!("struct ", $c), "", 0usize, $t { $($cf => $rf),* });
    }};
    ($o:ident, $c:literal @ $prefix:literal, $base:expr, $t:ty { $($cf:literal => $rf:ident),* $(,)? }) => {{
        structure!(@fields $o, $c, concat!("struct ", $c), $prefix, $base, $t { $($cf => $rf),* });
    }};
    (@fields $o:ident, $c:expr, $ct:expr, $prefix:expr, $base:expr, $t:ty { $($cf:literal => $rf:ident),* }) => {{
        $(
            $o.field(
                $c,
                $ct,
                &format!("{}{}", $prefix, $cf),
                $base + offset_of!($t, $rf),
                field_size(|s: &$t| &s.$rf),
                field_signed(|s: &$t| &s.$rf),
            );
        )*
    }};
}

/// `constants!(oracle, module: [NAME, ...])`: constants under their C names.
macro_rules! constants {
    ($o:ident, $m:ident: [$($name:ident),* $(,)?]) => {{
        $( $o.constant(stringify!($name), &$m::$name); )*
    }};
}

fn sndif_items(o: &mut Oracle) {
    use sndif::*;
    constants!(o, sndif: [
        XENSND_PROTOCOL_VERSION,
        XENSND_OP_OPEN, XENSND_OP_CLOSE, XENSND_OP_READ, XENSND_OP_WRITE,
        XENSND_OP_SET_VOLUME, XENSND_OP_GET_VOLUME, XENSND_OP_MUTE, XENSND_OP_UNMUTE,
        XENSND_OP_TRIGGER, XENSND_OP_HW_PARAM_QUERY,
        XENSND_OP_TRIGGER_START, XENSND_OP_TRIGGER_PAUSE, XENSND_OP_TRIGGER_STOP,
        XENSND_OP_TRIGGER_RESUME, XENSND_EVT_CUR_POS,
        XENSND_PCM_FORMAT_S8, XENSND_PCM_FORMAT_U8, XENSND_PCM_FORMAT_S16_LE,
        XENSND_PCM_FORMAT_S16_BE, XENSND_PCM_FORMAT_U16_LE, XENSND_PCM_FORMAT_U16_BE,
        XENSND_PCM_FORMAT_S24_LE, XENSND_PCM_FORMAT_S24_BE, XENSND_PCM_FORMAT_U24_LE,
        XENSND_PCM_FORMAT_U24_BE, XENSND_PCM_FORMAT_S32_LE, XENSND_PCM_FORMAT_S32_BE,
        XENSND_PCM_FORMAT_U32_LE, XENSND_PCM_FORMAT_U32_BE, XENSND_PCM_FORMAT_F32_LE,
        XENSND_PCM_FORMAT_F32_BE, XENSND_PCM_FORMAT_F64_LE, XENSND_PCM_FORMAT_F64_BE,
        XENSND_PCM_FORMAT_IEC958_SUBFRAME_LE, XENSND_PCM_FORMAT_IEC958_SUBFRAME_BE,
        XENSND_PCM_FORMAT_MU_LAW, XENSND_PCM_FORMAT_A_LAW, XENSND_PCM_FORMAT_IMA_ADPCM,
        XENSND_PCM_FORMAT_MPEG, XENSND_PCM_FORMAT_GSM,
        XENSND_DRIVER_NAME, XENSND_LIST_SEPARATOR, XENSND_FIELD_BE_VERSIONS,
        XENSND_FIELD_FE_VERSION, XENSND_FIELD_VCARD_SHORT_NAME, XENSND_FIELD_VCARD_LONG_NAME,
        XENSND_FIELD_RING_REF, XENSND_FIELD_EVT_CHNL, XENSND_FIELD_EVT_RING_REF,
        XENSND_FIELD_EVT_EVT_CHNL, XENSND_FIELD_DEVICE_NAME, XENSND_FIELD_TYPE,
        XENSND_FIELD_STREAM_UNIQUE_ID, XENSND_FIELD_CHANNELS_MIN, XENSND_FIELD_CHANNELS_MAX,
        XENSND_FIELD_SAMPLE_RATES, XENSND_FIELD_SAMPLE_FORMATS, XENSND_FIELD_BUFFER_SIZE,
        XENSND_STREAM_TYPE_PLAYBACK, XENSND_STREAM_TYPE_CAPTURE,
        XENSND_SAMPLE_RATE_MAX_LEN, XENSND_SAMPLE_FORMAT_MAX_LEN,
        XENSND_EVENT_PAGE_SIZE, XENSND_IN_RING_OFFS, XENSND_IN_RING_SIZE, XENSND_IN_RING_LEN,
    ]);

    // The (code, string) table against XENSND_PCM_FORMAT_<NAME>{,_STR}, by index.
    const FORMAT_NAMES: [&str; 25] = [
        "S8",
        "U8",
        "S16_LE",
        "S16_BE",
        "U16_LE",
        "U16_BE",
        "S24_LE",
        "S24_BE",
        "U24_LE",
        "U24_BE",
        "S32_LE",
        "S32_BE",
        "U32_LE",
        "U32_BE",
        "F32_LE",
        "F32_BE",
        "F64_LE",
        "F64_BE",
        "IEC958_SUBFRAME_LE",
        "IEC958_SUBFRAME_BE",
        "MU_LAW",
        "A_LAW",
        "IMA_ADPCM",
        "MPEG",
        "GSM",
    ];
    assert_eq!(XENSND_PCM_FORMATS.len(), FORMAT_NAMES.len());
    for (index, ((code, text), name)) in XENSND_PCM_FORMATS.iter().zip(FORMAT_NAMES).enumerate() {
        o.constant_as(
            &format!("XENSND_PCM_FORMATS[{index}].code"),
            &format!("XENSND_PCM_FORMAT_{name}"),
            code,
        );
        o.constant_as(
            &format!("XENSND_PCM_FORMATS[{index}].string"),
            &format!("XENSND_PCM_FORMAT_{name}_STR"),
            text,
        );
    }

    o.constant_as(
        "XENSND_EVENT_PAGE_IN_CONS",
        "offsetof(struct xensnd_event_page, in_cons)",
        &XENSND_EVENT_PAGE_IN_CONS,
    );
    o.constant_as(
        "XENSND_EVENT_PAGE_IN_PROD",
        "offsetof(struct xensnd_event_page, in_prod)",
        &XENSND_EVENT_PAGE_IN_PROD,
    );
    o.constant_as(
        "XENSND_PAGE_DIRECTORY_GREF_OFFSET",
        "offsetof(struct xensnd_page_directory, gref)",
        &XENSND_PAGE_DIRECTORY_GREF_OFFSET,
    );
    o.constant_as(
        "XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE",
        "(XENSND_EVENT_PAGE_SIZE - offsetof(struct xensnd_page_directory, gref)) \
         / sizeof(grant_ref_t)",
        &XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE,
    );

    // Requests: the header, then every payload at the union's offset.
    structure!(o, "xensnd_req", Request {
        "id" => id, "operation" => operation, "reserved" => reserved, "op" => op,
    });
    let op = offset_of!(Request, op);
    structure!(o, "xensnd_open_req", OpenRequest {
        "pcm_rate" => pcm_rate, "pcm_format" => pcm_format, "pcm_channels" => pcm_channels,
        "reserved" => reserved, "buffer_sz" => buffer_sz, "gref_directory" => gref_directory,
        "period_sz" => period_sz,
    });
    structure!(o, "xensnd_req" @ "op.open.", op, OpenRequest {
        "pcm_rate" => pcm_rate, "pcm_format" => pcm_format, "pcm_channels" => pcm_channels,
        "reserved" => reserved, "buffer_sz" => buffer_sz, "gref_directory" => gref_directory,
        "period_sz" => period_sz,
    });
    structure!(o, "xensnd_rw_req", RwRequest { "offset" => offset, "length" => length });
    structure!(o, "xensnd_req" @ "op.rw.", op, RwRequest {
        "offset" => offset, "length" => length,
    });
    structure!(o, "xensnd_trigger_req", TriggerRequest { "type" => trigger_type });
    structure!(o, "xensnd_req" @ "op.trigger.", op, TriggerRequest { "type" => trigger_type });
    structure!(o, "xensnd_query_hw_param", HwParam {
        "formats" => formats, "rates" => rates, "channels" => channels, "buffer" => buffer,
        "period" => period,
    });
    structure!(o, "xensnd_req" @ "op.hw_param.", op, HwParam {
        "formats" => formats, "rates" => rates, "channels" => channels, "buffer" => buffer,
        "period" => period,
    });
    for (interval, base) in [
        ("rates", offset_of!(HwParam, rates)),
        ("channels", offset_of!(HwParam, channels)),
        ("buffer", offset_of!(HwParam, buffer)),
        ("period", offset_of!(HwParam, period)),
    ] {
        for (c_container, container_base) in [
            ("xensnd_query_hw_param", 0),
            ("xensnd_req", op),
            ("xensnd_resp", offset_of!(Response, resp)),
        ] {
            let prefix = match c_container {
                "xensnd_req" => "op.hw_param.",
                "xensnd_resp" => "resp.hw_param.",
                _ => "",
            };
            for (field, offset) in [
                ("min", offset_of!(Interval, min)),
                ("max", offset_of!(Interval, max)),
            ] {
                o.field(
                    c_container,
                    &format!("struct {c_container}"),
                    &format!("{prefix}{interval}.{field}"),
                    container_base + base + offset,
                    size_of::<u32>(),
                    Some(false),
                );
            }
        }
    }
    o.constant_as(
        "size_of::<Interval>()",
        "sizeof(((struct xensnd_query_hw_param *)0)->period)",
        &size_of::<Interval>(),
    );

    // Responses and events.
    structure!(o, "xensnd_resp", Response {
        "id" => id, "operation" => operation, "reserved" => reserved, "status" => status,
        "resp" => resp,
    });
    structure!(o, "xensnd_resp" @ "resp.hw_param.", offset_of!(Response, resp), HwParam {
        "formats" => formats, "rates" => rates, "channels" => channels, "buffer" => buffer,
        "period" => period,
    });
    structure!(o, "xensnd_evt", Event {
        "id" => id, "type" => event_type, "reserved" => reserved, "op" => op,
    });
    structure!(o, "xensnd_cur_pos_evt", CurPosEvent { "position" => position });
    structure!(o, "xensnd_evt" @ "op.cur_pos.", offset_of!(Event, op), CurPosEvent {
        "position" => position,
    });

    // The event page and the page directory.
    structure!(o, "xensnd_event_page", EventPageHeader {
        "in_cons" => in_cons, "in_prod" => in_prod, "reserved" => reserved,
    });
    structure!(o, "xensnd_page_directory" @ "", 0, PageDirectoryHeader {
        "gref_dir_next_page" => gref_dir_next_page,
    });
    o.push(
        "size xensnd_page_directory header".to_string(),
        Kind::Integer,
        size_of::<PageDirectoryHeader>().to_string(),
        "offsetof(struct xensnd_page_directory, gref)".to_string(),
    );
}

fn ring_items(o: &mut Oracle) {
    use ring::*;
    use sndif::{Request, Response};
    structure!(o, "xen_sndif_sring" @ "", 0, SringHeader {
        "req_prod" => req_prod, "req_event" => req_event, "rsp_prod" => rsp_prod,
        "rsp_event" => rsp_event,
    });
    let c_sring = "struct xen_sndif_sring";
    o.push(
        "offset xen_sndif_sring.pvt".to_string(),
        Kind::Integer,
        offset_of!(SringHeader, pad).to_string(),
        format!("offsetof({c_sring}, pvt)"),
    );
    o.push(
        "size xen_sndif_sring.pvt+__pad".to_string(),
        Kind::Integer,
        field_size(|s: &SringHeader| &s.pad).to_string(),
        format!("sizeof((({c_sring} *)0)->pvt) + sizeof((({c_sring} *)0)->__pad)"),
    );
    o.push(
        "size xen_sndif_sring header".to_string(),
        Kind::Integer,
        size_of::<SringHeader>().to_string(),
        format!("offsetof({c_sring}, ring)"),
    );
    for (name, value, field) in [
        ("SRING_REQ_PROD", SRING_REQ_PROD, "req_prod"),
        ("SRING_REQ_EVENT", SRING_REQ_EVENT, "req_event"),
        ("SRING_RSP_PROD", SRING_RSP_PROD, "rsp_prod"),
        ("SRING_RSP_EVENT", SRING_RSP_EVENT, "rsp_event"),
        ("SRING_ENTRIES_OFFSET", SRING_ENTRIES_OFFSET, "ring"),
    ] {
        o.constant_as(name, &format!("offsetof({c_sring}, {field})"), &value);
    }
    o.size(
        "xen_sndif_sring_entry",
        "union xen_sndif_sring_entry",
        size_of::<Request>().max(size_of::<Response>()),
    );
    // ring_size() is the one function here: check it on several ring sizes,
    // including one too small for a single entry.
    for bytes in [100usize, 200, 4096, 8192, 16384, 65536] {
        o.constant_as(
            &format!("__CONST_RING_SIZE(xen_sndif, {bytes})"),
            &format!("__CONST_RING_SIZE(xen_sndif, {bytes})"),
            &ring_size(bytes, size_of::<Request>()),
        );
    }
}

fn xen_items(o: &mut Oracle) {
    use xen::*;
    constants!(o, xen: [
        __HYPERVISOR_set_trap_table, __HYPERVISOR_mmu_update, __HYPERVISOR_set_gdt,
        __HYPERVISOR_stack_switch, __HYPERVISOR_set_callbacks, __HYPERVISOR_fpu_taskswitch,
        __HYPERVISOR_sched_op_compat, __HYPERVISOR_platform_op, __HYPERVISOR_set_debugreg,
        __HYPERVISOR_get_debugreg, __HYPERVISOR_update_descriptor, __HYPERVISOR_memory_op,
        __HYPERVISOR_multicall, __HYPERVISOR_update_va_mapping, __HYPERVISOR_set_timer_op,
        __HYPERVISOR_event_channel_op_compat, __HYPERVISOR_xen_version,
        __HYPERVISOR_console_io, __HYPERVISOR_physdev_op_compat, __HYPERVISOR_grant_table_op,
        __HYPERVISOR_vm_assist, __HYPERVISOR_update_va_mapping_otherdomain,
        __HYPERVISOR_iret, __HYPERVISOR_vcpu_op, __HYPERVISOR_set_segment_base,
        __HYPERVISOR_mmuext_op, __HYPERVISOR_xsm_op, __HYPERVISOR_nmi_op,
        __HYPERVISOR_sched_op, __HYPERVISOR_callback_op, __HYPERVISOR_xenoprof_op,
        __HYPERVISOR_event_channel_op, __HYPERVISOR_physdev_op, __HYPERVISOR_hvm_op,
        __HYPERVISOR_sysctl, __HYPERVISOR_domctl, __HYPERVISOR_kexec_op,
        __HYPERVISOR_tmem_op, __HYPERVISOR_argo_op, __HYPERVISOR_xenpmu_op,
        __HYPERVISOR_dm_op, __HYPERVISOR_hypfs_op,
        __HYPERVISOR_arch_0, __HYPERVISOR_arch_1, __HYPERVISOR_arch_2, __HYPERVISOR_arch_3,
        __HYPERVISOR_arch_4, __HYPERVISOR_arch_5, __HYPERVISOR_arch_6, __HYPERVISOR_arch_7,
        VIRQ_TIMER, VIRQ_DEBUG, VIRQ_CONSOLE, VIRQ_DOM_EXC, VIRQ_TBUF, VIRQ_DEBUGGER,
        VIRQ_XENOPROF, VIRQ_CON_RING, VIRQ_PCPU_STATE, VIRQ_MEM_EVENT, VIRQ_ARGO,
        VIRQ_ENOMEM, VIRQ_XENPMU, VIRQ_ARCH_0, VIRQ_ARCH_1, VIRQ_ARCH_2, VIRQ_ARCH_3,
        VIRQ_ARCH_4, VIRQ_ARCH_5, VIRQ_ARCH_6, VIRQ_ARCH_7, NR_VIRQS,
        CONSOLEIO_write, CONSOLEIO_read,
        DOMID_FIRST_RESERVED, DOMID_SELF, DOMID_IO, DOMID_XEN, DOMID_COW, DOMID_INVALID,
        DOMID_IDLE, DOMID_MASK,
        XEN_PAGE_SHIFT, XEN_HVM_DEBUGCONS_IOPORT,
        XENVER_version, XENVER_extraversion, XENVER_get_features, XENVER_pagesize,
        XEN_EXTRAVERSION_LEN,
        XENFEAT_writable_page_tables, XENFEAT_writable_descriptor_tables,
        XENFEAT_auto_translated_physmap, XENFEAT_supervisor_mode_kernel,
        XENFEAT_pae_pgdir_above_4gb, XENFEAT_mmu_pt_update_preserve_ad,
        XENFEAT_highmem_assist, XENFEAT_gnttab_map_avail_bits, XENFEAT_hvm_callback_vector,
        XENFEAT_hvm_safe_pvclock, XENFEAT_hvm_pirqs, XENFEAT_dom0,
        XENFEAT_memory_op_vnode_supported,
        XENFEAT_ARM_SMCCC_supported, XENFEAT_linux_rsdp_unrestricted,
        XENFEAT_not_direct_mapped, XENFEAT_direct_mapped, XENFEAT_NR_SUBMAPS,
    ]);
    o.constant_as("XEN_PAGE_SIZE", "(1UL << XEN_PAGE_SHIFT)", &XEN_PAGE_SIZE);
    structure!(o, "xen_feature_info", XenFeatureInfo {
        "submap_idx" => submap_idx, "submap" => submap,
    });
}

fn memory_items(o: &mut Oracle) {
    use memory::*;
    constants!(o, memory: [
        XENMEM_increase_reservation, XENMEM_decrease_reservation, XENMEM_maximum_ram_page,
        XENMEM_current_reservation, XENMEM_maximum_reservation, XENMEM_machphys_mfn_list,
        XENMEM_populate_physmap, XENMEM_add_to_physmap, XENMEM_memory_map,
        XENMEM_machine_memory_map, XENMEM_exchange, XENMEM_machphys_mapping,
        XENMEM_set_memory_map, XENMEM_maximum_gpfn, XENMEM_remove_from_physmap,
        XENMEM_add_to_physmap_batch,
        XENMAPSPACE_shared_info, XENMAPSPACE_grant_table, XENMAPSPACE_gmfn,
        XENMAPSPACE_gmfn_range, XENMAPSPACE_gmfn_foreign, XENMAPSPACE_dev_mmio,
        XENMAPIDX_grant_table_status,
    ]);
    structure!(o, "xen_add_to_physmap", XenAddToPhysmap {
        "domid" => domid, "size" => size, "space" => space, "idx" => idx, "gpfn" => gpfn,
    });
    structure!(o, "xen_remove_from_physmap", XenRemoveFromPhysmap {
        "domid" => domid, "gpfn" => gpfn,
    } padding: [pad]);
    structure!(o, "xen_memory_map", XenMemoryMap {
        "nr_entries" => nr_entries, "buffer" => buffer,
    } padding: [pad]);
    structure!(o, "xen_memory_reservation", XenMemoryReservation {
        "extent_start" => extent_start, "nr_extents" => nr_extents,
        "extent_order" => extent_order, "mem_flags" => mem_flags, "domid" => domid,
    } padding: [pad]);
}

fn event_channel_items(o: &mut Oracle) {
    use event_channel::*;
    constants!(o, event_channel: [
        EVTCHNOP_bind_interdomain, EVTCHNOP_bind_virq, EVTCHNOP_bind_pirq, EVTCHNOP_close,
        EVTCHNOP_send, EVTCHNOP_status, EVTCHNOP_alloc_unbound, EVTCHNOP_bind_ipi,
        EVTCHNOP_bind_vcpu, EVTCHNOP_unmask, EVTCHNOP_reset, EVTCHNOP_init_control,
        EVTCHNOP_expand_array, EVTCHNOP_set_priority,
        EVTCHNSTAT_closed, EVTCHNSTAT_unbound, EVTCHNSTAT_interdomain, EVTCHNSTAT_pirq,
        EVTCHNSTAT_virq, EVTCHNSTAT_ipi, EVTCHN_2L_NR_CHANNELS,
    ]);
    structure!(o, "evtchn_alloc_unbound", EvtchnAllocUnbound {
        "dom" => dom, "remote_dom" => remote_dom, "port" => port,
    });
    structure!(o, "evtchn_bind_interdomain", EvtchnBindInterdomain {
        "remote_dom" => remote_dom, "remote_port" => remote_port, "local_port" => local_port,
    } padding: [pad]);
    structure!(o, "evtchn_bind_virq", EvtchnBindVirq {
        "virq" => virq, "vcpu" => vcpu, "port" => port,
    });
    structure!(o, "evtchn_close", EvtchnClose { "port" => port });
    structure!(o, "evtchn_send", EvtchnSend { "port" => port });
    structure!(o, "evtchn_unmask", EvtchnUnmask { "port" => port });
    structure!(o, "evtchn_bind_vcpu", EvtchnBindVcpu { "port" => port, "vcpu" => vcpu });
    structure!(o, "evtchn_status", EvtchnStatus {
        "dom" => dom, "port" => port, "status" => status, "vcpu" => vcpu, "u" => u,
    } padding: [pad]);
    structure!(o, "evtchn_status" @ "u.interdomain.", offset_of!(EvtchnStatus, u),
        EvtchnStatusInterdomain { "dom" => dom, "port" => port });
    o.size(
        "evtchn_status.u.interdomain",
        "((struct evtchn_status *)0)->u.interdomain",
        size_of::<EvtchnStatusInterdomain>(),
    );
}

fn grant_table_items(o: &mut Oracle) {
    use grant_table::*;
    constants!(o, grant_table: [
        GNTTAB_NR_RESERVED_ENTRIES, GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE,
        GTF_invalid, GTF_permit_access, GTF_accept_transfer, GTF_transitive, GTF_type_mask,
        GTF_readonly, GTF_reading, GTF_writing, GTF_PWT, GTF_PCD, GTF_PAT, GTF_sub_page,
        GTF_transfer_committed, GTF_transfer_completed,
        GNTTABOP_map_grant_ref, GNTTABOP_unmap_grant_ref, GNTTABOP_setup_table,
        GNTTABOP_dump_table, GNTTABOP_transfer, GNTTABOP_copy, GNTTABOP_query_size,
        GNTTABOP_unmap_and_replace, GNTTABOP_set_version, GNTTABOP_get_status_frames,
        GNTTABOP_get_version, GNTTABOP_swap_grant_ref, GNTTABOP_cache_flush,
        GNTMAP_device_map, GNTMAP_host_map, GNTMAP_readonly, GNTMAP_application_map,
        GNTMAP_contains_pte,
        GNTST_okay, GNTST_general_error, GNTST_bad_domain, GNTST_bad_gntref,
        GNTST_bad_handle, GNTST_bad_virt_addr, GNTST_bad_dev_addr, GNTST_no_device_space,
        GNTST_permission_denied, GNTST_bad_page, GNTST_bad_copy_arg, GNTST_address_too_big,
        GNTST_eagain, GNTST_no_space,
    ]);
    structure!(o, "grant_entry_v1", GrantEntryV1 {
        "flags" => flags, "domid" => domid, "frame" => frame,
    });
    structure!(o, "gnttab_setup_table", GnttabSetupTable {
        "dom" => dom, "nr_frames" => nr_frames, "status" => status, "frame_list" => frame_list,
    } padding: [pad0, pad1]);
    structure!(o, "gnttab_query_size", GnttabQuerySize {
        "dom" => dom, "nr_frames" => nr_frames, "max_nr_frames" => max_nr_frames,
        "status" => status,
    } padding: [pad0, pad1]);
    structure!(o, "gnttab_map_grant_ref", GnttabMapGrantRef {
        "host_addr" => host_addr, "flags" => flags, "ref" => reference, "dom" => dom,
        "status" => status, "handle" => handle, "dev_bus_addr" => dev_bus_addr,
    });
    structure!(o, "gnttab_unmap_grant_ref", GnttabUnmapGrantRef {
        "host_addr" => host_addr, "dev_bus_addr" => dev_bus_addr, "handle" => handle,
        "status" => status,
    } padding: [pad]);
    structure!(o, "gnttab_set_version", GnttabSetVersion { "version" => version });
    structure!(o, "gnttab_get_version", GnttabGetVersion {
        "dom" => dom, "pad" => pad, "version" => version,
    });
}

fn sched_vcpu_hvm_items(o: &mut Oracle) {
    use hvm::*;
    use sched::*;
    use vcpu::*;
    constants!(o, sched: [
        SCHEDOP_yield, SCHEDOP_block, SCHEDOP_shutdown, SCHEDOP_poll, SCHEDOP_remote_shutdown,
        SCHEDOP_shutdown_code, SCHEDOP_watchdog, SCHEDOP_pin_override,
        SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_suspend, SHUTDOWN_crash,
        SHUTDOWN_watchdog, SHUTDOWN_soft_reset, SHUTDOWN_MAX,
    ]);
    structure!(o, "sched_shutdown", SchedShutdown { "reason" => reason });
    structure!(o, "sched_poll", SchedPoll {
        "ports" => ports, "nr_ports" => nr_ports, "timeout" => timeout,
    } padding: [pad]);
    structure!(o, "sched_remote_shutdown", SchedRemoteShutdown {
        "domain_id" => domain_id, "reason" => reason,
    } padding: [pad]);

    constants!(o, vcpu: [
        VCPUOP_initialise, VCPUOP_up, VCPUOP_down, VCPUOP_is_up, VCPUOP_get_runstate_info,
        VCPUOP_register_runstate_memory_area, VCPUOP_set_periodic_timer,
        VCPUOP_stop_periodic_timer, VCPUOP_set_singleshot_timer,
        VCPUOP_stop_singleshot_timer, VCPUOP_register_vcpu_info, VCPUOP_send_nmi,
        VCPUOP_get_physid, VCPUOP_register_vcpu_time_memory_area, VCPU_SSHOTTMR_future,
        RUNSTATE_running, RUNSTATE_runnable, RUNSTATE_blocked, RUNSTATE_offline,
    ]);
    structure!(o, "vcpu_set_singleshot_timer", VcpuSetSingleshotTimer {
        "timeout_abs_ns" => timeout_abs_ns, "flags" => flags,
    } padding: [pad]);
    structure!(o, "vcpu_set_periodic_timer", VcpuSetPeriodicTimer {
        "period_ns" => period_ns,
    });
    structure!(o, "vcpu_register_vcpu_info", VcpuRegisterVcpuInfo {
        "mfn" => mfn, "offset" => offset, "rsvd" => rsvd,
    });
    structure!(o, "vcpu_runstate_info", VcpuRunstateInfo {
        "state" => state, "state_entry_time" => state_entry_time, "time" => time,
    } padding: [pad]);

    constants!(o, hvm: [
        HVMOP_set_param, HVMOP_get_param,
        HVM_PARAM_CALLBACK_IRQ, HVM_PARAM_CALLBACK_IRQ_TYPE_MASK,
        HVM_PARAM_CALLBACK_TYPE_GSI, HVM_PARAM_CALLBACK_TYPE_PCI_INTX,
        HVM_PARAM_CALLBACK_TYPE_VECTOR,
        HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN, HVM_PARAM_IOREQ_PFN,
        HVM_PARAM_BUFIOREQ_PFN, HVM_PARAM_VIRIDIAN, HVM_PARAM_TIMER_MODE,
        HVM_PARAM_HPET_ENABLED, HVM_PARAM_IDENT_PT, HVM_PARAM_ACPI_S_STATE,
        HVM_PARAM_VM86_TSS, HVM_PARAM_VPT_ALIGN, HVM_PARAM_CONSOLE_PFN,
        HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_ACPI_IOPORTS_LOCATION, HVM_PARAM_PAGING_RING_PFN,
        HVM_PARAM_MONITOR_RING_PFN, HVM_PARAM_SHARING_RING_PFN,
        HVM_PARAM_TRIPLE_FAULT_REASON, HVM_PARAM_IOREQ_SERVER_PFN,
        HVM_PARAM_NR_IOREQ_SERVER_PAGES, HVM_PARAM_VM_GENERATION_ID_ADDR, HVM_PARAM_ALTP2M,
        HVM_PARAM_X87_FIP_WIDTH, HVM_PARAM_VM86_TSS_SIZED, HVM_PARAM_MCA_CAP, HVM_NR_PARAMS,
    ]);
    o.constant_as(
        "HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT",
        "__builtin_ctzll(HVM_PARAM_CALLBACK_IRQ_TYPE_MASK)",
        &HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT,
    );
    structure!(o, "xen_hvm_param", XenHvmParam {
        "domid" => domid, "pad" => pad, "index" => index, "value" => value,
    });
}

fn start_info_items(o: &mut Oracle) {
    use start_info::*;
    constants!(o, start_info: [
        XEN_HVM_START_MAGIC_VALUE,
        XEN_HVM_MEMMAP_TYPE_RAM, XEN_HVM_MEMMAP_TYPE_RESERVED, XEN_HVM_MEMMAP_TYPE_ACPI,
        XEN_HVM_MEMMAP_TYPE_NVS, XEN_HVM_MEMMAP_TYPE_UNUSABLE, XEN_HVM_MEMMAP_TYPE_DISABLED,
        XEN_HVM_MEMMAP_TYPE_PMEM,
        SIF_PRIVILEGED, SIF_INITDOMAIN, SIF_MULTIBOOT_MOD, SIF_MOD_START_PFN,
        SIF_VIRT_P2M_4TOOLS, SIF_PM_MASK,
    ]);
    structure!(o, "hvm_start_info", HvmStartInfo {
        "magic" => magic, "version" => version, "flags" => flags, "nr_modules" => nr_modules,
        "modlist_paddr" => modlist_paddr, "cmdline_paddr" => cmdline_paddr,
        "rsdp_paddr" => rsdp_paddr, "memmap_paddr" => memmap_paddr,
        "memmap_entries" => memmap_entries, "reserved" => reserved,
    });
    structure!(o, "hvm_modlist_entry", HvmModlistEntry {
        "paddr" => paddr, "size" => size, "cmdline_paddr" => cmdline_paddr,
        "reserved" => reserved,
    });
    structure!(o, "hvm_memmap_table_entry", HvmMemmapTableEntry {
        "addr" => addr, "size" => size, "type" => memory_type, "reserved" => reserved,
    });
}

fn shared_info_items(o: &mut Oracle) {
    use shared_info::*;
    constants!(o, shared_info: [
        XEN_LEGACY_MAX_VCPUS, XEN_PVCLOCK_TSC_STABLE_BIT, XEN_PVCLOCK_GUEST_STOPPED,
    ]);
    o.constant_as(
        "EVTCHN_WORDS",
        "sizeof(((struct shared_info *)0)->evtchn_pending) / sizeof(xen_ulong_t)",
        &EVTCHN_WORDS,
    );
    structure!(o, "vcpu_time_info", VcpuTimeInfo {
        "version" => version, "pad0" => pad0, "tsc_timestamp" => tsc_timestamp,
        "system_time" => system_time, "tsc_to_system_mul" => tsc_to_system_mul,
        "tsc_shift" => tsc_shift, "flags" => flags, "pad1" => pad1,
    });
    structure!(o, "arch_vcpu_info", ArchVcpuInfo { "cr2" => cr2, "pad" => pad });
    structure!(o, "vcpu_info", VcpuInfo {
        "evtchn_upcall_pending" => evtchn_upcall_pending,
        "evtchn_upcall_mask" => evtchn_upcall_mask,
        "evtchn_pending_sel" => evtchn_pending_sel, "arch" => arch, "time" => time,
    } padding: [pad0]);
    let time = offset_of!(VcpuInfo, time);
    structure!(o, "vcpu_info" @ "time.", time, VcpuTimeInfo {
        "version" => version, "tsc_timestamp" => tsc_timestamp, "system_time" => system_time,
        "tsc_to_system_mul" => tsc_to_system_mul, "tsc_shift" => tsc_shift, "flags" => flags,
    });
    structure!(o, "arch_shared_info", ArchSharedInfo {
        "max_pfn" => max_pfn, "pfn_to_mfn_frame_list_list" => pfn_to_mfn_frame_list_list,
        "nmi_reason" => nmi_reason, "p2m_cr3" => p2m_cr3, "p2m_vaddr" => p2m_vaddr,
        "p2m_generation" => p2m_generation,
    });
    structure!(o, "shared_info", SharedInfo {
        "vcpu_info" => vcpu_info, "evtchn_pending" => evtchn_pending,
        "evtchn_mask" => evtchn_mask, "wc_version" => wc_version, "wc_sec" => wc_sec,
        "wc_nsec" => wc_nsec, "wc_sec_hi" => wc_sec_hi, "arch" => arch,
    });
    // An element deep inside the vcpu_info array.
    let last = XEN_LEGACY_MAX_VCPUS - 1;
    structure!(o, "shared_info" @ "vcpu_info[31].", offset_of!(SharedInfo, vcpu_info)
        + last * size_of::<VcpuInfo>(), VcpuInfo {
        "evtchn_upcall_pending" => evtchn_upcall_pending,
        "evtchn_pending_sel" => evtchn_pending_sel, "time" => time,
    });
}

fn xs_wire_items(o: &mut Oracle) {
    use xs_wire::*;
    constants!(o, xs_wire: [
        XS_CONTROL, XS_DEBUG, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH,
        XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE,
        XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS, XS_WATCH_EVENT,
        XS_ERROR, XS_IS_DOMAIN_INTRODUCED, XS_RESUME, XS_SET_TARGET, XS_RESET_WATCHES,
        XS_DIRECTORY_PART, XS_TYPE_COUNT, XS_INVALID, XS_WATCH_PATH, XS_WATCH_TOKEN,
        XS_WRITE_NONE, XS_WRITE_CREATE, XS_WRITE_CREATE_EXCL,
        XENSTORE_RING_SIZE, XENSTORE_PAYLOAD_MAX, XENSTORE_ABS_PATH_MAX,
        XENSTORE_REL_PATH_MAX, XENSTORE_SERVER_FEATURE_RECONNECTION,
        XENSTORE_SERVER_FEATURE_ERROR, XENSTORE_CONNECTED, XENSTORE_RECONNECT,
        XENSTORE_ERROR_NONE, XENSTORE_ERROR_COMM, XENSTORE_ERROR_RINGIDX, XENSTORE_ERROR_PROTO,
    ]);
    o.constant_as(
        "XSD_ERRORS.len",
        "sizeof(xsd_errors) / sizeof(xsd_errors[0])",
        &XSD_ERRORS.len(),
    );
    for (index, (number, name)) in XSD_ERRORS.iter().enumerate() {
        o.constant_as(
            &format!("XSD_ERRORS[{index}].errnum"),
            &format!("xsd_errors[{index}].errnum"),
            number,
        );
        o.constant_as(
            &format!("XSD_ERRORS[{index}].errstring"),
            &format!("xsd_errors[{index}].errstring"),
            name,
        );
    }
    structure!(o, "xsd_sockmsg", XsdSockmsg {
        "type" => message_type, "req_id" => req_id, "tx_id" => tx_id, "len" => len,
    });
    structure!(o, "xenstore_domain_interface", XenstoreDomainInterface {
        "req" => req, "rsp" => rsp, "req_cons" => req_cons, "req_prod" => req_prod,
        "rsp_cons" => rsp_cons, "rsp_prod" => rsp_prod, "server_features" => server_features,
        "connection" => connection, "error" => error,
    });
}

fn console_xenbus_errno_items(o: &mut Oracle) {
    use console::*;
    structure!(o, "xencons_interface", XenconsInterface {
        "in" => input, "out" => output, "in_cons" => in_cons, "in_prod" => in_prod,
        "out_cons" => out_cons, "out_prod" => out_prod,
    });
    o.constant_as(
        "XENCONS_IN_RING_SIZE",
        "sizeof(((struct xencons_interface *)0)->in)",
        &XENCONS_IN_RING_SIZE,
    );
    o.constant_as(
        "XENCONS_OUT_RING_SIZE",
        "sizeof(((struct xencons_interface *)0)->out)",
        &XENCONS_OUT_RING_SIZE,
    );
    // MASK_XENCONS_IDX(idx, ring) is idx & (sizeof(ring) - 1).
    o.constant_as(
        "MASK_XENCONS_IDX(0xffffffff, out)",
        "MASK_XENCONS_IDX(0xffffffffu, ((struct xencons_interface *)0)->out)",
        &(u32::MAX as usize & (XENCONS_OUT_RING_SIZE - 1)),
    );

    use xenbus::XenbusState;
    for state in XenbusState::ALL {
        o.constant(&format!("XenbusState{state:?}"), &(state as u32));
        assert_eq!(XenbusState::from_u32(state as u32), Some(state));
    }
    assert_eq!(XenbusState::from_u32(XenbusState::ALL.len() as u32), None);
    assert_eq!(XenbusState::from_u32(u32::MAX), None);

    constants!(o, errno: [
        XEN_EPERM, XEN_ENOENT, XEN_ESRCH, XEN_EIO, XEN_ENXIO, XEN_E2BIG, XEN_ENOEXEC,
        XEN_EBADF, XEN_ECHILD, XEN_EAGAIN, XEN_EWOULDBLOCK, XEN_ENOMEM, XEN_EACCES,
        XEN_EFAULT, XEN_EBUSY, XEN_EEXIST, XEN_EXDEV, XEN_ENODEV, XEN_ENOTDIR, XEN_EISDIR,
        XEN_EINVAL, XEN_ENFILE, XEN_EMFILE, XEN_ENOSPC, XEN_EROFS, XEN_EMLINK, XEN_EDOM,
        XEN_ERANGE, XEN_EDEADLK, XEN_EDEADLOCK, XEN_ENAMETOOLONG, XEN_ENOLCK, XEN_ENOSYS,
        XEN_ENOTEMPTY, XEN_ENODATA, XEN_ETIME, XEN_EBADMSG, XEN_EOVERFLOW, XEN_EILSEQ,
        XEN_ENOTSOCK, XEN_EMSGSIZE, XEN_EOPNOTSUPP, XEN_EADDRINUSE, XEN_EADDRNOTAVAIL,
        XEN_ENOBUFS, XEN_EISCONN, XEN_ENOTCONN, XEN_ETIMEDOUT, XEN_ECONNREFUSED,
    ]);
}

fn all_items() -> Vec<Item> {
    let mut o = Oracle::default();
    sndif_items(&mut o);
    ring_items(&mut o);
    xen_items(&mut o);
    memory_items(&mut o);
    event_channel_items(&mut o);
    grant_table_items(&mut o);
    sched_vcpu_hvm_items(&mut o);
    start_info_items(&mut o);
    shared_info_items(&mut o);
    xs_wire_items(&mut o);
    console_xenbus_errno_items(&mut o);
    o.items
}

/// `name` as an executable on `PATH`, if any.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// A C string literal holding `text` (keys are plain ASCII).
fn c_string(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        if character == '"' || character == '\\' {
            out.push('\\');
        }
        out.push(character);
    }
    out.push('"');
    out
}

/// Writes the oracle program; returns its path and the item printed on each line.
fn write_program(items: &[Item], directory: &Path) -> (PathBuf, BTreeMap<usize, String>) {
    let mut source = String::from(
        "/* Generated by tests/abi_oracle.rs: one line per item of crates/xen-abi. */\n\
         #include \"prelude.h\"\n\
         int main(void)\n{\n    oracle_errno_list();\n",
    );
    let mut lines = BTreeMap::new();
    for item in items {
        let macro_name = match item.kind {
            Kind::Integer => "ORACLE_INT",
            Kind::Text => "ORACLE_STR",
        };
        lines.insert(source.lines().count() + 1, item.key.clone());
        writeln!(
            source,
            "    {macro_name}({}, {});",
            c_string(&item.key),
            item.c_expression
        )
        .unwrap();
    }
    source.push_str("    return 0;\n}\n");
    let path = directory.join("oracle.c");
    std::fs::write(&path, source).unwrap();
    (path, lines)
}

const DEPS_HINT: &str = "the ABI oracle needs a C compiler and Xen's public headers \
                         (Debian packages gcc, libc6-dev, libxen-dev): run `make deps`";

#[test]
fn abi_matches_xen_headers() {
    let items = all_items();
    let mut keys = BTreeSet::new();
    for item in &items {
        assert!(
            keys.insert(item.key.as_str()),
            "item listed twice: {}",
            item.key
        );
    }

    let compiler = find_on_path("cc").unwrap_or_else(|| panic!("no `cc` on PATH; {DEPS_HINT}"));
    let headers = Path::new("/usr/include/xen/io/sndif.h");
    assert!(
        headers.is_file(),
        "{} is missing; {DEPS_HINT}",
        headers.display()
    );

    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_oracle");
    std::fs::create_dir_all(&directory).unwrap();
    let (source, lines) = write_program(&items, &directory);
    let binary = directory.join("oracle");
    let prelude = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/abi_oracle");
    let output = Command::new(&compiler)
        .args(["-std=gnu11", "-Wall", "-Werror", "-O0"])
        .arg("-D__XEN_INTERFACE_VERSION__=0x00040e00")
        .arg("-I")
        .arg(&prelude)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}; {DEPS_HINT}", compiler.display()));
    if !output.status.success() {
        let errors = String::from_utf8_lossy(&output.stderr);
        // Name the items whose C expression did not compile.
        let file = source.display().to_string();
        let mut failed = BTreeSet::new();
        for line in errors.lines() {
            let Some(rest) = line.strip_prefix(&format!("{file}:")) else {
                continue;
            };
            let number = rest.split(':').next().and_then(|n| n.parse::<usize>().ok());
            if let Some(key) = number.and_then(|n| lines.get(&n)) {
                failed.insert(key.clone());
            }
        }
        panic!(
            "the oracle program {} does not compile against the Xen headers.\n\
             Items the headers do not define (or define differently): {:#?}\n\
             {errors}\n(if a header or the compiler is missing: {DEPS_HINT})",
            source.display(),
            failed
        );
    }

    let run = Command::new(&binary)
        .output()
        .expect("run the oracle program");
    assert!(run.status.success(), "the oracle program failed: {run:?}");
    let stdout = String::from_utf8(run.stdout).expect("oracle output is UTF-8");
    // The program prints the errno.h list, then one line per item, in order.
    let mut c_values = BTreeMap::new();
    let mut c_errno = Vec::new();
    let mut item_lines = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix("errno ") {
            Some(rest) => {
                let (name, value) = rest.split_once(' ').expect("errno line has a value");
                c_errno.push((name.to_string(), value.to_string()));
            }
            None => item_lines.push(line),
        }
    }
    for (item, line) in items.iter().zip(&item_lines) {
        let value = line
            .strip_prefix(item.key.as_str())
            .and_then(|rest| rest.strip_prefix(' '))
            .unwrap_or_else(|| panic!("oracle line {line:?} is not item {:?}", item.key));
        c_values.insert(item.key.as_str(), value.to_string());
    }
    let mut mismatches = Vec::new();
    for item in &items {
        match c_values.get(item.key.as_str()) {
            None => mismatches.push(format!("{}: missing on the C side", item.key)),
            Some(c) if *c != item.rust => mismatches.push(format!(
                "{}: Rust {} but C ({}) {}",
                item.key, item.rust, item.c_expression, c
            )),
            Some(_) => {}
        }
    }
    // Every error number errno.h gives a guest is mirrored in abi::errno.
    for (name, value) in &c_errno {
        let key = format!("const {name}");
        match items.iter().find(|item| item.key == key) {
            None => mismatches.push(format!("{key}: in xen/errno.h but not in abi::errno")),
            Some(item) if item.rust != *value => {
                mismatches.push(format!("{key}: Rust {} but errno.h {value}", item.rust))
            }
            Some(_) => {}
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} ABI items differ from Xen's headers:\n{}",
        mismatches.len(),
        items.len() + c_errno.len(),
        mismatches.join("\n")
    );
    println!(
        "abi oracle: {} items checked against the Xen headers (+{} errno.h entries cross-checked), all match",
        items.len(),
        c_errno.len()
    );
}
