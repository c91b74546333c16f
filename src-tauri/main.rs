// Release builds on Windows would otherwise open a console next to the tray.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    callcard_app::main()
}
