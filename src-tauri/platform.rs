//! Platform quirks, in one place, as small pure functions with tests.

/// WebKitGTK renders blank windows (or aborts) on machines without a GPU
/// render node — virtual machines, Xvfb, some remote desktops — unless its
/// DMA-BUF renderer and compositing mode are off. Returns the variables to set;
/// the user's own choices always win.
pub fn webkit_env_overrides(
    has_render_node: bool,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(&'static str, &'static str)> {
    if has_render_node {
        return Vec::new();
    }
    [
        "WEBKIT_DISABLE_DMABUF_RENDERER",
        "WEBKIT_DISABLE_COMPOSITING_MODE",
    ]
    .into_iter()
    .filter(|name| !is_set(name))
    .map(|name| (name, "1"))
    .collect()
}

/// Applies [`webkit_env_overrides`] to this process. Call before any thread
/// starts reading the environment (i.e. first thing in `main`).
pub fn prepare_webkit_environment() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let has_render_node = std::fs::read_dir("/dev/dri")
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        })
        .unwrap_or(false);
    for (name, value) in webkit_env_overrides(has_render_node, |name| std::env::var_os(name).is_some()) {
        tracing::info!(name, "no GPU render node: WebKit uses software rendering");
        std::env::set_var(name, value);
    }
}

/// The desktop entry that makes Callcard the handler of `tel:` and
/// `callto:` links. `%u` hands the link over; the path is quoted only when it
/// must be, since `xdg-open` trips on a quoted `Exec` (`gio open` does not).
pub fn phone_link_desktop_entry(exec: &std::path::Path) -> String {
    let exec = exec.display().to_string();
    let exec = if exec.contains(char::is_whitespace) {
        format!("\"{exec}\"")
    } else {
        exec
    };
    format!(
        "[Desktop Entry]\nType=Application\nName=Callcard\nComment=Call phone links with Aircall\n\
         Exec={exec} %u\nIcon=callcard\nTerminal=false\nNoDisplay=true\n\
         MimeType=x-scheme-handler/tel;x-scheme-handler/callto;\nCategories=Office;Telephony;\n"
    )
}

pub const PHONE_LINK_ENTRY: &str = "callcard-phone-links.desktop";
const PHONE_SCHEMES: [&str; 2] = ["x-scheme-handler/tel", "x-scheme-handler/callto"];

/// `$XDG_DATA_HOME/applications`, else `~/.local/share/applications`.
fn applications_dir() -> Option<std::path::PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/share")))?;
    Some(data.join("applications"))
}

/// Makes this program the handler of phone links (opt-in: it replaces the
/// user's current handler), or removes it. Linux only; elsewhere a no-op.
pub fn set_phone_link_handler(enabled: bool) -> std::io::Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let dir =
        applications_dir().ok_or_else(|| std::io::Error::other("no HOME to register the handler in"))?;
    let entry = dir.join(PHONE_LINK_ENTRY);
    if enabled {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&entry, phone_link_desktop_entry(&std::env::current_exe()?))?;
        for scheme in PHONE_SCHEMES {
            let status = std::process::Command::new("xdg-mime")
                .args(["default", PHONE_LINK_ENTRY, scheme])
                .status()?;
            if !status.success() {
                return Err(std::io::Error::other(format!(
                    "xdg-mime could not make Callcard open {scheme}"
                )));
            }
        }
        // Optional: refreshes the cache some desktops read.
        let _ = std::process::Command::new("update-desktop-database")
            .arg(&dir)
            .status();
        tracing::info!(entry = %entry.display(), "Callcard now opens tel: and callto: links");
    } else if entry.exists() {
        std::fs::remove_file(&entry)?;
        let _ = std::process::Command::new("update-desktop-database")
            .arg(&dir)
            .status();
        tracing::info!("Callcard no longer opens phone links");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phone_link_entry_hands_over_the_link_and_claims_both_schemes() {
        let entry = phone_link_desktop_entry(std::path::Path::new("/opt/callcard/callcard"));
        assert!(entry.contains("Exec=/opt/callcard/callcard %u\n"), "{entry}");
        assert!(entry.contains("MimeType=x-scheme-handler/tel;x-scheme-handler/callto;"));
        let spaced = phone_link_desktop_entry(std::path::Path::new("/home/a b/callcard"));
        assert!(spaced.contains("Exec=\"/home/a b/callcard\" %u"), "{spaced}");
    }

    #[test]
    fn with_a_gpu_webkit_is_left_alone() {
        assert!(webkit_env_overrides(true, |_| false).is_empty());
    }

    #[test]
    fn without_a_gpu_webkit_renders_in_software() {
        let vars = webkit_env_overrides(false, |_| false);
        assert_eq!(
            vars,
            [
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            ]
        );
    }

    #[test]
    fn the_users_own_choice_wins() {
        let vars = webkit_env_overrides(false, |name| name == "WEBKIT_DISABLE_COMPOSITING_MODE");
        assert_eq!(vars, [("WEBKIT_DISABLE_DMABUF_RENDERER", "1")]);
    }
}
