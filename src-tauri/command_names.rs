// Every command's name, read by build.rs (a permission each) and by
// commands.rs (`NAMES`): one list for both.
&[
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
    "save_crm_client",
    "get_accounts",
    "disconnect_account",
    "finish_setup",
    "call_back",
    "import_contacts",
    "get_imports",
]
