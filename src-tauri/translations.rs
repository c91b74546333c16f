//! The tray and window titles speak the user's language from the same
//! translation files as the UI (`ui/src/i18n`), so there is one place to
//! translate.

use callcard_core::settings::Language;
use serde_json::Value;
use std::sync::OnceLock;

fn catalog(language: Language) -> &'static Value {
    static EN: OnceLock<Value> = OnceLock::new();
    static FR: OnceLock<Value> = OnceLock::new();
    static DE: OnceLock<Value> = OnceLock::new();
    let (cell, text) = match language {
        Language::En => (&EN, include_str!("../ui/src/i18n/en.json")),
        Language::Fr => (&FR, include_str!("../ui/src/i18n/fr.json")),
        Language::De => (&DE, include_str!("../ui/src/i18n/de.json")),
    };
    // The files are part of the build and checked by a test; a broken one
    // degrades to showing keys rather than stopping the app.
    cell.get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null))
}

fn lookup<'a>(catalog: &'a Value, key: &str) -> Option<&'a str> {
    key.split('.')
        .try_fold(catalog, |node, part| node.get(part))?
        .as_str()
}

/// The text for `key` (e.g. `tray.quit`), in English when missing, else the key itself.
pub fn text(language: Language, key: &str) -> String {
    lookup(catalog(language), key)
        .or_else(|| lookup(catalog(Language::En), key))
        .unwrap_or(key)
        .to_owned()
}

/// What the tray says about a trouble, in `language`, naming its CRM.
pub fn trouble(language: Language, trouble: &callcard_core::Trouble) -> String {
    let reason = text(language, trouble.key());
    match trouble.crm() {
        Some(id) => {
            let name = callcard_engine::crms::descriptors()
                .into_iter()
                .find(|crm| crm.id == id)
                .map_or(id, |crm| crm.name);
            reason.replace("{crm}", name)
        }
        None => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_tray_and_window_text() {
        for language in [Language::En, Language::Fr, Language::De] {
            for key in [
                "tray.status_running",
                "tray.status_paused",
                "tray.status_catching_up",
                "catch_up.days",
                "catch_up.hours",
                "catch_up.minutes",
                "tray.settings",
                "tray.history",
                "tray.pause",
                "tray.quit",
                "windows.settings",
                "windows.history",
                "windows.check",
                "windows.dial",
                "tray.check",
                "trouble.unreadable_settings",
                "trouble.failed_logs",
                "trouble.crm_needs_sign_in",
                "trouble.crm_unreachable",
                "trouble.hub_lost",
                "trouble.hub_refused",
            ] {
                assert!(
                    lookup(catalog(language), key).is_some(),
                    "{language:?} lacks {key}"
                );
            }
        }
    }

    #[test]
    fn texts_follow_the_language() {
        assert_eq!(text(Language::En, "tray.quit"), "Quit Callcard");
        assert_eq!(text(Language::Fr, "tray.quit"), "Quitter Callcard");
        assert_eq!(text(Language::De, "tray.quit"), "Callcard beenden");
    }

    #[test]
    fn unknown_keys_show_the_key() {
        assert_eq!(text(Language::Fr, "tray.nope"), "tray.nope");
    }
}
