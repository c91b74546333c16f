//! Without any Secret Service, storing a secret fails with a clear error and
//! nothing is written anywhere else. (Its own test binary, because it changes
//! the process environment.)

use callcard_secrets::{Keychain, SecretError, SecretKey};

#[test]
fn without_a_session_bus_storing_fails_clearly_and_nothing_falls_back() {
    let empty = std::env::temp_dir().join(format!("callcard-no-bus-{}", std::process::id()));
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", empty.display()),
    );
    let keychain = Keychain::with_service("callcard-test-no-bus");
    let key = SecretKey::new("aircall", "api_token");

    let err = keychain
        .set(&key, "s3cret")
        .expect_err("there is no keychain to store into");
    assert!(matches!(err, SecretError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("no keychain is reachable"), "{err}");
    assert!(
        !err.to_string().contains("s3cret"),
        "errors never carry the secret"
    );
    assert!(matches!(keychain.get(&key), Err(SecretError::Unavailable { .. })));
}
