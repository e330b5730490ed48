//! `camctl live`: the camera's live video to a file or stdout.

use std::time::Duration;

use camctl_core::{Camera, Error, Result};

use crate::any::AnyCamera;

/// Runs `camctl live URL --out OUT [--for SECS] [--force]`.
pub async fn run(url: &str, out: &str, duration: Option<f64>, force: bool) -> Result<()> {
    let _ = force;
    let duration = match duration {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => return Err(Error::InvalidValue(format!("--for {s}"))),
        None => None,
    };
    let mut camera = AnyCamera::connect(url).await?;
    let wyze = camera.wyze("live")?;
    tracing::info!("connected; receiving live video");
    let report = if out == "-" {
        wyze.live(std::io::BufWriter::new(std::io::stdout().lock()), duration).await?
    } else {
        // Same guarantee as pull: the final name only appears complete.
        let path = std::path::PathBuf::from(out);
        let temp = path.with_file_name(format!(
            ".{}.camctl-part",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("live")
        ));
        let file = std::fs::File::create(&temp).map_err(|e| Error::io(temp.display().to_string(), e))?;
        let report = wyze.live(std::io::BufWriter::new(file), duration).await?;
        std::fs::rename(&temp, &path).map_err(|e| Error::io(path.display().to_string(), e))?;
        report
    };
    camera.close().await?;
    let s = report.stats;
    let size = s.dimensions.map(|(w, h)| format!("{w}x{h}, ")).unwrap_or_default();
    eprintln!(
        "live: {} frames ({size}{} bytes) in {:.1} s, {} gaps ({} frames missing), {} reconnects",
        s.frames_written,
        s.bytes_written,
        report.elapsed.as_secs_f64(),
        s.gaps,
        s.missing_frames,
        report.reconnects
    );
    Ok(())
}
