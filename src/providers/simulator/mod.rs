//! `inward simulate`: stateful, wire-compatible fakes of the platforms' real endpoints
//! (token endpoints included), with fault injection, so adapters are tested over real HTTP.
//! State is in memory: a simulator is a stand-in for someone else's platform.

pub mod cxone;
pub mod faults;
pub mod genesys;
pub mod limits;
pub mod oidc;
pub mod ringcx;

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use faults::{FaultConfig, Faults};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    Genesys,
    Cxone,
    Ringcx,
    /// An OpenID provider, for single sign-on.
    Oidc,
}

/// Builds the simulator's router; the admin endpoints live under `/__sim`.
pub fn router(platform: Platform, faults: Arc<Faults>) -> anyhow::Result<Router> {
    let app = match platform {
        Platform::Genesys => genesys::router(genesys::seeded()),
        Platform::Cxone => cxone::router(cxone::seeded()),
        Platform::Ringcx => ringcx::router(ringcx::seeded()),
        Platform::Oidc => oidc::router(oidc::SimState::new().map_err(anyhow::Error::msg)?),
    };
    Ok(faults::wrap(app, faults, platform))
}

/// A Genesys simulator whose state the caller keeps, for tests that look inside it.
pub fn genesys_with_state(faults: Arc<Faults>) -> (Router, genesys::SimState) {
    let state = genesys::seeded();
    (
        faults::wrap(genesys::router(state.clone()), faults, Platform::Genesys),
        state,
    )
}

/// A RingCX simulator whose state the caller keeps, for tests that look inside it.
pub fn ringcx_with_state(faults: Arc<Faults>) -> (Router, ringcx::SimState) {
    let state = ringcx::seeded();
    (
        faults::wrap(ringcx::router(state.clone()), faults, Platform::Ringcx),
        state,
    )
}

pub async fn serve(
    platform: Platform,
    listener: TcpListener,
    faults: FaultConfig,
) -> anyhow::Result<()> {
    let faults = Arc::new(Faults::new(faults));
    axum::serve(listener, router(platform, faults)?).await?;
    Ok(())
}

/// A CXone simulator whose state the caller keeps, for tests that look inside it.
pub fn cxone_with_state(faults: Arc<Faults>) -> (Router, cxone::SimState) {
    let state = cxone::seeded();
    (
        faults::wrap(cxone::router(state.clone()), faults, Platform::Cxone),
        state,
    )
}
