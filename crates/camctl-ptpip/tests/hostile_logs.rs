//! Logs a hostile camera cannot flood: junk and floods give a few warning lines with a count, whatever
//! their number. A hand-written `tracing` subscriber (thread-local, and the tests' runtimes are
//! single-threaded) collects the warnings.

use std::sync::{Arc, Mutex};

use camctl_ptpip::client::{Client, ClientConfig};
use camctl_ptpip::wire::codes::{ev, op, rc};
use camctl_ptpip::wire::{OperationRequest, Packet};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber, span};

mod common;
use common::*;

/// Collects the message of every warning.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0.lock().unwrap().push(m.0);
        }
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[tokio::test]
async fn junk_on_both_connections_gives_a_few_counted_warnings() {
    let warnings = Warnings::default();
    let _guard = tracing::subscriber::set_default(warnings.clone());
    let handler: Arc<Handler> = Arc::new(move |req: &OperationRequest| {
        let tid = req.tid;
        match req.code {
            op::INITIATE_CAPTURE => {
                // 5,000 junk packets on the event connection, then the capture's own events.
                let junk = Packet::Unknown { kind: 0x77, payload: vec![0x1b; 16] }.to_bytes().unwrap();
                let mut events: Vec<u8> = junk.iter().copied().cycle().take(junk.len() * 5000).collect();
                events.extend(event(ev::OBJECT_ADDED, 5));
                events.extend(event(ev::CAPTURE_COMPLETE, 0));
                // 40 junk packets on the command connection before the response.
                let mut cmd: Vec<u8> = junk.iter().copied().cycle().take(junk.len() * 40).collect();
                cmd.extend(response(tid, rc::OK));
                Reply::WithEvents { cmd, events }
            }
            _ => Reply::Cmd(response(tid, rc::OPERATION_NOT_SUPPORTED)),
        }
    });
    let addr = fake_camera(handler).await;
    within(async {
        let mut c = Client::connect(&addr, ClientConfig::default()).await.unwrap();
        assert_eq!(c.capture().await.unwrap(), [5]);
    })
    .await;
    let lines = warnings.0.lock().unwrap().clone();
    // Default throttle: 5 lines a minute per kind; two kinds here.
    assert!(!lines.is_empty() && lines.len() <= 10, "{} warnings: {lines:#?}", lines.len());
    assert!(lines.iter().all(|l| l.len() < 200 && !l.contains('\u{1b}')), "{lines:#?}");
}
