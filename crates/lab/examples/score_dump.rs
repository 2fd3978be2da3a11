//! Diagnostic: the customer detector's per-hop score and cues for one call.
//!
//! `cargo run --release --example score_dump -- MODEL.json CALL.wav` prints
//! `t,voiced,speech,score,f0_st,tilt_db,level_db,centroid_st,own` rows.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_core::detector::{ShoutModel, Speaker, SpeakerDetector};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = ShoutModel::load(std::path::Path::new(&args[1])).expect("model");
    let call = shoutcue_lab::train::load_call(std::path::Path::new(&args[2]), 0).expect("call");
    let hop_s = shoutcue_core::HOP as f32 / shoutcue_core::ANALYSIS_RATE as f32;
    let mut d = SpeakerDetector::new(Speaker::Customer, &model, hop_s);
    println!("t,voiced,speech,score,f0_st,tilt_db,level_db,centroid_st,own");
    for f in &call.hops {
        let (h, _) = d.process(f);
        let c = h.cues;
        println!(
            "{:.2},{},{},{:.4},{:.2},{:.2},{:.2},{:.2},{}",
            f.t,
            f.voiced as u8,
            f.speech as u8,
            h.score,
            c.f0_st,
            c.tilt_db,
            c.level_db,
            c.centroid_st,
            d.baseline().own as u8
        );
    }
}
