//! A port request of more than 100 numbers goes to the carrier as orders of at most 100,
//! each its own port request with its own status; one LOA covers them all.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::spawn_app;
use crate::porting::{put_loa, request};

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn numbers(from: usize, count: usize) -> Vec<String> {
    (from..from + count)
        .map(|i| format!("+1312620{i:04}"))
        .collect()
}

#[test]
fn a_request_of_150_numbers_becomes_two_orders_that_move_on_their_own() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let wanted = numbers(1000, 150);
        let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let (status, first) = admin.post("/api/v1/ports", request(&refs, "")).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let orders = first["orders"].as_array().unwrap().clone();
        assert_eq!(orders.len(), 2, "{first}");
        assert_eq!(
            orders[0]["id"], first["id"],
            "the answer is the first order"
        );
        assert_eq!(orders[0]["numbers"], 75);
        assert_eq!(orders[1]["numbers"], 75);
        assert_eq!(orders[0]["first"], "+13126201000");
        assert_eq!(orders[1]["last"], "+13126201149");
        assert_eq!(first["numbers"].as_array().unwrap().len(), 75);
        assert!(first["batch_id"].is_string());
        let second_id = orders[1]["id"].as_str().unwrap().to_string();
        let (_, second) = admin.get(&format!("/api/v1/ports/{second_id}")).await;
        assert_eq!(second["numbers"][0]["e164"], "+13126201075");
        assert_eq!(second["batch_id"], first["batch_id"]);
        let (_, list) = admin.get("/api/v1/ports").await;
        assert_eq!(list["ports"].as_array().unwrap().len(), 2, "{list}");

        // A letter names its order's numbers: it stays with the order it was uploaded to.
        let (status, body) = put_loa(&admin, &second_id, "application/pdf", PDF.to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let first_id = first["id"].as_str().unwrap().to_string();
        let (_, first_now) = admin.get(&format!("/api/v1/ports/{first_id}")).await;
        assert!(first_now["loa_filename"].is_null(), "{first_now}");
        let letter = admin
            .http
            .get(format!("{}/api/v1/ports/{first_id}/letter", admin.base))
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&letter);
        assert!(text.contains("(312) 620-1000") && !text.contains("(312) 620-1075"));

        // Each order is submitted and followed on its own.
        let (status, body) = admin
            .post(&format!("/api/v1/ports/{second_id}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, second) = admin.get(&format!("/api/v1/ports/{second_id}")).await;
        assert_eq!(second["numbers"][0]["status"], "submitted");
        let (_, first_now) = admin.get(&format!("/api/v1/ports/{first_id}")).await;
        assert_eq!(first_now["numbers"][0]["status"], "draft");

        // A number of the batch cannot be asked for again while its order is open.
        let (status, body) = admin
            .post("/api/v1/ports", request(&["+13126201149"], ""))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");

        // More than 1,000 numbers are refused, nothing created.
        let many = numbers(3000, 1001);
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (status, body) = admin.post("/api/v1/ports", request(&refs, "")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, list) = admin.get("/api/v1/ports").await;
        assert_eq!(list["ports"].as_array().unwrap().len(), 2);

        // The page of an order names its place and links the others.
        let browser = app.browser("admin@globex.test").await;
        let (status, page) = browser
            .get(&format!("/ports/{first_id}?notice=port_split"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("order 1 of 2"), "{page}");
        assert!(
            page.contains(&format!("href=\"/ports/{second_id}\"")),
            "{page}"
        );
        assert!(page.contains("split into orders of at most 100"), "{page}");
        assert!(
            page.contains("Each order needs its own signed LOA"),
            "{page}"
        );
    })
}

#[test]
fn a_hundred_numbers_stay_one_order() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let wanted = numbers(2000, 100);
        let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let (status, created) = admin.post("/api/v1/ports", request(&refs, "")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["orders"], json!([]));
        assert_eq!(created["batch_id"], json!(null));
        assert_eq!(created["numbers"].as_array().unwrap().len(), 100);
    })
}

