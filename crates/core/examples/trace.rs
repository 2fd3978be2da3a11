//! Prints the customer detector's state per hop of one recording, as CSV:
//! what a missed or false detection stood on, hop by hop.
//!
//! `cargo run --release --example trace -- CALL.wav [MODEL.json] > trace.csv`
#![allow(clippy::unwrap_used)] // a research tool: a panic says where

use shoutcue_core::detector::{ShoutModel, SpeakerDetector};
use shoutcue_core::engine::analyse_channel;
use shoutcue_core::source::{ChannelChoice, WavSource};
use shoutcue_core::Speaker;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = match args.get(1) {
        Some(p) => ShoutModel::load(std::path::Path::new(p)).unwrap(),
        None => ShoutModel::builtin(),
    };
    let mut src = WavSource::open(&args[0], ChannelChoice::Default).unwrap();
    let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
    // Optional: times (one per line) at which a new detector starts, so
    // that each clip of a training render is judged as a call's opening.
    let mut resets: Vec<f64> = match std::env::var("RESETS") {
        Ok(p) => std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    resets.reverse();
    println!("t,speech,voiced,score,rel_score,f0_st,tilt_db,level_db,centroid_st,own,shouting,event,base_level,base_f0");
    analyse_channel(&args[0], &mut src, Speaker::Customer, |f| {
        while resets.last().is_some_and(|&r| f.t >= r) {
            resets.pop();
            d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
        }
        let (h, e) = d.process(f);
        let own = d.baseline().own;
        let rel = SpeakerDetector::score_of(
            &model,
            &[
                h.cues.f0_st,
                h.cues.tilt_db,
                h.cues.level_db,
                h.cues.clip_frac,
                h.cues.centroid_st,
            ],
        );
        println!(
            "{:.2},{},{},{:.3},{:.3},{:.2},{:.2},{:.2},{:.2},{},{},{},{:.1},{:.1}",
            f.t,
            f.speech as u8,
            f.voiced as u8,
            h.score,
            rel,
            h.cues.f0_st,
            h.cues.tilt_db,
            h.cues.level_db,
            h.cues.centroid_st,
            own as u8,
            h.shouting as u8,
            match e {
                Some(shoutcue_core::detector::SegmentEvent::ShoutStart { .. }) => "start",
                Some(_) => "end",
                None => "",
            },
            d.baseline().level_db,
            d.baseline().f0_st
        );
        Ok(())
    })
    .unwrap();
}
