//! Streaming CSV → COPY. The request body is read chunk by chunk, framed into CSV records on
//! a blocking thread, and re-emitted as PostgreSQL COPY text rows into the staging table.
//! Framing (column count, UTF-8) and the phone number's own validity are decided here, where
//! they cost nothing next to the parse; every rule that needs the database (tenants, carriers,
//! rate centers, the inventory, duplicates) is a set-based SQL statement in `upload/validate.rs`.
//! Memory stays bounded by the two small channels between the stages.
//!
//! One file over 500 lines because the reader, the line index and the row judge share one
//! thread's state and are only correct together; a quarter of it is their unit tests.

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::rc::Rc;

use bytes::Bytes;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The columns a file may carry, by header name; others (such as `Error` in a rejected-rows
/// file, or the informational columns of an export) are ignored.
const REQUIRED: [&str; 5] = ["country code", "phone number", "voice", "sms", "fax"];
const OPTIONAL: [&str; 5] = [
    "voice carrier name",
    "sms carrier profile",
    "tenant",
    "mms",
    "e911",
];
pub const HEADER: [&str; 10] = [
    "Country Code",
    "Phone Number",
    "Voice",
    "SMS",
    "Fax",
    "Voice Carrier Name",
    "SMS Carrier Profile",
    "Tenant",
    "MMS",
    "E911",
];
const COPY_BUFFER: usize = 512 * 1024;

pub const COPY_SQL: &str = "COPY inventory_upload_rows (upload_id, line_no, field_count, country_code, phone, voice, sms, fax,
     voice_carrier, sms_carrier, tenant, mms, e911, e164, country, reason, message) FROM STDIN";

/// Where the bytes come from: a multipart field, a file (the benchmark), a test.
pub trait ChunkSource {
    fn next_chunk(&mut self) -> impl Future<Output = AppResult<Option<Bytes>>> + Send;
}

impl ChunkSource for axum::extract::multipart::Field<'_> {
    async fn next_chunk(&mut self) -> AppResult<Option<Bytes>> {
        self.chunk().await.map_err(|e| {
            // A body streamed past `inventory.max_upload_mib` (chunked, so no length up
            // front) is cut off there: too large, not interrupted.
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::Rejected {
                    status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    message: "the file is larger than an upload may be (inventory.max_upload_mib); split it"
                        .into(),
                }
            } else {
                AppError::invalid(
                    "upload_interrupted",
                    format!("the upload was interrupted: {e}"),
                )
            }
        })
    }
}

pub struct Staged {
    pub rows: i64,
    pub bytes: u64,
}

/// Streams `source` into the staging rows of `upload_id` over `conn`.
/// `max_record_bytes` bounds one record (and so the parser's memory): a longer one refuses
/// the file, naming its row.
pub async fn stage(
    conn: &mut sqlx::PgConnection,
    upload_id: Uuid,
    source: &mut impl ChunkSource,
    max_record_bytes: usize,
) -> AppResult<Staged> {
    let (chunk_tx, chunk_rx) = mpsc::channel::<Bytes>(8);
    let (copy_tx, mut copy_rx) = mpsc::channel::<Vec<u8>>(4);
    let parser =
        tokio::task::spawn_blocking(move || parse(chunk_rx, copy_tx, upload_id, max_record_bytes));

    let mut copy = conn.copy_in_raw(COPY_SQL).await?;
    // Two loops at once: request body -> parser thread, parser thread -> COPY.
    let feed = async move {
        let mut bytes = 0u64;
        while let Some(chunk) = source.next_chunk().await? {
            bytes += chunk.len() as u64;
            if chunk_tx.send(chunk).await.is_err() {
                break; // the parser stopped (a bad header): its result says why
            }
        }
        Ok::<u64, AppError>(bytes)
    };
    let pump = async {
        while let Some(buf) = copy_rx.recv().await {
            copy.send(buf).await?;
        }
        Ok::<(), AppError>(())
    };
    let (fed, pumped) = tokio::join!(feed, pump);
    let parsed = parser
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv parser panicked: {e}")))?;
    match (fed, pumped, parsed) {
        (Ok(bytes), Ok(()), Ok(rows)) => {
            copy.finish().await?;
            Ok(Staged { rows, bytes })
        }
        (fed, pumped, parsed) => {
            let _ = copy.abort("the file was refused").await;
            Err(fed
                .err()
                .or(parsed.err())
                .or(pumped.err())
                .unwrap_or_else(|| AppError::Internal(anyhow::anyhow!("the upload stopped"))))
        }
    }
}

