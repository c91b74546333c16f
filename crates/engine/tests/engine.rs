//! The engine from the outside: started as a shell starts it.

use callcard_core::Paths;
use callcard_engine::{Engine, EngineError, EngineOptions, LockError};

#[tokio::test]
async fn two_engines_never_share_a_data_folder() {
    let home = tempfile::tempdir().unwrap();
    let paths = Paths::under(home.path());
    let first = Engine::start(&paths, EngineOptions::default()).unwrap();
    let second = Engine::start(&paths, EngineOptions::default());
    assert!(
        matches!(second, Err(EngineError::Locked(LockError::InUse(_)))),
        "a second engine on the same folder must be refused"
    );
    first.shutdown().await;
    drop(first);
    let again = Engine::start(&paths, EngineOptions::default()).unwrap();
    again.shutdown().await;
}
