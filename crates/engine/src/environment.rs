//! Where the engine reads its `CALLCARD_*` configuration: the process
//! environment in the app, a fixed list in tests and in the demo (whose
//! sandbox hands out its own URLs and clients), so that no test has to
//! change the environment of the process it runs in.

use std::sync::Arc;

/// Reads one variable.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

#[derive(Clone)]
pub struct Environment(Arc<Lookup>);

impl Environment {
    /// The process environment.
    pub fn process() -> Self {
        Self(Arc::new(|key| std::env::var(key).ok()))
    }

    /// Exactly these variables and no others.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let pairs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self(Arc::new(move |key| {
            pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        }))
    }

    /// A variable's value; an empty or blank value counts as unset.
    pub fn var(&self, key: &str) -> Option<String> {
        (self.0)(key).filter(|v| !v.trim().is_empty())
    }

    /// For the functions that take a lookup.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |key| self.var(key)
    }
}

impl Default for Environment {
    fn default() -> Self {
        Self::process()
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets (an Aircall token handed over by a server).
        f.write_str("Environment(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_are_unset_and_nothing_else_is_read() {
        let env = Environment::from_pairs([("A", "1"), ("B", "  ")]);
        assert_eq!(env.var("A").as_deref(), Some("1"));
        assert_eq!(env.var("B"), None);
        assert_eq!(env.var("PATH"), None);
    }
}
