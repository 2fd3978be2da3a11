//! shoutcue-lab: offline work on recorded calls, built on `shoutcue-core`.
//!
//! - [`dataset`]: folders of WAVs with Audacity label tracks;
//! - [`eval`]: scores the detector and coach against the labels;
//! - [`train`]: fits the shout model;
//! - [`qa`]: the QA team's batch report (events, labels, notes, plots, index).

pub mod dataset;
pub mod eval;
pub mod line;
pub mod qa;
pub mod train;
