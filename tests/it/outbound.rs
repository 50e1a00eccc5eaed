//! Platform connections reach only their platform's published API hosts, over https, unless
//! the operator admits a host (`outbound.allow_hosts`): a base URL on this machine, a private
//! network or any other host is refused when it is saved, however the address is written.
//! (Names are checked where they resolve, at every call: `outbound`'s unit tests.)

use inward::providers::simulator::genesys::CLIENT_SECRET;
use inward::providers::simulator::genesys_with_state;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::spawn_app_with;

#[test]
fn connections_cannot_make_the_server_call_its_own_network() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app_with(pool, |c| {
            c.secrets.key = crate::genesys::SECRET_KEY.into();
            c.outbound.allow_hosts = Vec::new();
        })
        .await;
        let admin = app.api("admin@globex.test").await;
        let sim = crate::sim::Sim::start(genesys_with_state).await;
        let connect = |base_url: String| {
            let admin = &admin;
            async move {
                admin
                    .post(
                        "/api/v1/connections",
                        json!({ "kind": "genesys", "base_url": base_url,
                                "credentials": { "client_id": inward::providers::simulator::genesys::CLIENT_ID, "client_secret": CLIENT_SECRET } }),
                    )
                    .await
            }
        };
        for url in [
            sim.base.clone(),
            "http://2130706433/".to_string(),
            "http://[::1]:8080".to_string(),
            "http://169.254.169.254/latest/meta-data".to_string(),
            "http://10.0.0.1".to_string(),
            "https://example.com".to_string(),
            "https://api.mypurecloud.com.evil.example".to_string(),
        ] {
            let (status, body) = connect(url.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
            assert_eq!(body["error"]["details"]["field"], "base_url", "{body}");
        }
    })
}
