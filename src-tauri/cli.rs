//! The command line. Kept by hand (a handful of flags) so that a second
//! launch, which the single-instance plugin forwards verbatim, is parsed by
//! the same function as the first.

use crate::windows::WindowKind;

/// The help text; the CRMs are the engine's (one registry, no list here).
pub fn usage() -> String {
    let crms = callcard_engine::crms::descriptors();
    let names: Vec<&str> = crms.iter().map(|crm| crm.name).collect();
    let ids: Vec<&str> = crms.iter().map(|crm| crm.id).collect();
    USAGE
        .replace("{names}", &names.join(" and "))
        .replace("{ids}", &ids.join(", "))
}

const USAGE: &str = "\
Usage: callcard [OPTIONS] [LINK]

Shows the caller's CRM card when an Aircall call rings, and logs calls to
{names}. Without options it starts in the system tray.

Options:
  --headless, serve    run the service without tray or windows (stop with SIGTERM or Ctrl+C)
  --open WINDOW        open a window at start: settings or history
  --events FILE        append one JSON line per call event to FILE
  --connect CRM        sign in to a CRM ({ids}) in the browser, keep the
                       tokens in the keychain
  --demo, --no-demo    with no account connected, run (or not) the built-in demo;
                       the tray app runs it by default, --headless does not
  -V, --version        print the version
  -h, --help           print this help

Environment:
  CALLCARD_HOME        keep configuration, data and logs under this folder
  CALLCARD_LOG         log filter, e.g. debug or callcard_core=trace (default: info)
";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    pub headless: bool,
    pub open: Vec<WindowKind>,
    /// `tel:`/`callto:` links handed over by the desktop.
    pub links: Vec<String>,
    pub help: bool,
    pub version: bool,
    pub events: Option<std::path::PathBuf>,
    /// `--demo` / `--no-demo`; unset: the tray app runs the demo, headless does not.
    pub demo: Option<bool>,
    pub connect: Option<String>,
}

impl Args {
    pub fn wants_demo(&self) -> bool {
        self.demo.unwrap_or(!self.headless)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("unknown option {0:?}")]
    UnknownOption(String),
    #[error("--open needs a window name: settings or history")]
    MissingWindow,
    #[error("unknown window {0:?}: use settings or history")]
    UnknownWindow(String),
    #[error("--events needs a file name")]
    MissingEventsFile,
    #[error("--connect needs a CRM's id (see --help)")]
    MissingCrm,
}

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse<I, S>(args: I) -> Result<Self, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut parsed = Args::default();
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--headless" | "serve" => parsed.headless = true,
                "-h" | "--help" => parsed.help = true,
                "-V" | "--version" => parsed.version = true,
                "--open" => {
                    let name = args.next().ok_or(ArgsError::MissingWindow)?;
                    parsed.open.push(window(&name)?);
                }
                other if other.starts_with("--open=") => parsed.open.push(window(&other[7..])?),
                "--events" => parsed.events = Some(args.next().ok_or(ArgsError::MissingEventsFile)?.into()),
                "--demo" => parsed.demo = Some(true),
                "--no-demo" => parsed.demo = Some(false),
                "--connect" => match args.next().as_deref() {
                    // Which CRMs exist is the engine's to say (an unknown one is named there).
                    Some(crm) if !crm.starts_with('-') => parsed.connect = Some(crm.to_owned()),
                    _ => return Err(ArgsError::MissingCrm),
                },
                other if other.starts_with('-') => return Err(ArgsError::UnknownOption(other.to_owned())),
                // Anything else is a link from the desktop (the .desktop file passes %u).
                _ => parsed.links.push(arg),
            }
        }
        Ok(parsed)
    }
}

fn window(name: &str) -> Result<WindowKind, ArgsError> {
    WindowKind::from_name(name).ok_or_else(|| ArgsError::UnknownWindow(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_arguments_means_the_tray_app() {
        assert_eq!(Args::parse(Vec::<String>::new()).unwrap(), Args::default());
    }

    #[test]
    fn headless_has_two_spellings() {
        assert!(Args::parse(["--headless"]).unwrap().headless);
        assert!(Args::parse(["serve"]).unwrap().headless);
    }

    #[test]
    fn open_takes_a_window_name_in_either_form() {
        let args = Args::parse(["--open", "settings", "--open=history"]).unwrap();
        assert_eq!(args.open, [WindowKind::Settings, WindowKind::History]);
    }

    #[test]
    fn bad_arguments_are_named_in_the_error() {
        assert_eq!(
            Args::parse(["--nope"]),
            Err(ArgsError::UnknownOption("--nope".into()))
        );
        assert_eq!(Args::parse(["--open"]), Err(ArgsError::MissingWindow));
        assert_eq!(
            Args::parse(["--open", "card"]),
            Err(ArgsError::UnknownWindow("card".into()))
        );
    }

    #[test]
    fn links_are_kept_verbatim() {
        let args = Args::parse(["tel:+33%201%2023"]).unwrap();
        assert_eq!(args.links, ["tel:+33%201%2023"]);
    }

    #[test]
    fn connect_takes_a_crm_id_and_the_help_names_the_engines_crms() {
        assert_eq!(
            Args::parse(["--connect", "acme"]).unwrap().connect.as_deref(),
            Some("acme")
        );
        assert_eq!(Args::parse(["--connect"]), Err(ArgsError::MissingCrm));
        assert_eq!(
            Args::parse(["--connect", "--headless"]),
            Err(ArgsError::MissingCrm)
        );
        let help = usage();
        for crm in callcard_engine::crms::descriptors() {
            assert!(help.contains(crm.id) && help.contains(crm.name), "{help}");
        }
        assert!(!help.contains('{'), "{help}");
    }
}
