fn main() {
    // Our own commands get permissions (`allow-get-settings`, …) so that each
    // window's capability in tauri.conf.json grants only what that window needs.
    let manifest = tauri_build::AppManifest::new().commands(include!("command_names.rs"));
    if let Err(error) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build failed (is ui/dist built? run scripts/run or `npm --prefix ui run build`): {error:#}");
    }
}
