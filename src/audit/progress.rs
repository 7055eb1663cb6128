//! Progress of `--verify-audit` on a terminal: segments done, megabytes read, megabytes per
//! second. Verifying a large rotated directory takes long enough that an operator wants to
//! see it move; a script, a pipe or a log file gets nothing (nothing is drawn unless stderr
//! is a terminal, and the report on stdout is never touched).

use std::io::{IsTerminal, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress display, or nothing.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    segments: u64,
}

impl Progress {
    /// No display (tests, libraries, non-terminals).
    pub fn hidden() -> Self {
        Self::default()
    }

    /// A bar on stderr for `segments` files holding `bytes` bytes on disk, when stderr is a
    /// terminal; otherwise [`Progress::hidden`].
    pub fn on_stderr(segments: u64, bytes: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "verifying {msg} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let p = Self {
            bar: Some(bar),
            segments,
        };
        p.segment_started(0);
        p
    }

    /// Whether anything is drawn.
    pub fn visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Segment `done + 1` of all is being read.
    pub fn segment_started(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "segment {}/{}",
                (done + 1).min(self.segments),
                self.segments
            ));
        }
    }

    /// Wrap a reader of on-disk bytes so each read advances the bar.
    pub fn reader<R: Read>(&self, inner: R) -> Counted<R> {
        Counted {
            inner,
            bar: self.bar.clone(),
        }
    }

    /// Leave the final figures on the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} segment(s)", self.segments));
            bar.finish();
            // The bar leaves the cursor at its end; the report follows on a line of its own.
            eprintln!();
        }
    }
}

/// A reader that reports the bytes it reads to a progress bar.
#[derive(Debug)]
pub struct Counted<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
