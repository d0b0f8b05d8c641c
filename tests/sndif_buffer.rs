//! The shared buffer's page directory as a backend walks it, including
//! chains of several directory pages (buffers over 1023 pages), and the
//! demo programs over the in-memory PCM implementation.

use xen_abi::sndif::XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE;
use xen_guest::{PageAllocator, SharedPage, PAGE_SIZE};
use xensnd_demo::demo::{self, Chime};
use xensnd_demo::signal::{Crc32, Tone};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::mock::LoopbackStream;
use xensnd_pcm::{Playback, Stream, StreamConfig};
use xensnd_sim::{GuestConfig, SimXen};
use xensnd_sndif::buffer::GrantedBuffer;
use xensnd_sndif::directory::DirectoryLayout;

const GUEST: u16 = 3;

/// Walk the directory as the backend does: follow `gref_dir_next_page`
/// from the first page, collecting buffer grefs.
fn walk(sim: &SimXen, first: u32, pages: usize) -> (Vec<u32>, usize) {
    let mut grefs = Vec::new();
    let mut next = first;
    let mut directory_count = 0;
    while next != 0 && grefs.len() < pages {
        let mapping = sim
            .map_grant(0, GUEST, next, false)
            .expect("directory page granted");
        directory_count += 1;
        let here = (pages - grefs.len()).min(XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE);
        for i in 0..here {
            grefs.push(mapping.page.load_u32(4 + 4 * i));
        }
        next = mapping.page.load_u32(0);
        sim.unmap_grant(mapping.handle).unwrap();
    }
    (grefs, directory_count)
}

#[test]
fn a_buffer_over_1023_pages_uses_a_chain_of_directory_pages() {
    let sim = SimXen::new();
    // Eight grant frames (4096 entries), as the guest maps under Xen.
    let mut guest = sim.add_guest_with(
        GUEST,
        GuestConfig {
            grant_frames: 8,
            ..GuestConfig::default()
        },
    );
    // 2100 pages: three directory pages (1023 + 1023 + 54).
    let len = 2100 * PAGE_SIZE - 100;
    let buffer = GrantedBuffer::new(&mut guest, 0, len).unwrap();
    assert_eq!(buffer.data_pages(), 2100);
    assert_eq!(buffer.directory_page_count(), 3);
    assert_eq!(DirectoryLayout::for_bytes(len).directory_pages(), 3);
    let (grefs, directories) = walk(&sim, buffer.directory_gref(), 2100);
    assert_eq!(directories, 3);
    assert_eq!(grefs.len(), 2100);
    // Every data page is granted writable, and bytes written through the
    // buffer are what the backend sees at the right page and offset.
    let pattern: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
    buffer.write(0, &pattern);
    for page in [0usize, 1022, 1023, 1024, 2046, 2099] {
        let mapping = sim
            .map_grant(0, GUEST, grefs[page], true)
            .expect("data page writable");
        let mut bytes = vec![0u8; 64];
        mapping.page.read(8, &mut bytes);
        assert_eq!(bytes, pattern[page * PAGE_SIZE + 8..page * PAGE_SIZE + 72]);
        sim.unmap_grant(mapping.handle).unwrap();
    }
    // A read across a page boundary comes back whole.
    let mut back = vec![0u8; 3 * PAGE_SIZE];
    buffer.read(PAGE_SIZE * 1022 + 17, &mut back);
    assert_eq!(back, pattern[PAGE_SIZE * 1022 + 17..PAGE_SIZE * 1025 + 17]);
    // Teardown revokes everything (nothing is mapped any more).
    assert!(buffer.release(&mut guest).is_empty());
    assert!(sim.granted_refs(GUEST).is_empty());
}