/// The request body as a `Read` for the CSV reader, refusing to hand out more than
/// `max_record` bytes (plus the reader's own buffer) past the start of the record being read:
/// the CSV reader holds a whole record in memory, so one endless line would otherwise grow it
/// without bound.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
    delivered: u64,
    record_start: Rc<Cell<u64>>,
    max_record: u64,
    lines: Rc<RefCell<LineIndex>>,
}

/// Where the file's lines start, for the row numbers a spreadsheet shows: LF, CRLF and CR
/// alone all end a line, and a blank line is a row too (the CSV reader skips it and does not
/// count it). Only the starts not yet passed are kept: as many as the reader reads ahead.
#[derive(Default)]
struct LineIndex {
    starts: std::collections::VecDeque<u64>,
    passed: i64,
    /// The byte before the chunk at hand was a CR (a CRLF may be split between chunks).
    after_cr: bool,
}

impl LineIndex {
    fn scan(&mut self, chunk: &[u8], offset: u64) {
        for (i, &b) in chunk.iter().enumerate() {
            let at = offset + i as u64;
            match b {
                b'\n' if self.after_cr => {
                    // The CR already ended this line; the LF only moves its start.
                    if let Some(last) = self.starts.back_mut() {
                        *last = at + 1;
                    }
                }
                b'\n' | b'\r' => self.starts.push_back(at + 1),
                _ => {}
            }
            self.after_cr = b == b'\r';
        }
    }

    /// The line (from 1) that starts at or before `byte` and holds it.
    fn line_of(&mut self, byte: u64) -> i64 {
        while self.starts.front().is_some_and(|&s| s <= byte) {
            self.starts.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// The error the reader gives when a record outgrows the limit; `parse` recognises it.
#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record too long")
    }
}

impl std::error::Error for RecordTooLong {}

/// What the CSV reader buffers ahead of the record it parses.
const READ_AHEAD: u64 = 64 * 1024;

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(next) => self.current = next,
                None => return Ok(0),
            }
        }
        let start = self.record_start.get();
        if self.delivered.saturating_sub(start) > self.max_record + READ_AHEAD {
            return Err(std::io::Error::other(RecordTooLong));
        }
        let n = buf.len().min(self.current.len());
        self.lines
            .borrow_mut()
            .scan(&self.current[..n], self.delivered);
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        self.delivered += n as u64;
        Ok(n)
    }
}

/// Line breaks in a field: LF, CRLF and CR alone each count once.
fn line_breaks(field: &[u8]) -> i64 {
    let lf = field.iter().filter(|&&b| b == b'\n').count();
    let lone_cr = field
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && field.get(i + 1) != Some(&b'\n'))
        .count();
    (lf + lone_cr) as i64
}

/// A refusal of the whole file that names the row a spreadsheet shows.
fn refuse(code: &'static str, message: String, row: i64) -> AppError {
    AppError::Invalid {
        code,
        message,
        details: serde_json::json!({ "line": row }),
    }
}

#[derive(Default)]
struct Columns {
    index: [Option<usize>; 10],
    count: usize,
}

