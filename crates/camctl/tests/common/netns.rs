//! Test networks the tests build themselves: two network namespaces joined by a veth pair with
//! link-local addresses. Nothing is sent on the machine's own interfaces. Needs root and iproute2;
//! without them tests skip with a note, and under CI=true they fail.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::camctl;

/// Two namespaces and a veth pair, removed on drop.
pub struct TestNetwork {
    pub camera_ns: String,
    pub client_ns: String,
}

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl TestNetwork {
    /// Two namespaces `camctl-TAG-cam-PID` (at `camera_addr`) and `camctl-TAG-cli-PID` (at `client_addr`),
    /// both in one /24.
    pub fn create(tag: &str, camera_addr: &str, client_addr: &str) -> TestNetwork {
        let id = std::process::id() % 100_000;
        let net = TestNetwork {
            camera_ns: format!("camctl-{tag}-cam-{id}"),
            client_ns: format!("camctl-{tag}-cli-{id}"),
        };
        let (veth_cam, veth_cli) = (format!("vc{tag}{id}"), format!("vl{tag}{id}"));
        ip(&["netns", "add", &net.camera_ns]);
        ip(&["netns", "add", &net.client_ns]);
        ip(&["link", "add", &veth_cam, "type", "veth", "peer", "name", &veth_cli]);
        ip(&["link", "set", &veth_cam, "netns", &net.camera_ns]);
        ip(&["link", "set", &veth_cli, "netns", &net.client_ns]);
        for (ns, dev, addr) in
            [(&net.camera_ns, &veth_cam, camera_addr), (&net.client_ns, &veth_cli, client_addr)]
        {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "brd", "+", "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// `camctl emulate ARGS` inside the camera namespace; returns it with the URL it printed. The child
    /// is stopped (SIGTERM) when the returned guard drops.
    pub fn emulate(&self, args: &[&str]) -> (Running, String) {
        let mut child =
            self.camctl_in(&self.camera_ns).arg("emulate").args(args).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("{line:?}")).to_string();
        (Running(child), url)
    }

    /// camctl inside namespace `ns`.
    pub fn camctl_in(&self, ns: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(camctl().get_program());
        cmd
    }
}

/// A child process stopped with SIGTERM on drop.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        // Deleting a namespace also deletes the veth end inside it, and with it the pair.
        for ns in [&self.camera_ns, &self.client_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

pub fn can_create_namespaces() -> bool {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let has_ip = Command::new("ip").arg("-V").output().is_ok();
    if root && has_ip {
        return true;
    }
    let why = if has_ip { "not root" } else { "iproute2 (ip) is not installed" };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("network-namespace tests must run under CI=true, but: {why}");
    }
    eprintln!("skipping: creating network namespaces needs root and iproute2 ({why})");
    false
}

/// Runs `work` on a thread inside namespace `ns` (setns changes only the calling thread's namespace).
pub fn in_namespace<T: Send + 'static>(ns: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a valid namespace descriptor.
        assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
        work()
    })
    .join()
    .expect("namespace thread")
}
