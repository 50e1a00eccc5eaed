//! CSS, JavaScript and the vendored htmx, embedded in the binary so that a copied binary
//! serves the whole UI wherever it runs.
//!
//! Pages link each file with its content hash (`/static/app.css?v=…`): a link with the
//! current hash may be cached for a year, since a new build that changes the file changes
//! the link. Any other request for the file is answered with `no-cache` and an `ETag`, so a
//! browser revalidates it and gets `304 Not Modified` while the file is unchanged.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(rust_embed::Embed)]
#[folder = "static/"]
struct Static;

/// Each embedded file's path → the first 16 hex digits of its SHA-256.
static HASHES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Static::iter()
        .filter_map(|path| {
            let file = Static::get(&path)?;
            Some((path.to_string(), short_hash(&file.metadata.sha256_hash())))
        })
        .collect()
});

fn short_hash(digest: &[u8; 32]) -> String {
    crate::hex::encode(&digest[..8])
}

/// The URL of an embedded file, carrying its content hash. Panics on a name that is not
/// embedded: templates name their files literally, and every page is rendered by a test.
pub fn url(path: &str) -> String {
    match HASHES.get(path) {
        Some(hash) => format!("/static/{path}?v={hash}"),
        None => panic!("static/{path} is not an embedded file"),
    }
}

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

pub async fn serve(
    Path(path): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let (Some(file), Some(hash)) = (Static::get(&path), HASHES.get(&path)) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = if version.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype();
        (
            [(header::CONTENT_TYPE, mime.to_string())],
            file.data.into_owned(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_linked_file_is_embedded_with_a_hash() {
        for name in [
            "app.css",
            "app.js",
            "inventory.js",
            "vendor/htmx-2.0.11.min.js",
        ] {
            let link = url(name);
            assert!(link.starts_with(&format!("/static/{name}?v=")), "{link}");
            assert_eq!(link.len(), format!("/static/{name}?v=").len() + 16);
        }
    }

    #[test]
    fn the_hash_follows_the_content() {
        let a = short_hash(&[0u8; 32]);
        let mut other = [0u8; 32];
        other[3] = 1;
        assert_ne!(a, short_hash(&other));
        assert_eq!(a, "0000000000000000");
    }
}