fn normalize(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn header(record: &csv::ByteRecord) -> AppResult<Columns> {
    // UTF-16 (what some spreadsheets call "Unicode text") puts a NUL beside every ASCII
    // character, with or without a byte-order mark.
    let first = record.get(0).unwrap_or_default();
    if first.starts_with(&[0xFF, 0xFE])
        || first.starts_with(&[0xFE, 0xFF])
        || record.iter().any(|f| f.contains(&0))
    {
        return Err(AppError::invalid(
            "not_utf8",
            "the file is UTF-16 (\"Unicode text\"); save it as \"CSV UTF-8\" and upload again",
        ));
    }
    let names: Vec<String> = record.iter().map(normalize).collect();
    let mut columns = Columns {
        count: names.len(),
        ..Default::default()
    };
    for (slot, wanted) in REQUIRED.iter().chain(OPTIONAL.iter()).enumerate() {
        columns.index[slot] = names.iter().position(|n| n == wanted);
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .enumerate()
        .filter(|(i, _)| columns.index[*i].is_none())
        .map(|(i, _)| HEADER[i])
        .collect();
    if !missing.is_empty() {
        return Err(AppError::Invalid {
            code: "not_an_inventory_csv",
            message: format!(
                "this is not an inventory CSV: the first line must be the header ({}), missing {}",
                HEADER.join(", "),
                missing.join(", ")
            ),
            details: serde_json::json!({ "missing_columns": missing }),
        });
    }
    Ok(columns)
}

fn parse(
    rx: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Vec<u8>>,
    upload_id: Uuid,
    max_record_bytes: usize,
) -> AppResult<i64> {
    // The reader and the loop below run on one thread (the parser's).
    let record_start = Rc::new(Cell::new(0));
    let lines = Rc::new(RefCell::new(LineIndex::default()));
    let reader = ChannelReader {
        rx,
        current: Bytes::new(),
        delivered: 0,
        record_start: record_start.clone(),
        max_record: max_record_bytes as u64,
        lines: lines.clone(),
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let mut columns: Option<Columns> = None;
    let mut buf = Vec::with_capacity(COPY_BUFFER + 4096);
    let id = upload_id.to_string();
    let mut rows = 0i64;
    // The row number a spreadsheet shows (the header is row 1): the line the record starts
    // on, since records never span lines here (a line break in a field refuses the file).
    let mut row_no = 0i64;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let end = csv.position().byte();
                row_no = row_of(&record, &mut lines.borrow_mut(), end);
            }
            Err(err) => return Err(unreadable(&err, row_no, max_record_bytes)),
        }
        record_start.set(csv.position().byte());
        refuse_line_breaks(&record, row_no)?;
        let Some(cols) = &columns else {
            columns = Some(header(&record)?);
            continue;
        };
        let line = row_no;
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        rows += 1;
        let fields = Fields::of(&record, cols);
        let verdict = fields.verdict(record.len(), cols.count);
        copy_row(&mut buf, &id, line, record.len(), &fields, &verdict);
        if buf.len() >= COPY_BUFFER {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(COPY_BUFFER + 4096));
            if out.blocking_send(full).is_err() {
                return Err(AppError::Internal(anyhow::anyhow!("COPY stopped early")));
            }
        }
    }
    if columns.is_none() {
        return Err(AppError::invalid("empty_file", "the file is empty"));
    }
    if rows == 0 {
        return Err(AppError::invalid(
            "empty_file",
            "the file has a header but no rows",
        ));
    }
    if !buf.is_empty() && out.blocking_send(buf).is_err() {
        return Err(AppError::Internal(anyhow::anyhow!("COPY stopped early")));
    }
    Ok(rows)
}

/// No field of this file holds a line break: one inside a field means a quote opened on
/// this row runs on into the rows after it.
fn refuse_line_breaks(record: &csv::ByteRecord, row_no: i64) -> AppResult<()> {
    if record
        .iter()
        .any(|f| f.contains(&b'\n') || f.contains(&b'\r'))
    {
        return Err(refuse(
            "unterminated_quote",
            format!(
                "a quote opened on row {row_no} is not closed on that row, so the rows after it \
                 would be read as part of one field; close the quote (or remove it) and upload again"
            ),
            row_no,
        ));
    }
    Ok(())
}

/// One staging row in COPY text: upload, line, column count, the fields, then the verdict.
fn copy_row(
    buf: &mut Vec<u8>,
    upload_id: &str,
    line: i64,
    columns: usize,
    fields: &Fields,
    verdict: &Verdict,
) {
    buf.extend_from_slice(upload_id.as_bytes());
    buf.push(b'\t');
    buf.extend_from_slice(line.to_string().as_bytes());
    buf.push(b'\t');
    buf.extend_from_slice(columns.to_string().as_bytes());
    for field in &fields.text {
        buf.push(b'\t');
        push_copy(buf, field.as_deref());
    }
    for value in [
        verdict.e164.as_deref(),
        verdict.country.as_deref(),
        verdict.reason,
        verdict.message.as_deref(),
    ] {
        buf.push(b'\t');
        push_copy(buf, value);
    }
    buf.push(b'\n');
}

