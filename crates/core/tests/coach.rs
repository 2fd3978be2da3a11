//! The coach's ladder, delivery, calm-down and nudges, driven by simulated
//! detector output (see `coach_sim.rs`).
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_testkit::coach_sim as sim;

use shoutcue_core::coach::{
    Coach, CoachConfig, CoachEvent, CoachEvents, ConfigError, Delivery, NudgeKind, Rung, LADDER,
};
use sim::{events, ladder, shouting_turns, Call, Voice, DECIDE_S, DT};

fn cues(evs: &[CoachEvent]) -> Vec<(f64, Rung, bool, Delivery)> {
    evs.iter()
        .filter_map(|e| match *e {
            CoachEvent::Cue {
                t,
                rung,
                recue,
                delivery,
            } => Some((t, rung, recue, delivery)),
            _ => None,
        })
        .collect()
}

fn nudges(evs: &[CoachEvent]) -> Vec<(f64, NudgeKind)> {
    evs.iter()
        .filter_map(|e| match *e {
            CoachEvent::AgentNudge { t, kind } => Some((t, kind)),
            _ => None,
        })
        .collect()
}

fn count(evs: &[CoachEvent], f: impl Fn(&CoachEvent) -> bool) -> usize {
    evs.iter().filter(|e| f(e)).count()
}

/// Every cue is shown after the customer has been silent for `pause_s`.
fn assert_cues_at_pauses(steps: &[sim::Step], pause_s: f64) {
    let need = (pause_s / DT).round() as usize;
    for s in steps {
        if s.events.iter().any(|e| matches!(e, CoachEvent::Cue { .. })) {
            let from = s.i + 1 - need;
            assert!(
                steps[from..=s.i].iter().all(|p| !p.hop.customer.speech),
                "cue at {:.2} s while the customer spoke in the last {pause_s} s",
                s.hop.t
            );
        }
    }
}

#[test]
fn calm_call_gives_nothing() {
    // Turn-taking with no shouting at all, for a minute.
    let mut customer = Voice::default();
    let mut agent = Voice::default();
    for k in 0..6 {
        let c = k as f64 * 10.0;
        customer.speech.push((c + 0.5, c + 4.5));
        agent.speech.push((c + 5.0, c + 9.5));
    }
    let call = Call {
        dur: 60.0,
        customer,
        agent: Some(agent),
    };
    let steps = call.run();
    assert_eq!(events(&steps), vec![]);
}

#[test]
fn shout_then_pause_cues_step_1_at_the_pause_not_during_speech() {
    let cfg = CoachConfig::default();
    // One long turn: shouting from 1.5 s to 3.0 s, but speech goes on to 8 s.
    let call = Call {
        dur: 12.0,
        customer: Voice {
            speech: vec![(1.0, 8.0)],
            shout: vec![(1.5, 3.0)],
        },
        agent: Some(Voice::default()),
    };
    let steps = call.run();
    let evs = events(&steps);
    // Pending when the detector decided, i.e. while still talking.
    let pending: Vec<f64> = evs
        .iter()
        .filter_map(|e| match *e {
            CoachEvent::CuePending { t, rung } => {
                assert_eq!(rung, LADDER[0]);
                Some(t)
            }
            _ => None,
        })
        .collect();
    assert_eq!(pending.len(), 1);
    assert!((pending[0] - (1.5 + DECIDE_S)).abs() < DT / 2.0);

    let shown = cues(&evs);
    assert_eq!(shown.len(), 1, "{evs:?}");
    let (t, rung, recue, delivery) = shown[0];
    assert_eq!(rung, Rung { step: 1, repeat: 1 });
    assert!(!recue);
    assert_eq!(delivery, Delivery::Awaiting);
    // The hop at time t covers [t, t+DT): the silence since 8.0 s has
    // lasted exactly pause_s when the cue is shown.
    let silence = t + DT - 8.0;
    assert!(
        (silence - cfg.pause_s).abs() < DT / 2.0,
        "cue {t} s, silence {silence}"
    );
    assert!(silence <= 0.5);
    assert_cues_at_pauses(&steps, cfg.pause_s);
}

