//! A small text progress bar on standard error (redrawn in place on a terminal,
//! one line per 10% otherwise, so logs stay readable).

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Bar {
    label: String,
    unit: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    message: String,
    tty: bool,
    last_decile: u64,
}

impl Bar {
    pub fn new(label: &str, total: u64, unit: &'static str) -> Self {
        let bar = Bar {
            label: label.to_string(),
            unit,
            total: total.max(1),
            done: 0,
            started: Instant::now(),
            message: String::new(),
            tty: std::io::stderr().is_terminal(),
            last_decile: 0,
        };
        bar.draw();
        bar
    }

    pub fn set_message(&mut self, message: &str) {
        self.message = message.to_string();
        if self.tty {
            self.draw();
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        let decile = self.done * 10 / self.total;
        if self.tty || decile > self.last_decile {
            self.last_decile = decile;
            self.draw();
        }
    }

    fn draw(&self) {
        const WIDTH: u64 = 30;
        let filled = (self.done * WIDTH / self.total) as usize;
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if self.done > 0 && self.done < self.total {
            format!(", about {:.0} s left", elapsed / self.done as f64 * (self.total - self.done) as f64)
        } else {
            String::new()
        };
        let line = format!(
            "  {:<10} [{}{}] {:>3}% {}/{} {} {:.1} s{}{}",
            self.label,
            "#".repeat(filled),
            ".".repeat(WIDTH as usize - filled),
            self.done * 100 / self.total,
            self.done,
            self.total,
            self.unit,
            elapsed,
            eta,
            if self.message.is_empty() { String::new() } else { format!("  {}", self.message) }
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    pub fn finish(self, summary: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "  {:<10} done: {summary}", self.label);
    }
}
