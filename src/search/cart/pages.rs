//! The Cart page, the cart line under search results, and the navigation's cart count.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::Cart;
use crate::auth::{PageCaller, RequestId};
use crate::domain::search::SearchParams;
use crate::error::AppError;
use crate::search::pages::search_page;
use crate::state::AppState;
use crate::web::pages::{Chrome, NoticeQuery};
use crate::web::{Form, PageResult, render};

#[derive(askama::Template)]
#[template(path = "cart.html")]
struct CartPage {
    chrome: Chrome,
    cart: Cart,
    error: Option<String>,
    justification: String,
}

/// The line under search results: what the cart holds and adds up to, and why a tick was
/// refused. The search page includes it; ticking a box fetches it anew.
#[derive(askama::Template)]
#[template(path = "cart_summary.html")]
pub struct CartSummary {
    pub cart: Cart,
    pub cart_error: Option<String>,
    /// Ticked numbers the cart did not take (space-separated): the page unticks them.
    pub refused: String,
}

/// Errors a person can act on are shown on the page; anything else is the error page.
fn shown_to_the_user(err: &AppError) -> bool {
    matches!(
        err,
        AppError::Conflict { .. }
            | AppError::Invalid { .. }
            | AppError::Forbidden(_)
            | AppError::NotFound(_)
    )
}

pub async fn show(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let cart = super::view(&state, &caller.principal).await?;
    Ok(render(&CartPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf).with_notice(q.notice.as_deref()),
        cart,
        error: None,
        justification: String::new(),
    }))
}

/// The search a form came from, read and written again (never pasted raw into a header).
fn search_of(form: &Form, key: &str) -> (SearchParams, String) {
    let params: SearchParams =
        serde_urlencoded::from_str(form.raw(key).unwrap_or("")).unwrap_or_default();
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    (params, query)
}

/// The ticks of one results page: `shown` names every number the page listed, `number` the
/// ticked ones. From htmx (a box changed) the answer is the cart line, naming the ticks the
/// cart refused so the page can undo just those; from a plain form ("Update cart" or "Next
/// page" without JavaScript) it is the search again, or its next page (`then`).
pub async fn update(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let ticked = form.all("number");
    let error =
        match super::apply_ticks(&state, &caller.principal, &form.all("shown"), &ticked).await {
            Ok(note) => note,
            Err(err) if shown_to_the_user(&err) => Some(err.public_message()),
            Err(other) => return Err(other.into()),
        };
    if headers.contains_key("hx-request") {
        let cart = super::view(&state, &caller.principal).await?;
        let refused = ticked
            .iter()
            .filter(|n| !cart.contains(n))
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let mut answer = render(&CartSummary {
            cart,
            cart_error: error,
            refused,
        });
        // The navigation's count listens for this.
        answer.headers_mut().insert(
            "hx-trigger",
            axum::http::HeaderValue::from_static("cart-changed"),
        );
        return Ok(answer);
    }
    let (params, query) = search_of(&form, "q");
    match error {
        None => {
            let (_, next) = search_of(&form, "then");
            let target = if form.raw("then").is_some() {
                next
            } else {
                query
            };
            Ok(Redirect::to(&format!("/search?{target}&notice=cart_updated")).into_response())
        }
        Some(error) => {
            let mut page = search_page(&state, &caller, params, request_id.as_deref()).await?;
            page.set_cart_error(error);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

pub async fn remove(State(state): State<AppState>, caller: PageCaller, body: Bytes) -> PageResult {
    let form = Form::parse(&body);
    super::remove(&state, &caller.principal, &form.all("number")).await?;
    Ok(Redirect::to("/cart?notice=cart_removed").into_response())
}

pub async fn clear(State(state): State<AppState>, caller: PageCaller) -> PageResult {
    super::clear(&state, &caller.principal).await?;
    Ok(Redirect::to("/cart?notice=cart_cleared").into_response())
}

/// "Reserve all" on the Cart page, and "Reserve cart" under search results (which first
/// applies that page's ticks). A refusal keeps the cart and shows it where it was asked.
pub async fn reserve(
    State(state): State<AppState>,
    caller: PageCaller,
    RequestId(request_id): RequestId,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let justification = form.get("justification").map(str::to_string);
    let from_search = form.raw("q").is_some();
    let outcome = async {
        // A ticked number taken a moment ago: the rest are in the cart, and the person
        // decides whether to reserve them without it.
        if from_search
            && let Some(note) = super::apply_ticks(
                &state,
                &caller.principal,
                &form.all("shown"),
                &form.all("number"),
            )
            .await?
        {
            return Err(AppError::conflict(
                "numbers_unavailable",
                format!("{note} The other ticked numbers are in your cart; nothing was reserved."),
                serde_json::Value::Null,
            ));
        }
        super::reserve(
            &state,
            &caller.principal,
            justification.clone(),
            request_id.as_deref(),
        )
        .await
    }
    .await;
    let err = match outcome {
        Ok(reserved) => {
            return Ok(Redirect::to(&format!("/reservations/{}", reserved.id)).into_response());
        }
        Err(err) if shown_to_the_user(&err) => err,
        Err(other) => return Err(other.into()),
    };
    let status = err.status();
    if from_search {
        let (params, _) = search_of(&form, "q");
        let mut page = search_page(&state, &caller, params, request_id.as_deref()).await?;
        page.set_cart_error(err.public_message());
        page.justification = justification.unwrap_or_default();
        return Ok((status, render(&page)).into_response());
    }
    let cart = super::view(&state, &caller.principal).await?;
    let page = CartPage {
        chrome: Chrome::new(&caller.principal, &caller.csrf),
        cart,
        error: Some(err.public_message()),
        justification: justification.unwrap_or_default(),
    };
    Ok((status, render(&page)).into_response())
}

/// The count beside the navigation's Cart link, fetched after each page loads and whenever the
/// cart changes (the link itself stays, so it keeps its `aria-current`).
pub async fn badge(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Response, crate::web::PageError> {
    let count = match caller.principal.tenant() {
        Ok(_) => super::count(&state, &caller.principal).await?,
        Err(_) => 0,
    };
    let shown = if count > 0 {
        format!(
            "<span class=\"bell-count\">{count}<span class=\"sr-only\"> numbers in the cart</span></span>"
        )
    } else {
        String::new()
    };
    Ok(Html(format!(
        "<span id=\"cart-badge\" hx-get=\"/cart/badge\" hx-trigger=\"cart-changed from:body\" hx-swap=\"outerHTML\">{shown}</span>"
    ))
    .into_response())
}