#[test]
fn pause_length_comes_from_the_config() {
    let cfg = CoachConfig {
        pause_s: 0.45,
        ..CoachConfig::default()
    };
    let call = shouting_turns(1.0, 8.0, 1, Some(0.0));
    let steps = call.run_with(cfg);
    let shown = cues(&events(&steps));
    assert_eq!(shown.len(), 1);
    assert!((shown[0].0 + DT - 4.0 - 0.45).abs() < DT / 2.0);
    assert_cues_at_pauses(&steps, 0.45);
}

#[test]
fn brief_gaps_in_speech_are_not_a_pause() {
    // The customer takes 0.15 s breaths while still talking: no cue then.
    let call = Call {
        dur: 10.0,
        customer: Voice {
            speech: vec![(1.0, 3.0), (3.15, 5.0), (5.15, 6.0)],
            shout: vec![(1.2, 2.8)],
        },
        agent: None,
    };
    let shown = cues(&events(&call.run()));
    assert_eq!(shown.len(), 1);
    assert!(shown[0].0 > 6.0 && shown[0].0 < 6.5, "{shown:?}");
}

#[test]
fn agent_silent_means_undelivered_and_the_same_step_again() {
    let cfg = CoachConfig::default();
    // Agent channel present but the agent never speaks; two shouts 10 s apart.
    let call = shouting_turns(1.0, 9.0, 2, Some(0.0));
    let steps = call.run();
    let evs = events(&steps);
    let shown = cues(&evs);
    assert_eq!(shown.len(), 2, "{evs:?}");
    assert_eq!(shown[0].1, LADDER[0]);
    assert!(!shown[0].2);
    // Same step again, flagged as a re-cue; no step 2.
    assert_eq!(shown[1].1, LADDER[0]);
    assert!(shown[1].2);
    assert_eq!(
        count(&evs, |e| matches!(e, CoachEvent::CueDelivered { .. })),
        0
    );
    let undelivered: Vec<f64> = evs
        .iter()
        .filter_map(|e| match e {
            CoachEvent::CueUndelivered { t, .. } => Some(*t),
            _ => None,
        })
        .collect();
    // Both windows closed; the first exactly delivery_window_s after its cue.
    assert_eq!(undelivered.len(), 2);
    assert!((undelivered[0] - shown[0].0 - cfg.delivery_window_s).abs() < DT / 2.0);
}

#[test]
fn a_shout_inside_the_delivery_window_does_not_cue() {
    // Second shout starts 1.5 s after the first cue: the agent has not had
    // their turn yet, so nothing new is cued, and the window still runs.
    let call = Call {
        dur: 15.0,
        customer: Voice {
            speech: vec![(1.0, 4.0), (5.0, 7.0)],
            shout: vec![(1.5, 3.5), (5.2, 6.8)],
        },
        agent: Some(Voice {
            speech: vec![(7.5, 8.5)],
            shout: vec![],
        }),
    };
    let evs = events(&call.run());
    assert_eq!(cues(&evs).len(), 1, "{evs:?}");
    assert_eq!(
        count(&evs, |e| matches!(e, CoachEvent::CuePending { .. })),
        1
    );
    assert_eq!(
        count(&evs, |e| matches!(e, CoachEvent::CueDelivered { .. })),
        1
    );
}

