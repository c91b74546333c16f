//! Against a real Secret Service (gnome-keyring inside `dbus-run-session`,
//! started by `scripts/test`). These fail, rather than skip, without one: the
//! keychain is the only place secrets may live, so it must be tested for real.

use callcard_secrets::{Keychain, SecretKey};

fn test_keychain(name: &str) -> Keychain {
    // A service of the test's own, so a developer's real credentials are never touched.
    Keychain::with_service(format!("callcard-test-{name}-{}", std::process::id()))
}

#[test]
fn a_secret_round_trips_through_the_real_keychain_and_is_deleted() {
    let keychain = test_keychain("roundtrip");
    let key = SecretKey::new("jobadder", "refresh_token:acme");
    keychain
        .set(&key, "rt-1")
        .expect("a Secret Service must be running (scripts/test starts gnome-keyring)");
    assert_eq!(keychain.get(&key).unwrap().as_deref(), Some("rt-1"));

    // Refresh tokens rotate: storing again replaces, never duplicates.
    keychain.set(&key, "rt-2 with spaces and ünïcode").unwrap();
    assert_eq!(
        keychain.get(&key).unwrap().as_deref(),
        Some("rt-2 with spaces and ünïcode")
    );

    keychain.delete(&key).unwrap();
    assert_eq!(keychain.get(&key).unwrap(), None);
    keychain.delete(&key).expect("deleting twice is fine");
}

#[test]
fn secrets_under_different_keys_and_services_stay_apart() {
    let a = test_keychain("apart-a");
    let b = test_keychain("apart-b");
    let aircall = SecretKey::new("aircall", "api_token");
    let sellsy = SecretKey::new("sellsy", "refresh_token:42");
    a.set(&aircall, "token-a").unwrap();
    a.set(&sellsy, "token-s").unwrap();
    assert_eq!(b.get(&aircall).unwrap(), None);
    assert_eq!(a.get(&aircall).unwrap().as_deref(), Some("token-a"));
    assert_eq!(a.get(&sellsy).unwrap().as_deref(), Some("token-s"));
    a.delete(&aircall).unwrap();
    a.delete(&sellsy).unwrap();
}

#[test]
fn the_probe_succeeds_when_a_keychain_answers() {
    test_keychain("probe").probe().unwrap();
}