/// The row number a spreadsheet shows for a record the reader has just read (it now stands
/// at `end`). The record's own position may be that of blank lines the reader skipped before
/// it; its last byte is not, and the line breaks inside its fields lead back to the line it
/// began on.
fn row_of(record: &csv::ByteRecord, lines: &mut LineIndex, end: u64) -> i64 {
    let last_line = lines.line_of(end.saturating_sub(1));
    // A field that runs to the end of the file ends with that last line's break, which is on
    // the last line, not before it.
    let runs_to_end = record
        .iter()
        .next_back()
        .is_some_and(|f| matches!(f.last(), Some(b'\n' | b'\r')));
    last_line - record.iter().map(line_breaks).sum::<i64>() + i64::from(runs_to_end)
}

/// Why the reader stopped after row `row_no`.
fn unreadable(err: &csv::Error, row_no: i64, max_record_bytes: usize) -> AppError {
    let too_long = matches!(err.kind(), csv::ErrorKind::Io(io)
        if io.get_ref().is_some_and(|e| e.is::<RecordTooLong>()));
    if too_long {
        refuse(
            "record_too_long",
            format!(
                "row {} is longer than {} KiB, the limit for one row (inventory.max_record_kib); \
                 if it should be short, a quote opened there is never closed",
                row_no + 1,
                max_record_bytes / 1024
            ),
            row_no + 1,
        )
    } else {
        AppError::invalid(
            "unreadable_csv",
            format!("the file could not be read as CSV: {err}"),
        )
    }
}

/// One row's fields in header order, trimmed, with what makes them unusable as text.
struct Fields {
    text: [Option<String>; 10],
    not_text: bool,
    /// The first column holding a control character.
    control_in: Option<&'static str>,
}

/// What the parser concludes about a row before the database checks it.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    e164: Option<String>,
    country: Option<String>,
    reason: Option<&'static str>,
    message: Option<String>,
}

impl Fields {
    fn of(record: &csv::ByteRecord, cols: &Columns) -> Fields {
        let mut fields = Fields {
            text: Default::default(),
            not_text: false,
            control_in: None,
        };
        for (slot, index) in cols.index.iter().enumerate() {
            let Some(raw) = index.and_then(|i| record.get(i)) else {
                continue;
            };
            let mut text = match std::str::from_utf8(raw) {
                Ok(s) => s.trim().to_string(),
                Err(_) => {
                    fields.not_text = true;
                    String::from_utf8_lossy(raw).trim().to_string()
                }
            };
            // PostgreSQL cannot store NUL, and no field of this file has a use for a control
            // character: the row is refused, naming the column, and the text kept for the
            // rejected-rows file goes without them.
            if text.chars().any(char::is_control) {
                fields.control_in.get_or_insert(HEADER[slot]);
                text.retain(|c| !c.is_control());
            }
            fields.text[slot] = (!text.is_empty()).then_some(text);
        }
        fields
    }

    /// The row's number, or the first reason it is refused.
    fn verdict(&self, columns: usize, header_columns: usize) -> Verdict {
        let refused = |reason, message| Verdict {
            reason: Some(reason),
            message: Some(message),
            ..Default::default()
        };
        if columns != header_columns {
            return refused(
                "wrong_column_count",
                format!("{columns} columns where the header has {header_columns}"),
            );
        }
        if self.not_text {
            return refused("not_text", "the row is not UTF-8 text".into());
        }
        if let Some(column) = self.control_in {
            return refused(
                "control_character",
                format!("the {column} column contains a control character (such as NUL)"),
            );
        }
        match number(self.text[0].as_deref(), self.text[1].as_deref()) {
            Number::Nanp(n) => Verdict {
                e164: Some(n),
                ..Default::default()
            },
            Number::Valid(n, c) => Verdict {
                e164: Some(n),
                country: Some(c),
                ..Default::default()
            },
            Number::Invalid(why) => {
                let reason = if why.starts_with("country") {
                    "invalid_country_code"
                } else {
                    "invalid_number"
                };
                refused(reason, why)
            }
        }
    }
}

/// COPY text format: `\N` for NULL, backslash escapes for the delimiter and line breaks.
fn push_copy(buf: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        buf.extend_from_slice(b"\\N");
        return;
    };
    for b in value.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