#[test]
fn full_ladder_with_delivery_then_end_call_and_supervisor_alert() {
    let cfg = CoachConfig::default();
    // Six shouting turns 8 s apart, the agent answering each for 1 s.
    let call = shouting_turns(1.0, 8.0, 6, Some(1.0));
    let steps = call.run();
    let evs = ladder(&steps);
    let shown = cues(&evs);
    let rungs: Vec<(u8, u8)> = shown.iter().map(|c| (c.1.step, c.1.repeat)).collect();
    assert_eq!(rungs, vec![(1, 1), (2, 1), (3, 1), (3, 2), (4, 1)]);
    assert!(shown.iter().all(|c| !c.2 && c.3 == Delivery::Awaiting));
    // Each delivered once the agent had spoken delivery_min_speech_s.
    let delivered: Vec<(f64, Rung)> = evs
        .iter()
        .filter_map(|e| match *e {
            CoachEvent::CueDelivered { t, rung } => Some((t, rung)),
            _ => None,
        })
        .collect();
    assert_eq!(delivered.len(), 5);
    for (k, (t, rung)) in delivered.iter().enumerate() {
        assert_eq!(*rung, shown[k].1);
        let agent_from = 1.0 + k as f64 * 8.0 + 3.6;
        assert!((t + DT - agent_from - cfg.delivery_min_speech_s).abs() < DT / 2.0);
    }
    // Then advise ending the call and alert the supervisor, once, at the
    // hop step 4 was delivered.
    let tail: Vec<&CoachEvent> = evs
        .iter()
        .skip_while(|e| !matches!(e, CoachEvent::AdviseEndCall { .. }))
        .collect();
    // The sixth shout comes after the end: the advice again, no second
    // alert inside `realert_after_s`.
    assert_eq!(tail.len(), 3, "{evs:?}");
    assert!(
        matches!(tail[2], CoachEvent::AdviseEndCall { .. }),
        "{tail:?}"
    );
    let CoachEvent::SupervisorAlert { t, summary } = *tail[1] else {
        panic!("expected a supervisor alert after advise_end_call, got {tail:?}")
    };
    assert_eq!(t, delivered[4].0);
    assert_eq!(tail[0].t(), delivered[4].0);
    // Five customer episodes had started by then (the sixth comes later).
    assert_eq!(summary.episodes, 5);
    assert!((summary.shouting_s - 5.0 * 2.0).abs() < 1e-6, "{summary:?}");
    assert_eq!(summary.steps_given, 5);
    assert_eq!(summary.cues_shown, 5);
    // The sixth shout cues nothing: the ladder is over.
    assert_eq!(
        count(&evs, |e| matches!(e, CoachEvent::CuePending { .. })),
        5
    );
    assert_cues_at_pauses(&steps, cfg.pause_s);
}

#[test]
fn after_the_ladder_the_coach_keeps_advising_and_realerts_on_schedule() {
    // 30 shouting turns 8 s apart: the ladder ends at turn 5, then 25 more
    // episodes over about 200 s. Each repeats the advice; the supervisor is
    // alerted again once `realert_after_s` (60 s here) has passed.
    let cfg = CoachConfig {
        realert_after_s: 60.0,
        ..CoachConfig::default()
    };
    let steps = shouting_turns(1.0, 8.0, 30, Some(1.0)).run_with(cfg);
    let evs = ladder(&steps);
    let advice = count(&evs, |e| matches!(e, CoachEvent::AdviseEndCall { .. }));
    assert_eq!(advice, 1 + 25, "{evs:?}");
    let alerts: Vec<f64> = evs
        .iter()
        .filter_map(|e| match e {
            CoachEvent::SupervisorAlert { t, .. } => Some(*t),
            _ => None,
        })
        .collect();
    // 200 s after the first alert at 60 s apart: 1 + 3 alerts.
    assert_eq!(alerts.len(), 4, "{alerts:?}");
    for w in alerts.windows(2) {
        assert!(
            w[1] - w[0] >= 60.0 && w[1] - w[0] < 60.0 + 8.0 + 1.0,
            "{alerts:?}"
        );
    }
    // Never a new cue after the end.
    assert_eq!(
        count(&evs, |e| matches!(e, CoachEvent::CuePending { .. })),
        5
    );
}

#[test]
fn calm_period_steps_the_ladder_down_to_zero() {
    let cfg = CoachConfig::default();
    // Steps 1 and 2 delivered, then 35 s of calm talking, then a shout.
    let mut call = shouting_turns(1.0, 8.0, 2, Some(1.0));
    let agent = call.agent.as_mut().unwrap();
    let calm_from = 20.0;
    for k in 0..7 {
        let c = calm_from + k as f64 * 5.0;
        call.customer.speech.push((c, c + 2.5));
        agent.speech.push((c + 3.0, c + 4.5));
    }
    call.customer.speech.push((60.0, 63.0));
    call.customer.shout.push((60.5, 62.5));
    call.dur = 70.0;
    let evs = ladder(&call.run());
    let calm: Vec<(f64, Rung)> = evs
        .iter()
        .filter_map(|e| match *e {
            CoachEvent::Calm { t, next } => Some((t, next)),
            _ => None,
        })
        .collect();
    // Two steps down (2 → 1 → 0) and then no more: nothing left to step down.
    assert_eq!(
        calm.iter().map(|c| c.1).collect::<Vec<_>>(),
        vec![LADDER[1], LADDER[0]]
    );
    // The first calm comes calm_after_s after the last cue, and each next one
    // calm_after_s after the previous.
    let last_cue = cues(&evs)[1].0;
    assert!(
        (calm[0].0 - last_cue - cfg.calm_after_s).abs() < 1.5 * DT,
        "{calm:?}"
    );
    assert!((calm[1].0 - calm[0].0 - cfg.calm_after_s).abs() < 1.5 * DT);
    // The next shouting re-enters at the lower step: step 1 again.
    let shown = cues(&evs);
    assert_eq!(shown.len(), 3);
    assert_eq!(shown[2].1, LADDER[0]);
}

