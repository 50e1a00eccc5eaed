//! A router that remembers the path of every route it is given, so that a test can visit
//! every route the server has (`startup::route_paths`) instead of a list kept by hand.

use axum::Router;
use axum::routing::MethodRouter;

use crate::state::AppState;

pub struct Routes {
    router: Router<AppState>,
    /// Where the finished router is mounted (`/api/v1`), for the recorded paths.
    mount: &'static str,
    paths: Vec<String>,
}

impl Routes {
    pub fn new(mount: &'static str) -> Self {
        Routes {
            router: Router::new(),
            mount,
            paths: Vec::new(),
        }
    }

    /// `Router::route`, recording `path`.
    pub fn at(mut self, path: &str, route: MethodRouter<AppState>) -> Self {
        self.paths.push(format!("{}{path}", self.mount));
        self.router = self.router.route(path, route);
        self
    }

    pub fn router(self) -> Router<AppState> {
        self.router
    }

    /// The full paths of the routes, with their `{parameters}`.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }
}
