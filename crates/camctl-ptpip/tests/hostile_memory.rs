//! Peak heap of the PTP/IP client against hostile cameras, through this test process's own accounting: a
//! counting global allocator. One test only, so no other test's allocations mix in; the fake camera runs
//! in the same process and is counted too (its replies are small next to the bound).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use camctl_core::Camera;
use camctl_ptpip::client::{Client, ClientConfig, MAX_FOLDER_DEPTH};

mod common;
use common::*;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap growth allowed for one hostile scenario (the whole-process bound is 64 MiB).
const BOUND: usize = 16 << 20;

/// Runs `f` and returns the peak heap above what was in use when it started.
async fn peak_of<T>(f: impl std::future::Future<Output = T>) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f.await;
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

#[tokio::test]
async fn hostile_cameras_cannot_blow_the_clients_heap() {
    // Folders nested 2,000 deep, 254-character names: without parent links and a depth cap, the paths
    // alone were hundreds of MiB.
    let addr = fake_camera(deep_chain_camera(2000, Arc::new(AtomicUsize::new(0)))).await;
    let (tree, peak) = within(peak_of(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        c.object_tree().await.unwrap()
    }))
    .await;
    assert_eq!(tree.len(), MAX_FOLDER_DEPTH);
    assert!(peak < BOUND, "deep folders: {peak} bytes");

    // An AUINT8 property of 500 KiB (twice: default and current): one enum value per element was 40 MB.
    let addr = fake_camera(array_prop_camera(500 * 1024)).await;
    let (value, peak) = within(peak_of(async {
        let mut cam = ptp_camera(&addr, "").await;
        cam.setting("0xd001").await.unwrap().value
    }))
    .await;
    assert!(value.ends_with("(512000 values)]"), "{value}");
    assert!(peak < BOUND, "array property: {peak} bytes");
}
