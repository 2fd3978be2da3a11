//! The script files: the built-in English, the German file, `{name}`, and
//! errors that name the file and the problem.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_core::coach::{Line, NudgeKind, Script, ScriptError, SCRIPT_EN};

fn repo_file(rel: &str) -> std::path::PathBuf {
    shoutcue_testkit::repo_root().join(rel)
}

#[test]
fn built_in_english_is_the_trainers_script() {
    let s = Script::english();
    assert_eq!(s.lang(), "en");
    assert_eq!(
        s.template(Line::Step(1)),
        "I am happy to help you, but do you realise you are shouting at me?"
    );
    assert_eq!(
        s.template(Line::Step(2)),
        "I am asking you to please stop shouting."
    );
    assert_eq!(
        s.template(Line::Step(3)),
        "If you continue to shout, I will have no option but to stop the conversation."
    );
    assert_eq!(
        s.template(Line::Step(4)),
        "Please call back when you are ready to talk this through calmly."
    );
    assert_eq!(
        s.template(Line::Calm),
        "Customer calmer: acknowledge, summarise"
    );
    assert_eq!(
        s.template(Line::Nudge(NudgeKind::RaisedVoice)),
        "Lower your voice; pause and breathe"
    );
    assert_eq!(
        s.template(Line::Nudge(NudgeKind::Overtalk)),
        "Let them finish"
    );
    // The embedded text is the file in models/.
    assert_eq!(
        Script::from_file(repo_file("models/script-en.toml")).unwrap(),
        s
    );
    assert_eq!(Script::default(), Script::parse(SCRIPT_EN, "x").unwrap());
}

#[test]
fn german_file_loads_through_the_same_mechanism() {
    let de = Script::from_file(repo_file("models/script-de.toml")).unwrap();
    let en = Script::english();
    assert_eq!(de.lang(), "de");
    let lines = [
        Line::Step(1),
        Line::Step(2),
        Line::Step(3),
        Line::Step(4),
        Line::Calm,
        Line::EndCall,
        Line::Nudge(NudgeKind::RaisedVoice),
        Line::Nudge(NudgeKind::Overtalk),
    ];
    for l in lines {
        assert!(!de.template(l).is_empty());
        assert_ne!(de.template(l), en.template(l), "{l:?} not translated");
    }
}

#[test]
fn both_scripts_carry_a_notice_for_callers_and_it_is_optional() {
    let en = Script::english();
    let d = en.disclosure().unwrap();
    assert!(
        d.contains("raised voices") && d.contains("no recording"),
        "{d}"
    );
    let de = Script::from_file(repo_file("models/script-de.toml")).unwrap();
    assert!(de.disclosure().unwrap().contains("erhobene Stimmen"));
    // A site's own script may leave it out (their IVR says it).
    assert!(Script::parse(WITH_NAME, "x.toml")
        .unwrap()
        .disclosure()
        .is_none());
}

#[test]
fn no_feeling_words_in_any_script() {
    // We detect raised voices, not feelings.
    let words = [
        "anger",
        "angry",
        "upset",
        "emotion",
        "frustrat",
        "aggress",
        "furious",
        "rage",
        "wütend",
        "ärger",
        "aufgeregt",
    ];
    for f in ["models/script-en.toml", "models/script-de.toml"] {
        let text = std::fs::read_to_string(repo_file(f))
            .unwrap()
            .to_lowercase();
        for w in words {
            assert!(!text.contains(w), "{f} contains {w:?}");
        }
    }
}

const WITH_NAME: &str = r#"
lang = "en"
steps = ["{name}, please lower your voice.", "I am happy to help you, {name}, but not like this.", "Three.", "Four, {name}."]
calm = "Thanks {name}."
end_call = "End."
[nudges]
raised_voice = "Lower."
overtalk = "Wait."
"#;

#[test]
fn name_placeholder_is_filled_or_dropped_cleanly() {
    let s = Script::parse(WITH_NAME, "named.toml").unwrap();
    assert_eq!(
        s.render(Line::Step(1), Some("Ms Weber")),
        "Ms Weber, please lower your voice."
    );
    assert_eq!(s.render(Line::Step(1), None), "Please lower your voice.");
    assert_eq!(
        s.render(Line::Step(2), None),
        "I am happy to help you, but not like this."
    );
    assert_eq!(s.render(Line::Step(4), Some("  ")), "Four.");
    assert_eq!(s.render(Line::Calm, None), "Thanks.");
    assert_eq!(s.render(Line::Step(3), Some("Ann")), "Three.");
}

#[test]
fn bad_scripts_name_the_file_and_the_problem() {
    let three = WITH_NAME.replace(", \"Four, {name}.\"", "");
    let e = Script::parse(&three, "short.toml").unwrap_err();
    assert!(
        matches!(
            e,
            ScriptError::StepCount {
                expected: 4,
                got: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("short.toml"));

    let typo = WITH_NAME.replace("Thanks {name}.", "Thanks {nmae}.");
    let e = Script::parse(&typo, "typo.toml").unwrap_err();
    assert!(
        matches!(&e, ScriptError::Placeholder { key, .. } if key == "calm"),
        "{e}"
    );
    assert!(e.to_string().contains("typo.toml"));

    let empty = WITH_NAME.replace("\"End.\"", "\"  \"");
    let e = Script::parse(&empty, "empty.toml").unwrap_err();
    assert!(
        matches!(&e, ScriptError::Empty { key, .. } if key == "end_call"),
        "{e}"
    );

    let missing = WITH_NAME.replace("overtalk = \"Wait.\"", "");
    let e = Script::parse(&missing, "missing.toml").unwrap_err();
    assert!(matches!(e, ScriptError::Parse { .. }), "{e}");
    assert!(e.to_string().contains("overtalk"), "{e}");

    let e = Script::from_file("/nonexistent/script-fr.toml").unwrap_err();
    assert!(matches!(e, ScriptError::Read { .. }));
    assert!(e.to_string().contains("script-fr.toml"));
}