#[test]
fn the_letter_of_authorization_is_filled_in_from_the_request_and_goes_back_signed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let (status, created) = admin
            .post(
                "/api/v1/ports",
                request(&["+13126200101", "+13126200102"], ""),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        let letter = admin
            .http
            .get(format!("{}/api/v1/ports/{id}/letter", admin.base))
            .bearer_auth(&admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(letter.status(), StatusCode::OK);
        assert_eq!(letter.headers()["content-type"], "application/pdf");
        let pdf = letter.bytes().await.unwrap().to_vec();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        for expected in [
            "ACC-12345",
            "Old Telco",
            "(312) 620-0101",
            "(312) 620-0102",
            "none required",
        ] {
            assert!(text.contains(expected), "{expected} in the letter");
        }
        // Signed (here as it is), it is accepted as the request's LOA.
        let (status, body) = put_loa(&admin, id, "application/pdf", pdf).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // From the page, and never another tenant's.
        let browser = app.browser("admin@globex.test").await;
        let (_, page) = browser.get(&format!("/ports/{id}")).await;
        assert!(
            page.contains(&format!("href=\"/ports/{id}/letter\"")),
            "{page}"
        );
        let (status, _) = browser.get(&format!("/ports/{id}/letter")).await;
        assert_eq!(status, StatusCode::OK);
        let other = app.api("admin@initech.test").await;
        let (status, _) = other.get(&format!("/api/v1/ports/{id}/letter")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
}

async fn put_bill(
    api: &crate::common::Api,
    id: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    crate::porting::put_document(api, id, "bill", content_type, body).await
}

#[test]
fn a_copy_of_the_bill_goes_beside_the_loa_for_every_order_still_to_be_sent() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let wanted = numbers(4000, 250);
        let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let (status, first) = admin.post("/api/v1/ports", request(&refs, "")).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let id = first["id"].as_str().unwrap().to_string();
        let second = first["orders"][1]["id"].as_str().unwrap().to_string();
        let third = first["orders"][2]["id"].as_str().unwrap().to_string();
        // The third order goes to the carrier before the bill is uploaded.
        let (status, _) = put_loa(&admin, &third, "application/pdf", PDF.to_vec()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = admin
            .post(&format!("/api/v1/ports/{third}/submit"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let (status, body) = put_bill(&admin, &id, "image/png", png.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, sent) = admin.get(&format!("/api/v1/ports/{third}")).await;
        assert!(
            sent["bill_bytes"].is_null(),
            "an order already sent keeps what it was sent with"
        );
        // Kept with its content type, and given to the other order still to be sent.
        for order in [&id, &second] {
            let r = admin
                .http
                .get(format!("{}/api/v1/ports/{order}/bill", admin.base))
                .bearer_auth(&admin.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], "image/png");
            assert_eq!(r.bytes().await.unwrap().to_vec(), png);
        }
        let (_, shown) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(shown["bill_bytes"], png.len());

        // Neither a GIF nor a mislabelled file; the one kept stays.
        let (status, body) = put_bill(&admin, &id, "image/png", b"GIF89a....".to_vec()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid_bill");
        let (status, body) = put_bill(&admin, &id, "text/plain", png.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, shown) = admin.get(&format!("/api/v1/ports/{id}")).await;
        assert_eq!(shown["bill_bytes"], png.len());
        // Another tenant sees none of it.
        let other = app.api("admin@initech.test").await;
        let (status, _) = other.get(&format!("/api/v1/ports/{id}/bill")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The page: the form, a refusal beside the field, the link once stored.
        let browser = app.browser("admin@globex.test").await;
        let boundary = "inwardboundary";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"bill\"; filename=\"bill.gif\"\r\nContent-Type: image/gif\r\n\r\n").into_bytes();
        body.extend_from_slice(b"GIF89a....");
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = browser
            .http
            .post(format!("{}/ports/{second}/bill", browser.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("x-csrf-token", &browser.csrf)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("must be a PDF, or a photo or scan as PNG or JPEG"),
            "{page}"
        );
        let (_, page) = browser.get(&format!("/ports/{second}")).await;
        assert!(
            page.contains(&format!("href=\"/ports/{second}/bill\"")),
            "{page}"
        );
        assert!(page.contains("id=\"bill-form\""), "{page}");
    })
}
