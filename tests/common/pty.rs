//! The interactive shell in a real pseudo-terminal (rexpect), the way a
//! person types into it.

use std::path::Path;
use std::process::Command;

use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};

/// Generous: debug builds of DataFusion are slow to start.
pub const TIMEOUT_MS: u64 = 60_000;

/// Starts wasql in a pty with no arguments; see [`start_shell_with`].
pub fn start_shell(home: &Path) -> PtySession {
    start_shell_with(home, &[])
}

/// Starts wasql with `args` in a pty and waits for the shell's first prompt.
pub fn start_shell_with(home: &Path, args: &[&str]) -> PtySession {
    let mut shell = spawn_shell(home, args);
    shell.exp_string("type \\? for help").expect("banner");
    shell.exp_string("wasql> ").expect("first prompt");
    shell
}

/// Starts wasql with `args` in a pty, with `home` as its home and working
/// directory.
pub fn spawn_shell(home: &Path, args: &[&str]) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasql"));
    command
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TERM", "xterm");
    let options = Options::new()
        .timeout_ms(Some(TIMEOUT_MS))
        .strip_ansi_escape_codes(true);
    spawn_with_options(command, options).expect("start wasql in a pty")
}

/// Sends a line and waits until `marker` is printed; returns what came
/// before it. (The prompt itself is no marker: rustyline redraws it as the
/// line is typed.)
pub fn run(shell: &mut PtySession, line: &str, marker: &str) -> String {
    shell.send_line(line).expect("send");
    let out = shell
        .exp_string(marker)
        .unwrap_or_else(|e| panic!("waiting for {marker:?} after {line:?}: {e}"));
    assert!(!out.contains("panicked"), "{out}");
    // Type the next line only at the next prompt: a terminal may drop
    // type-ahead when the line editor switches modes.
    shell.exp_string("wasql> ").expect("prompt after command");
    out
}

/// Ends the session with `exit` (`"\\q"` typed, or `'d'` for Ctrl-D) and
/// waits for wasql to exit.
pub fn quit(mut shell: PtySession, exit: Quit) {
    match exit {
        Quit::Command => {
            shell.send_line("\\q").expect("send \\q");
        }
        Quit::CtrlD => shell.send_control('d').expect("send Ctrl-D"),
    }
    shell.exp_eof().expect("wasql exits");
}

/// How [`quit`] ends a shell session.
pub enum Quit {
    /// Types `\q`.
    Command,
    /// Sends Ctrl-D.
    CtrlD,
}
