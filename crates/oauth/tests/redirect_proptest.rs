//! Property tests (#17) of the sign-in redirect's reading: whatever a page
//! on this computer sends to the loopback listener, it is a typed answer,
//! and a code is taken only with this sign-in's state. 10,000 cases.

use callcard_oauth::{read_answer, RedirectAnswer as Answer};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0000_a074),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Query text: our parameters and others, percent escapes, odd characters.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("code".to_owned()),
        Just("state".to_owned()),
        Just("error".to_owned()),
        Just("error_description".to_owned()),
        "[a-z%0-9]{0,6}"
    ];
    let value = prop_oneof![
        "[A-Za-z0-9%+=&#?/._~-]{0,24}",
        "\\PC{0,12}",
        Just("expected-state".to_owned())
    ];
    prop::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_redirect_is_a_typed_answer_and_a_code_needs_this_sign_ins_state(
        path in prop_oneof![Just("/callback".to_owned()), Just("/favicon.ico".to_owned()), Just("//callback".to_owned()), "\\PC{0,16}"],
        query in query(),
        fragment in prop::option::of("\\PC{0,8}"),
    ) {
        let target = match &fragment {
            Some(f) => format!("{path}?{query}#{f}"),
            None => format!("{path}?{query}"),
        };
        if let Answer::Code(code) = read_answer(&target, "expected-state") {
            prop_assert!(!code.is_empty());
            let url = url::Url::parse(&format!("http://127.0.0.1{target}")).unwrap();
            let state = url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned());
            prop_assert_eq!(state.as_deref(), Some("expected-state"));
        }
        let _ = read_answer(&format!("{path}{query}"), "");
    }
}

#[test]
fn the_code_comes_only_with_the_state_and_a_refusal_says_why() {
    assert_eq!(
        read_answer("/callback?code=abc&state=s1", "s1"),
        Answer::Code("abc".into())
    );
    assert_eq!(
        read_answer("/callback?code=abc&state=s2", "s1"),
        Answer::StateMismatch
    );
    assert_eq!(read_answer("/favicon.ico", "s1"), Answer::Elsewhere);
    assert_eq!(
        read_answer(
            "/callback?state=s1&error=access_denied&error_description=No%20thanks",
            "s1"
        ),
        Answer::Denied("No thanks".into())
    );
    assert_eq!(read_answer("/callback?state=s1&code=", "s1"), Answer::NoCode);
}