enum Number {
    /// Country code 1: `+1` and ten digits. The country (US, CA, a territory) comes from the
    /// rate-center table in SQL.
    Nanp(String),
    /// Another country, parsed with libphonenumber's metadata, which SQL does not have.
    Valid(String, String),
    Invalid(String),
}

fn number(country_code: Option<&str>, phone: Option<&str>) -> Number {
    let Some(cc) = country_code else {
        return Number::Invalid("country code is missing".into());
    };
    let cc = cc.trim_start_matches('+');
    if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
        return Number::Invalid(format!(
            "country code “{cc}” is not a dialing code such as 1 or 44"
        ));
    }
    // Letters get the message of the number rules below (vanity spellings are not numbers).
    if let Some(raw) = phone
        && !raw.trim().is_empty()
        && !raw.bytes().any(|b| b.is_ascii_alphabetic())
        && let Err(why) = crate::domain::e164::check_characters(raw.trim())
    {
        return Number::Invalid(format!("“{raw}”: {why}"));
    }
    if cc == "1" {
        return nanp(phone);
    }
    let Some(phone) = phone else {
        return Number::Invalid("phone number is missing".into());
    };
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || phone.chars().any(|c| c.is_ascii_alphabetic()) {
        return Number::Invalid(format!("“{phone}” is not a phone number"));
    }
    let national = digits.strip_prefix(cc).unwrap_or(&digits);
    let candidate = format!("+{cc}{national}");
    match phonenumber::parse(None, &candidate) {
        Ok(parsed) if parsed.is_valid() => match parsed.country().id() {
            Some(id) => Number::Valid(
                parsed.format().mode(phonenumber::Mode::E164).to_string(),
                id.as_ref().to_string(),
            ),
            None => Number::Invalid(format!("“{phone}” is not a number of a country")),
        },
        _ => Number::Invalid(format!(
            "“{phone}” is not a valid number for country code {cc}"
        )),
    }
}

