fn main() {
    // Our own commands get permissions (`allow-get-settings`, …) so that each
    // window's capability in tauri.conf.json grants only what that window needs.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "get_settings",
        "save_settings",
        "get_card",
        "choose_record",
        "open_record",
        "get_history",
        "retry_log",
        "open_log",
        "get_setup",
        "connect_aircall",
        "connect_crm",
        "finish_setup",
        "call_back",
        "import_contacts",
        "get_imports",
    ]);
    if let Err(error) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build failed (is ui/dist built? run scripts/run or `npm --prefix ui run build`): {error:#}");
    }
}
