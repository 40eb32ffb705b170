//! Human tables and JSON.

use serde::Serialize;

use crate::error::{CliError, exit};

/// Prints `rows` under `headers` as a table with aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    print!("{}", render_table(headers, rows));
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
                let pad = widths.get(i).copied().unwrap_or(0)
                    - cell
                        .chars()
                        .count()
                        .min(widths.get(i).copied().unwrap_or(0));
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
/// A failure when the value cannot be serialised.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(exit::FAILURE, format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
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
