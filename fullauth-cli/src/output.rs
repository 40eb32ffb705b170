//! Human tables and JSON, written so that a closed pipe never panics.
//!
//! Every line the command prints goes through [`write_out`] (standard
//! output) or [`write_err`] (standard error). When the reader of standard
//! output goes away (`fullauth status | head -1`), the rest of the output is
//! dropped quietly and the command finishes with its own exit code; a
//! standard error that cannot be written is ignored.

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::error::{CliError, exit};

/// Set once standard output's reader has gone away: later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output and flushes it.
///
/// # Errors
/// A failure (exit code 1) when standard output cannot be written for a
/// reason other than a closed pipe (a full disk, ...). A closed pipe is not
/// an error: this and every later write does nothing.
pub fn write_out(text: &str) -> Result<(), CliError> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(CliError::new(
            exit::FAILURE,
            format!("cannot write to standard output: {e}"),
        )),
    }
}

/// Writes `text` and a newline to standard error, ignoring any failure (there
/// is nowhere left to report it).
pub fn write_err(text: impl fmt::Display) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}").and_then(|()| err.flush());
}

/// `println!` through [`write_out`]: evaluates to `Result<(), CliError>`.
macro_rules! outln {
    () => {
        $crate::output::write_out("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Prints `rows` under `headers` as a table with aligned columns.
///
/// # Errors
/// As [`write_out`].
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
    write_out(&render_table(headers, rows))
}

/// The table [`table`] prints.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let last = i + 1 == cells.len();
            out.push_str(cell);
            if !last {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = width - cell.chars().count().min(width);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Prints `value` as pretty JSON.
///
/// # Errors
/// A failure when the value cannot be serialised; as [`write_out`].
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(exit::FAILURE, format!("cannot write JSON: {e}")))?;
    write_out(&format!("{text}\n"))
}

/// `yes` / `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned() {
        let out = render_table(
            &["ID", "EMAIL"],
            &[
                vec!["1".into(), "ada@example.com".into()],
                vec!["12345".into(), "é@example.com".into()],
            ],
        );
        assert_eq!(
            out,
            "ID     EMAIL\n1      ada@example.com\n12345  é@example.com\n"
        );
    }
}