#[test]
fn silence_alone_is_not_calm() {
    // After step 1, the line goes quiet for 30 s: no speech, so no calm.
    let mut call = shouting_turns(1.0, 8.0, 1, Some(1.0));
    call.dur = 40.0;
    let evs = events(&call.run());
    assert_eq!(count(&evs, |e| matches!(e, CoachEvent::Calm { .. })), 0);
    // With calm speech it does come (same call plus talking).
    call.customer.speech.push((12.0, 16.0));
    let evs = events(&call.run());
    assert_eq!(count(&evs, |e| matches!(e, CoachEvent::Calm { .. })), 1);
}

#[test]
fn mono_call_climbs_on_cue_with_delivery_unknown() {
    let call = shouting_turns(1.0, 8.0, 5, None);
    let evs = ladder(&call.run());
    let shown = cues(&evs);
    let rungs: Vec<Rung> = shown.iter().map(|c| c.1).collect();
    assert_eq!(rungs, LADDER.to_vec());
    assert!(shown.iter().all(|c| c.3 == Delivery::Unknown));
    assert_eq!(
        count(&evs, |e| matches!(
            e,
            CoachEvent::CueDelivered { .. } | CoachEvent::CueUndelivered { .. }
        )),
        0
    );
    // End of the ladder at the step-4 cue itself.
    let n = evs.len();
    assert!(matches!(evs[n - 2], CoachEvent::AdviseEndCall { t } if t == shown[4].0));
    assert!(
        matches!(evs[n - 1], CoachEvent::SupervisorAlert { summary, .. } if summary.steps_given == 5)
    );
}

#[test]
fn overtalk_nudge_after_overtalk_s_with_cooldown() {
    let cfg = CoachConfig::default();
    // The customer talks; the agent cuts in 1 s later and keeps going for
    // 2 s. Repeated at 10 s (inside the cooldown) and at 30 s (after it).
    let mut customer = Voice::default();
    let mut agent = Voice::default();
    for c in [0.0, 10.0, 30.0] {
        customer.speech.push((c, c + 5.0));
        agent.speech.push((c + 1.0, c + 3.0));
    }
    // The agent talking first, then the customer joining: not overtalk.
    agent.speech.push((45.0, 49.0));
    customer.speech.push((46.0, 49.0));
    let call = Call {
        dur: 50.0,
        customer,
        agent: Some(agent),
    };
    let n = nudges(&events(&call.run()));
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(n.iter().all(|x| x.1 == NudgeKind::Overtalk));
    // More than overtalk_s of overlap: the hop after exactly overtalk_s.
    assert!((n[0].0 - 1.0 - cfg.overtalk_s).abs() < DT / 2.0, "{n:?}");
    assert!((n[1].0 - 31.0 - cfg.overtalk_s).abs() < DT / 2.0);
}

#[test]
fn short_overlap_or_starting_together_is_not_overtalk() {
    // Two short cut-ins, then both starting in the same hop for 3 s: the
    // customer was not talking first.
    let call = Call {
        dur: 15.0,
        customer: Voice {
            speech: vec![(0.0, 5.0), (10.0, 13.0)],
            shout: vec![],
        },
        agent: Some(Voice {
            speech: vec![(1.0, 1.9), (2.5, 3.4), (10.0, 13.0)],
            shout: vec![],
        }),
    };
    assert_eq!(nudges(&events(&call.run())), vec![]);
}