#[test]
fn directory_is_mappable_read_write() {
    // libxenbe (under snd_be) maps every grant read-write, the directory
    // pages included; Xen refuses a writable mapping of a read-only grant.
    let sim = SimXen::new();
    let mut guest = sim.add_guest_with(
        GUEST,
        GuestConfig {
            grant_frames: 8,
            ..GuestConfig::default()
        },
    );
    // A chain of three directory pages.
    let buffer = GrantedBuffer::new(&mut guest, 0, 2100 * PAGE_SIZE).unwrap();
    let mut next = buffer.directory_gref();
    let mut directories = 0;
    while next != 0 {
        let mapping = sim
            .map_grant(0, GUEST, next, true)
            .expect("directory page mappable read-write");
        directories += 1;
        next = mapping.page.load_u32(0);
        sim.unmap_grant(mapping.handle).unwrap();
    }
    assert_eq!(directories, 3);
    assert!(buffer.release(&mut guest).is_empty());
    assert!(sim.granted_refs(GUEST).is_empty());
}

#[test]
fn a_buffer_of_exactly_1023_pages_needs_one_directory_page() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let buffer = GrantedBuffer::new(&mut guest, 0, 1023 * PAGE_SIZE).unwrap();
    assert_eq!(buffer.directory_page_count(), 1);
    let (grefs, directories) = walk(&sim, buffer.directory_gref(), 1023);
    assert_eq!((grefs.len(), directories), (1023, 1));
    let first = sim
        .map_grant(0, GUEST, buffer.directory_gref(), false)
        .unwrap();
    assert_eq!(first.page.load_u32(0), 0, "end of chain");
    sim.unmap_grant(first.handle).unwrap();
    assert!(buffer.release(&mut guest).is_empty());
}

#[test]
fn a_page_still_mapped_is_not_released() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let page = guest.alloc_page().unwrap();
    drop(page);
    let buffer = GrantedBuffer::new(&mut guest, 0, 3 * PAGE_SIZE).unwrap();
    let (grefs, _) = walk(&sim, buffer.directory_gref(), 3);
    let held = sim.map_grant(0, GUEST, grefs[1], true).unwrap();
    let stuck = buffer.release(&mut guest);
    assert_eq!(stuck.len(), 1, "the mapped page comes back, not reused");
    assert_eq!(stuck[0].gref, grefs[1]);
    sim.unmap_grant(held.handle).unwrap();
}

fn config() -> StreamConfig {
    StreamConfig {
        format: SampleFormat::S16Le,
        rate: 48_000,
        channels: 2,
        period_frames: 480,
        buffer_frames: 48_000,
    }
}

#[test]
fn loopback_demo_plays_back_exactly_what_it_captured() {
    // Capture side: a loopback stream fed with a tone.
    let mut capture = LoopbackStream::new(config()).unwrap();
    capture.prepare().unwrap();
    let tone = Tone {
        frequency_hz: 523,
        rate: 48_000,
        channels: 2,
        level_millidb: -3000,
    };
    let source = tone.render_s16le(9_600);
    capture.write(&source).unwrap();
    let mut playback = LoopbackStream::new(config()).unwrap();
    playback.prepare().unwrap();
    let (record, play) = demo::loopback(&mut capture, &mut playback, 9_600).unwrap();
    assert_eq!(record.frames, 9_600);
    assert_eq!(record.crc32, Crc32::of(&source));
    assert_eq!(play.crc32, record.crc32);
    assert!(record.peak > 20_000);
}

#[test]
fn chime_demo_queues_the_whole_chime() {
    let mut stream = LoopbackStream::new(config()).unwrap();
    stream.prepare().unwrap();
    let frames = xensnd_demo::chime::frames_at(48_000);
    let chime = Chime {
        rate: 48_000,
        channels: 2,
    };
    let report = demo::play(&mut stream, &chime, frames, None).unwrap();
    let mut expected = vec![0u8; frames as usize * 4];
    xensnd_demo::chime::fill_s16le(48_000, 2, 0, &mut expected);
    assert_eq!(report.frames, frames);
    assert_eq!(report.crc32, Crc32::of(&expected));
}
