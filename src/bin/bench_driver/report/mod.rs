//! BENCHMARKS.md: the machine, the data set, every figure, the targets.
//!
//! By part: `machine` (the machine and its conditions), `figures` (what the
//! targets are judged on), `format` (numbers and tables), `markdown` (the
//! document, section by section), `notes` (the notes on the targets) and
//! `summary` (the lines for the terminal).

mod figures;
mod format;
mod machine;
mod markdown;
mod notes;
mod summary;

pub use machine::{machine, Machine};
pub use markdown::markdown;
pub use summary::summary;