#[test]
fn raised_voice_nudge_with_cooldown() {
    let cfg = CoachConfig::default();
    let agent = Voice {
        speech: vec![(5.0, 8.0), (15.0, 18.0), (30.0, 33.0)],
        shout: vec![(5.2, 7.0), (15.2, 17.0), (30.2, 32.0)],
    };
    let call = Call {
        dur: 35.0,
        customer: Voice::default(),
        agent: Some(agent),
    };
    let n = nudges(&events(&call.run()));
    let t: Vec<f64> = n.iter().map(|x| x.0).collect();
    assert!(n.iter().all(|x| x.1 == NudgeKind::RaisedVoice));
    // 15.5 is within nudge_cooldown_s of 5.5; 30.5 is not.
    assert_eq!(t.len(), 2, "{t:?}");
    assert!((t[0] - (5.2 + DECIDE_S)).abs() < DT / 2.0);
    assert!((t[1] - (30.2 + DECIDE_S)).abs() < DT / 2.0);
    assert!(t[1] - t[0] >= cfg.nudge_cooldown_s);
}

#[test]
fn nudges_never_change_the_ladder_or_the_supervisor_alert() {
    // The same shouting customer, once with a polite agent and once with an
    // agent who raises their voice and talks over the customer.
    let polite = shouting_turns(1.0, 8.0, 5, Some(1.0));
    let mut loud = polite.clone();
    let agent = loud.agent.as_mut().unwrap();
    for k in 0..5 {
        let c = 1.0 + k as f64 * 8.0;
        // Cuts in during the customer's turn for 1.5 s, voice raised.
        agent.speech.push((c + 1.0, c + 2.5));
        agent.shout.push((c + 1.2, c + 2.5));
    }
    let quiet_run = polite.run();
    let loud_run = loud.run();
    assert!(nudges(&events(&quiet_run)).is_empty());
    let n = nudges(&events(&loud_run));
    assert!(n.iter().any(|x| x.1 == NudgeKind::RaisedVoice));
    assert!(n.iter().any(|x| x.1 == NudgeKind::Overtalk));
    // Everything but the nudges is identical, alert summary included.
    assert_eq!(ladder(&quiet_run), ladder(&loud_run));
    assert!(ladder(&loud_run)
        .iter()
        .any(|e| matches!(e, CoachEvent::SupervisorAlert { .. })));
}

#[test]
fn reset_forgets_the_call() {
    let call = shouting_turns(1.0, 8.0, 5, None);
    let mut coach = Coach::new(CoachConfig::default()).unwrap();
    let mut out = CoachEvents::new();
    for (hop, segs) in call.hops() {
        coach.process(&hop, &segs, &mut out);
    }
    assert!(coach.ended());
    assert_eq!(coach.next_rung(), None);
    coach.reset();
    assert!(!coach.ended());
    assert_eq!(coach.next_rung(), Some(LADDER[0]));
}

#[test]
fn config_defaults_toml_and_errors() {
    let d = CoachConfig::default();
    assert_eq!(d.pause_s, 0.25);
    assert_eq!(d.delivery_window_s, 6.0);
    assert_eq!(d.delivery_min_speech_s, 0.4);
    assert_eq!(d.calm_after_s, 10.0);
    assert_eq!(d.calm_min_speech_s, 1.5);
    assert_eq!(d.overtalk_s, 1.0);
    assert_eq!(d.nudge_cooldown_s, 20.0);

    // Keys left out keep their defaults.
    let c = CoachConfig::parse("pause_s = 0.4\nnudge_cooldown_s = 30", "site.toml").unwrap();
    assert_eq!(c.pause_s, 0.4);
    assert_eq!(c.nudge_cooldown_s, 30.0);
    assert_eq!(c.calm_after_s, d.calm_after_s);
    // A serialised config reads back the same.
    let text = toml::to_string(&c).unwrap();
    assert_eq!(CoachConfig::parse(&text, "x").unwrap(), c);

    let e = CoachConfig::parse("pause_s = -1.0", "site.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Invalid { key: "pause_s", got, .. } if got == -1.0));
    let msg = e.to_string();
    assert!(
        msg.contains("site.toml") && msg.contains("pause_s"),
        "{msg}"
    );

    let e = CoachConfig::parse("pause = 0.3", "site.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
    assert!(e.to_string().contains("site.toml"));

    let e = CoachConfig::from_file("/nonexistent/coach.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/coach.toml"));

    let bad = CoachConfig {
        delivery_min_speech_s: 7.0,
        ..d
    };
    assert!(Coach::new(bad).is_err());
    let nan = CoachConfig {
        calm_after_s: f64::NAN,
        ..d
    };
    assert!(Coach::new(nan).is_err());
}
