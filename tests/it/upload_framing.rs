//! Files whose framing is broken are refused whole, naming the row a spreadsheet shows: a
//! quote that is never closed, a row longer than `inventory.max_record_kib`, UTF-16 text.
//! Nothing of such a file is staged or imported.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{TestApp, error_code, spawn_app_with};
use crate::inventory::{HEADER, rejected_csv, run_upload, upload};

async fn nothing_staged(app: &TestApp) {
    let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_upload_rows")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(staged, 0);
}

fn rows(from: u32, count: u32) -> String {
    (from..from + count)
        .map(|i| format!("1,512555{i:04},TRUE,FALSE,FALSE,,,\n"))
        .collect()
}

fn line_of(body: &Value) -> i64 {
    body["error"]["details"]["line"].as_i64().unwrap_or(-1)
}

#[test]
fn a_quote_never_closed_or_an_endless_row_refuses_the_file_naming_its_row() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| c.inventory.max_record_kib = 4).await;
        let reseller = app.api("reseller@acme.test").await;

        // Row 3 opens a quote that nothing closes: the thousands of rows after it would be read
        // as one field.
        let csv = format!(
            "{HEADER}{}1,\"5125550302,TRUE,FALSE,FALSE,,,\n{}",
            rows(300, 1),
            rows(303, 5000)
        );
        let (status, body) = upload(&reseller, csv.as_bytes(), "valid_only", false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "record_too_long", "{body}");
        assert_eq!(line_of(&body), 3, "{body}");
        // The same file, short enough to end inside the quote.
        let csv = format!(
            "{HEADER}{}1,\"5125550302,TRUE,FALSE,FALSE,,,\n{}",
            rows(300, 1),
            rows(303, 5)
        );
        let (status, body) = upload(&reseller, csv.as_bytes(), "valid_only", false).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "unterminated_quote", "{body}");
        assert_eq!(line_of(&body), 3, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("row 3"),
            "{body}"
        );

        // One row of 200 KiB, quoted or not, against a 4 KiB limit.
        let long = "9".repeat(200 * 1024);
        for field in [long.clone(), format!("\"{long}\"")] {
            let csv = format!("{HEADER}{}1,{field},TRUE,FALSE,FALSE,,,\n", rows(400, 3));
            let (status, body) = upload(&reseller, csv.as_bytes(), "valid_only", false).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(error_code(&body), "record_too_long", "{body}");
            assert_eq!(line_of(&body), 5, "{body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains("4 KiB"),
                "{body}"
            );
        }

        // UTF-16, with and without its byte-order mark.
        let text = format!("{HEADER}{}", rows(500, 2));
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for bytes in [[vec![0xFF, 0xFE], utf16.clone()].concat(), utf16] {
            let (status, body) = upload(&reseller, &bytes, "valid_only", false).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(error_code(&body), "not_utf8", "{body}");
        }
        nothing_staged(&app).await;
        let imported: i64 =
            sqlx::query_scalar("SELECT count(*) FROM numbers WHERE e164 LIKE '+1512555%' AND uploaded_by_org_id IS NOT NULL")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(imported, 0);

        // A UTF-8 byte-order mark and CR line endings are an ordinary file.
        let csv = format!("\u{feff}{HEADER}{}", rows(600, 3)).replace('\n', "\r");
        let job = run_upload(&reseller, &csv, "all_or_nothing", false).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["counts"]["added"], 3, "{job}");
    })
}

/// What Inward writes back is safe to open: a rejected field that a spreadsheet would run as a
/// formula comes back with a leading `'`, numbers come back as they were sent. And only those
/// who may list uploads read one: not a tenant's plain users.
#[test]
fn rejected_rows_come_back_without_formulas_and_only_to_admins() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |_| {}).await;
        sqlx::query("UPDATE organizations SET allow_external_numbers = true WHERE slug = 'globex'")
            .execute(&app.pool)
            .await
            .unwrap();
        let admin = app.api("admin@globex.test").await;
        let csv = format!(
            "{HEADER}1,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",TRUE,FALSE,FALSE,,,\n\
             1,+1 512 555 07,TRUE,FALSE,FALSE,,,\n"
        );
        let job = run_upload(&admin, &csv, "valid_only", true).await;
        assert_eq!(job["counts"]["rejected"], 2, "{job}");
        let id = job["id"].as_str().unwrap();
        let rejected = rejected_csv(&admin, id).await;
        assert!(
            rejected.contains("\"'=HYPERLINK("),
            "the formula is neutralised: {rejected}"
        );
        assert!(
            rejected.contains(",+1 512 555 07,"),
            "a number stays as sent: {rejected}"
        );

        let agent = app.api("agent@globex.test").await;
        for path in [
            format!("/api/v1/inventory/uploads/{id}"),
            format!("/api/v1/inventory/uploads/{id}/rejected.csv"),
        ] {
            let (status, body) = agent.get(&path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        }
        let (status, _) = admin.get(&format!("/api/v1/inventory/uploads/{id}")).await;
        assert_eq!(status, StatusCode::OK);
    })
}

/// A file sent without a length (chunked) is cut off at `inventory.max_upload_mib` with 413,
/// not read to its end and then called interrupted.
#[test]
fn a_chunked_upload_over_the_limit_answers_413_at_the_limit() {
    crate::db::db_test(|pool| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let app = spawn_app_with(pool, |c| c.inventory.max_upload_mib = 1).await;
        let reseller = app.api("reseller@acme.test").await;
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "POST /api/v1/inventory/uploads HTTP/1.1\r\nHost: inward\r\nAuthorization: Bearer {}\r\n\
             Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n",
            reseller.token
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = |data: &[u8]| {
            let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
            framed.extend_from_slice(data);
            framed.extend_from_slice(b"\r\n");
            framed
        };
        let preamble = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n{HEADER}"
        );
        stream.write_all(&chunk(preamble.as_bytes())).await.unwrap();
        let rows = "1,5125550100,TRUE,FALSE,FALSE,,,\n".repeat(2000);
        let mut sent = 0;
        // 4 MiB against a 1 MiB limit; the server may stop reading once it has answered.
        while sent < 4 << 20 {
            if stream.write_all(&chunk(rows.as_bytes())).await.is_err() {
                break;
            }
            sent += rows.len();
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("payload_too_large"), "{answer}");
        nothing_staged(&app).await;
    })
}

/// Rows are numbered as a spreadsheet shows them, blank lines included, whatever the line
/// endings (LF or CRLF).
#[test]
fn rows_after_a_blank_line_keep_their_spreadsheet_numbers() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |_| {}).await;
        let reseller = app.api("reseller@acme.test").await;
        for ending in ["\n", "\r\n"] {
            let csv = format!(
                "{HEADER}1,5125550700,TRUE,FALSE,FALSE,,,\n\n1,5125550701,MAYBE,FALSE,FALSE,,,\n"
            )
            .replace('\n', ending);
            let job = run_upload(&reseller, &csv, "valid_only", true).await;
            assert_eq!(job["counts"]["rejected"], 1, "{job}");
            let rejected = rejected_csv(&reseller, job["id"].as_str().unwrap()).await;
            assert!(rejected.contains("line 4:"), "{ending:?}: {rejected}");
        }
    })
}
