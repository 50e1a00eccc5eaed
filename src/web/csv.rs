//! The CSV files Inward writes (exports of inventory, numbers and the audit log; rejected upload
//! rows) and their cells. A
//! spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or CR before one)
//! as a formula, so a tenant name or an uploaded field such as `=HYPERLINK(…)` could act on
//! whoever opens the file. Such cells get a leading `'`, as OWASP recommends; a cell of only
//! digits, signs, spaces, dots and parentheses (`+1 512 555 0100`, `-5`) can neither call a
//! function nor reach another cell, and stays as it is, so exports re-import unchanged.

use std::borrow::Cow;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The cell as it is safe to write.
pub fn safe(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let numeric = cell
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '.' | '(' | ')'));
    if risky && !numeric {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Writes one record with every cell made safe.
pub fn write<const N: usize>(
    out: &mut csv::Writer<Vec<u8>>,
    cells: [&str; N],
) -> Result<(), csv::Error> {
    out.write_record(cells.iter().map(|c| safe(c).into_owned()))
}

/// A CSV file as a download named `filename`.
pub fn download(filename: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for risky in [
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+cmd|' /C calc'!A0",
            "-A1*2",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(safe(risky), format!("'{risky}"), "{risky:?}");
        }
        for kept in [
            "+15125550100",
            "+1 (512) 555-0100",
            "-5",
            "1",
            "Acme Telecom",
            "",
            "TRUE",
        ] {
            assert_eq!(safe(kept), kept, "{kept:?}");
        }
    }
}