/// The structural NANP rule of `E164::parse` (ten digits after an optional leading 1, NPA and
/// NXX 2-9, neither an N11 code), on the digits of the field whatever its punctuation.
fn nanp(phone: Option<&str>) -> Number {
    let raw = phone.unwrap_or("");
    let digits: Vec<u8> = raw.bytes().filter(u8::is_ascii_digit).collect();
    let d = match digits.as_slice() {
        [b'1', rest @ ..] if rest.len() == 10 => rest,
        all => all,
    };
    let valid = !raw.bytes().any(|b| b.is_ascii_alphabetic())
        && d.len() == 10
        && (b'2'..=b'9').contains(&d[0])
        && (b'2'..=b'9').contains(&d[3])
        && &d[1..3] != b"11"
        && &d[4..6] != b"11";
    if valid {
        let mut e164 = String::with_capacity(12);
        e164.push_str("+1");
        e164.extend(d.iter().map(|&b| b as char));
        return Number::Nanp(e164);
    }
    let what = match phone {
        Some(p) => format!("“{p}”"),
        None => "an empty phone number".to_string(),
    };
    Number::Invalid(format!(
        "{what} is not a valid North American number (NPA-NXX-XXXX, NPA and NXX 2-9, no N11)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_as_a_spreadsheet_counts_rows() {
        for (text, split) in [
            ("h\na\n\nb\n", 3),
            ("h\r\na\r\n\r\nb\r\n", 4),
            ("h\ra\r\rb\r", 2),
        ] {
            let mut index = LineIndex::default();
            let bytes = text.as_bytes();
            index.scan(&bytes[..split], 0);
            index.scan(&bytes[split..], split as u64);
            let b = text.find('b').unwrap() as u64;
            let a = text.find('a').unwrap() as u64;
            assert_eq!(index.line_of(0), 1, "{text:?}");
            assert_eq!(index.line_of(a), 2, "{text:?}");
            assert_eq!(index.line_of(b), 4, "{text:?}");
        }
    }

    #[test]
    fn a_row_is_refused_for_its_first_fault_and_its_fields_keep_no_control_characters() {
        let header_row =
            csv::ByteRecord::from(vec!["Country Code", "Phone Number", "Voice", "SMS", "Fax"]);
        let cols = header(&header_row).unwrap();
        let row = |fields: Vec<&[u8]>| {
            let record = csv::ByteRecord::from(fields);
            let fields = Fields::of(&record, &cols);
            let verdict = fields.verdict(record.len(), cols.count);
            (fields, verdict)
        };
        let (fields, verdict) = row(vec![b"1", b" (512) 555-0100 ", b"yes", b"no", b"no"]);
        assert_eq!(fields.text[1].as_deref(), Some("(512) 555-0100"));
        assert_eq!(verdict.e164.as_deref(), Some("+15125550100"));
        assert_eq!(verdict.reason, None);

        let (_, verdict) = row(vec![b"1", b"5125550100", b"yes"]);
        assert_eq!(verdict.reason, Some("wrong_column_count"));
        assert_eq!(verdict.e164, None);

        let (_, verdict) = row(vec![b"1", b"5125550100", b"\xff\xfe", b"no", b"no"]);
        assert_eq!(verdict.reason, Some("not_text"));

        let (fields, verdict) = row(vec![b"1", b"5125550100", b"y\x07es", b"no", b"no"]);
        assert_eq!(verdict.reason, Some("control_character"));
        assert_eq!(
            verdict.message.as_deref(),
            Some("the Voice column contains a control character (such as NUL)")
        );
        assert_eq!(fields.text[2].as_deref(), Some("yes"));

        let (_, verdict) = row(vec![b"US", b"5125550100", b"yes", b"no", b"no"]);
        assert_eq!(verdict.reason, Some("invalid_country_code"));
        let (_, verdict) = row(vec![b"1", b"555", b"yes", b"no", b"no"]);
        assert_eq!(verdict.reason, Some("invalid_number"));
    }

    #[test]
    fn a_phone_field_is_written_with_digits_and_separators_only() {
        for phone in [
            "📞5125550100",
            "++15125550100",
            "512/555/0100",
            "512\u{200b}5550100",
        ] {
            assert!(
                matches!(number(Some("1"), Some(phone)), Number::Invalid(_)),
                "{phone:?}"
            );
        }
        assert!(matches!(
            number(Some("1"), Some("(512) 555-0100")),
            Number::Nanp(_)
        ));
    }

    #[test]
    fn non_nanp_numbers_are_parsed_for_their_country() {
        match number(Some("44"), Some("020 7946 0958")) {
            Number::Valid(n, c) => {
                assert_eq!(n, "+442079460958");
                assert_eq!(c, "GB");
            }
            _ => panic!("a London number is valid"),
        }
        assert!(matches!(
            number(Some("44"), Some("123")),
            Number::Invalid(_)
        ));
        assert!(matches!(
            number(Some("US"), Some("5125550100")),
            Number::Invalid(_)
        ));
    }

    fn nanp_of(cc: &str, phone: Option<&str>) -> Result<String, String> {
        match number(Some(cc), phone) {
            Number::Nanp(n) => Ok(n),
            Number::Valid(n, _) => panic!("{n} is not NANP"),
            Number::Invalid(why) => Err(why),
        }
    }

    #[test]
    fn nanp_numbers_follow_the_structural_rule() {
        for (cc, phone) in [
            ("1", "5125550100"),
            ("+1", "(512) 555-0100"),
            ("1", "1-512-555-0100"),
            ("1", "+1 512 555 0100"),
            ("1", "8005550100"),
        ] {
            let n = nanp_of(cc, Some(phone));
            assert!(
                n.as_deref() == Ok("+15125550100") || n.as_deref() == Ok("+18005550100"),
                "{phone}: {n:?}"
            );
        }
        for bad in [
            "0125550100",
            "5121550100",
            "5125110100",
            "4115550100",
            "512555010",
            "151255501000",
            "25125550100",
            "512-555-CALL",
            "512555010x",
        ] {
            let why = nanp_of("1", Some(bad)).unwrap_err();
            assert!(
                why.starts_with(&format!("“{bad}” is not a valid North American number")),
                "{bad}: {why}"
            );
        }
        assert_eq!(
            nanp_of("1", None).unwrap_err(),
            "an empty phone number is not a valid North American number (NPA-NXX-XXXX, NPA and NXX 2-9, no N11)"
        );
    }

    #[test]
    fn copy_fields_are_escaped() {
        let mut buf = Vec::new();
        push_copy(&mut buf, Some("a\tb\\c\nd"));
        push_copy(&mut buf, None);
        assert_eq!(buf, b"a\\tb\\\\c\\nd\\N");
    }
}
