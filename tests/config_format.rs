//! Sample formats and format sets (`sndif::format`).

use xen_abi::sndif::XENSND_PCM_FORMATS;
use xensnd_pcm::format::{Encoding, Endianness, FormatSet, SampleFormat, SAMPLE_FORMAT_COUNT};

#[test]
fn all_25_formats_round_trip() {
    assert_eq!(SampleFormat::ALL.len(), 25);
    assert_eq!(SAMPLE_FORMAT_COUNT, XENSND_PCM_FORMATS.len());
    for (index, format) in SampleFormat::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(format.code()), index);
        assert_eq!(SampleFormat::from_code(format.code()), Some(format));
        assert_eq!(SampleFormat::from_name(format.name()), Some(format));
        assert_eq!(format.to_string(), XENSND_PCM_FORMATS[index].1);
        assert_eq!(format.bit(), 1 << index);
    }
    for code in 25..=255u8 {
        assert_eq!(SampleFormat::from_code(code), None);
    }
}

#[test]
fn sizes() {
    use SampleFormat::*;
    let expected: [(SampleFormat, Option<u32>); 25] = [
        (S8, Some(1)),
        (U8, Some(1)),
        (S16Le, Some(2)),
        (S16Be, Some(2)),
        (U16Le, Some(2)),
        (U16Be, Some(2)),
        (S24Le, Some(4)),
        (S24Be, Some(4)),
        (U24Le, Some(4)),
        (U24Be, Some(4)),
        (S32Le, Some(4)),
        (S32Be, Some(4)),
        (U32Le, Some(4)),
        (U32Be, Some(4)),
        (F32Le, Some(4)),
        (F32Be, Some(4)),
        (F64Le, Some(8)),
        (F64Be, Some(8)),
        (Iec958SubframeLe, Some(4)),
        (Iec958SubframeBe, Some(4)),
        (MuLaw, Some(1)),
        (ALaw, Some(1)),
        (ImaAdpcm, None),
        (Mpeg, None),
        (Gsm, None),
    ];
    for (format, bytes) in expected {
        assert_eq!(format.bytes_per_sample(), bytes, "{format}");
        assert_eq!(format.frame_bytes(3), bytes.map(|b| b * 3), "{format}");
    }
    assert_eq!(S24Le.significant_bits(), Some(24));
    assert_eq!(F64Be.significant_bits(), Some(64));
    assert_eq!(MuLaw.significant_bits(), None);
    assert_eq!(S16Le.frame_bytes(u32::MAX), None);
}

#[test]
fn signedness_and_endianness() {
    use SampleFormat::*;
    for format in SampleFormat::ALL {
        let name = format.name();
        assert_eq!(
            format.is_signed(),
            name.starts_with('s') || name.starts_with("float"),
            "{name}"
        );
        assert_eq!(format.is_unsigned(), name.starts_with('u'), "{name}");
        assert_eq!(
            format.is_linear(),
            format.is_signed() || format.is_unsigned(),
            "{name}"
        );
        let endianness = if name.ends_with("_le") {
            Some(Endianness::Little)
        } else if name.ends_with("_be") {
            Some(Endianness::Big)
        } else {
            None
        };
        assert_eq!(format.endianness(), endianness, "{name}");
    }
    assert_eq!(F32Le.encoding(), Encoding::Float);
    assert_eq!(Iec958SubframeBe.encoding(), Encoding::Iec958Subframe);
    assert_eq!(Gsm.encoding(), Encoding::Compressed);
    assert_eq!(ALaw.encoding(), Encoding::ALaw);
}

#[test]
fn silence() {
    let mut buffer = [0xaa; 7];
    assert!(SampleFormat::U16Le.fill_silence(&mut buffer));
    assert_eq!(buffer, [0x00, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00]);
    assert!(SampleFormat::U16Be.fill_silence(&mut buffer));
    assert_eq!(buffer, [0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00]);
    assert!(SampleFormat::S32Le.fill_silence(&mut buffer));
    assert_eq!(buffer, [0; 7]);
    assert!(SampleFormat::U8.fill_silence(&mut buffer));
    assert_eq!(buffer, [0x80; 7]);
    let mut buffer = [0xaa; 4];
    assert!(SampleFormat::U24Be.fill_silence(&mut buffer));
    assert_eq!(buffer, [0x00, 0x80, 0x00, 0x00]);
    assert!(!SampleFormat::Mpeg.fill_silence(&mut buffer));
    assert_eq!(buffer, [0x00, 0x80, 0x00, 0x00]);
}

#[test]
fn format_sets() {
    let set: FormatSet = [SampleFormat::S32Le, SampleFormat::U8, SampleFormat::S16Le]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 3);
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        [SampleFormat::U8, SampleFormat::S16Le, SampleFormat::S32Le]
    );
    assert_eq!(set.iter().len(), 3);
    assert_eq!(set.first(), Some(SampleFormat::U8));
    assert_eq!(set.to_string(), "u8,s16_le,s32_le");
    assert_eq!(
        set.bits(),
        (1 << 1) | (1 << 2) | (1 << 10),
        "1 << XENSND_PCM_FORMAT_*"
    );

    let other: FormatSet = [SampleFormat::S16Le, SampleFormat::F32Le]
        .into_iter()
        .collect();
    assert_eq!(
        set.intersection(other),
        FormatSet::single(SampleFormat::S16Le)
    );
    assert_eq!(set.union(other).len(), 4);
    assert_eq!(set.difference(other).len(), 2);
    assert!(FormatSet::single(SampleFormat::U8).is_subset(set));
    assert!(!other.is_subset(set));
    assert!(FormatSet::EMPTY.is_subset(set));
    assert!(FormatSet::EMPTY.is_empty());
    assert_eq!(FormatSet::EMPTY.first(), None);
    assert_eq!(FormatSet::EMPTY.to_string(), "");

    let mut edit = set;
    edit.remove(SampleFormat::U8);
    edit.insert(SampleFormat::Gsm);
    assert!(!edit.contains(SampleFormat::U8));
    assert!(edit.contains(SampleFormat::Gsm));
}

#[test]
fn format_set_bits() {
    assert_eq!(FormatSet::ALL.len(), 25);
    assert_eq!(FormatSet::ALL.bits(), (1 << 25) - 1);
    assert_eq!(FormatSet::from_bits(1 << 25), None);
    assert_eq!(
        FormatSet::from_bits(0b100),
        Some(FormatSet::single(SampleFormat::S16Le))
    );
    assert_eq!(FormatSet::from_bits_truncate(u64::MAX), FormatSet::ALL);
    assert_eq!(FormatSet::LINEAR.len(), 18);
    assert!(FormatSet::LINEAR.iter().all(SampleFormat::is_linear));
    assert_eq!(FormatSet::SIZED.len(), 22);
    assert!(!FormatSet::SIZED.contains(SampleFormat::ImaAdpcm));
    assert!(FormatSet::SIZED.contains(SampleFormat::MuLaw));
}
