//! A refused form comes back inside the layout with the refusal beside the field it concerns
//! (marked `aria-invalid` and described by the sentence), an alert above pointing to it, and
//! what was typed kept — on every form that saves something.

use reqwest::StatusCode;

use crate::common::{Browser, spawn_app};

/// Posts `fields` to `path`, expects 422, and checks that `field` is marked and described by
/// a sentence starting with `says`. Returns the page.
async fn refused_beside(
    browser: &Browser,
    path: &str,
    fields: &[(&str, &str)],
    field: &str,
    says: &str,
) -> String {
    let response = browser.post_form(path, fields).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{path} {fields:?}"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("<main"), "inside the layout: {page}");
    assert!(
        page.contains(&format!(
            r#"name="{field}" aria-invalid="true" aria-describedby="{field}-error""#
        )),
        "{field} is marked on {path}: {page}"
    );
    assert!(
        page.contains(&format!(
            r#"<small class="field-error" id="{field}-error">{says}"#
        )),
        "{field} says “{says}” on {path}: {page}"
    );
    assert!(
        page.contains("Not saved: correct the field marked below."),
        "the alert points to the field on {path}: {page}"
    );
    assert_eq!(
        page.matches(r#"aria-invalid="true""#).count(),
        1,
        "only {field} is marked on {path}"
    );
    page
}

#[test]
fn tenant_forms_show_a_refusal_beside_its_field_and_keep_what_was_typed() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.browser("admin@globex.test").await;

        let page = refused_beside(
            &admin,
            "/settings",
            &[
                ("cnam_default", "GLOBEX"),
                ("unassigned_behavior", "main_number"),
                ("main_number", "12"),
                ("premium_approver", "tenant_admin"),
            ],
            "main_number",
            "",
        )
        .await;
        assert!(page.contains(r#"value="GLOBEX""#), "{page}");
        assert!(page.contains(r#"value="12""#), "{page}");
        assert!(
            page.contains(r#"value="main_number" checked"#),
            "the chosen behaviour stays chosen: {page}"
        );

        let page = refused_beside(
            &admin,
            "/tokens",
            &[("name", "nightly sync"), ("expires_in_days", "soon")],
            "expires_in_days",
            "The lifetime is a number of days.",
        )
        .await;
        assert!(page.contains(r#"value="nightly sync""#), "{page}");
        assert!(page.contains(r#"value="soon""#), "{page}");

        let page = refused_beside(
            &admin,
            "/users",
            &[
                ("email", "omar@globex.test"),
                ("role", "tenant_admin"),
                ("password", "short"),
            ],
            "password",
            "",
        )
        .await;
        assert!(page.contains(r#"value="omar@globex.test""#), "{page}");
        assert!(
            page.contains(r#"<option value="tenant_admin" selected>"#),
            "the chosen role stays chosen: {page}"
        );
        assert!(
            !page.contains(r#"value="short""#),
            "passwords are not sent back"
        );

        refused_beside(
            &admin,
            "/account/password",
            &[
                ("current_password", crate::common::PASSWORD),
                ("new_password", "my own new passphrase"),
                ("confirm_password", "something else entirely"),
            ],
            "confirm_password",
            "The two new passwords differ.",
        )
        .await;

        let page = refused_beside(
            &admin,
            "/settings/connection",
            &[
                ("kind", "genesys"),
                ("region", "mypurecloud.com"),
                ("cred_client_id", ""),
                ("cred_client_secret", "s3cret-value"),
            ],
            "cred_client_id",
            "The OAuth client id is required for Genesys Cloud CX.",
        )
        .await;
        assert!(
            page.contains(r#"<option value="genesys" selected>"#),
            "the chosen platform stays chosen: {page}"
        );
        assert!(
            page.contains(r#"<option value="mypurecloud.com" selected>"#),
            "{page}"
        );
        assert!(!page.contains("s3cret-value"), "secrets are not sent back");

        let number = app
            .api("admin@globex.test")
            .await
            .provisioned(1)
            .await
            .remove(0);
        let page = refused_beside(
            &admin,
            &format!("/numbers/{number}/cnam"),
            &[("name", "Way too long a name")],
            "name",
            "",
        )
        .await;
        assert!(page.contains(r#"value="Way too long a name""#), "{page}");
    })
}

#[test]
fn a_refusal_of_something_the_form_does_not_show_keeps_its_words_in_the_alert() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.browser("admin@globex.test").await;
        // No number ticked: the bulk E911 form has no field for the numbers.
        let response = admin
            .post_form(
                "/e911/bulk",
                &[
                    ("street", "500 Congress Ave"),
                    ("city", "Austin"),
                    ("state", "TX"),
                    ("zip", "78701"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"id="bulk-error">select at least one number</div>"#),
            "{page}"
        );
        assert!(!page.contains("correct the field marked below"), "{page}");
        assert!(!page.contains(r#"aria-invalid="true""#), "{page}");
    })
}

#[test]
fn the_aging_form_shows_its_refusal_beside_the_period() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let reseller = app.browser("reseller@acme.test").await;
        let page = refused_beside(
            &reseller,
            "/aging",
            &[("aging_days", "a month")],
            "aging_days",
            "The aging period is a number of days",
        )
        .await;
        assert!(page.contains(r#"value="a month""#), "{page}");
    })
}
