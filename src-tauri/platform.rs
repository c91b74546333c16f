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

/// Unquotes the `Exec` of a handler entry the deep-link plugin wrote
/// (`"…/callcard" %u`) when the path has no space: `xdg-open`, which many
/// browsers and mail clients use, cannot run a quoted `Exec` (`gio open` can).
/// Returns the entry unchanged otherwise.
pub fn unquote_handler_exec(entry: &str) -> String {
    entry
        .lines()
        .map(|line| {
            match line
                .strip_prefix("Exec=\"")
                .and_then(|rest| rest.split_once("\" "))
            {
                Some((path, tail)) if !path.contains(char::is_whitespace) && !path.contains('"') => {
                    format!("Exec={path} {tail}")
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_entry_runs_an_unquoted_path_so_xdg_open_can_use_it() {
        let written = "[Desktop Entry]\nType=Application\nExec=\"/usr/bin/callcard\" %u\nMimeType=x-scheme-handler/tel;\n";
        let fixed = unquote_handler_exec(written);
        assert!(fixed.contains("\nExec=/usr/bin/callcard %u\n"), "{fixed}");
        assert!(fixed.contains("MimeType=x-scheme-handler/tel;"));
        let spaced = "Exec=\"/opt/my apps/callcard\" %u";
        assert!(
            unquote_handler_exec(spaced).starts_with(spaced),
            "a path with spaces stays quoted"
        );
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
