//! `POST /v1/claims` and `POST /v1/claims/written`: which desktop makes a
//! CRM write (the claims themselves are kept by `store::claims`).

use super::{answer, desktop_of, Hub};
use crate::store::desktops::Desktop;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use callcard_hub_contract::claims::MAX_CLAIM_KEY;
use callcard_hub_contract::ClaimRequest;

/// The desktop behind a claim request, once its token and key are good.
pub(super) async fn claimant(
    hub: &Hub,
    headers: &HeaderMap,
    request: &ClaimRequest,
) -> Result<Desktop, Response> {
    let desktop = desktop_of(hub, headers).await?;
    if request.key.is_empty() || request.key.len() > MAX_CLAIM_KEY {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            "a claim needs a key of at most 300 bytes",
        ));
    }
    Ok(desktop)
}

/// `POST /v1/claims`: a desktop asks to be the one that writes `key` (see `claims`).
pub(super) async fn claim_write(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Json(request): Json<ClaimRequest>,
) -> Response {
    let desktop = match claimant(&hub, &headers, &request).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let desktops = hub.desktops.clone();
    let now = (hub.clock)();
    let lease = if request.lease_ms > 0 {
        request.lease_ms
    } else {
        120_000
    };
    match tokio::task::spawn_blocking(move || desktops.claim(&request.key, desktop.id, lease, now)).await {
        Ok(Ok(claim)) => (StatusCode::OK, Json(claim)).into_response(),
        _ => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub cannot record claims now",
        ),
    }
}

/// `POST /v1/claims/written`: the holder wrote `key`, there.
pub(super) async fn claim_written(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Json(request): Json<ClaimRequest>,
) -> Response {
    let desktop = match claimant(&hub, &headers, &request).await {
        Ok(desktop) => desktop,
        Err(refused) => return refused,
    };
    let desktops = hub.desktops.clone();
    let written = tokio::task::spawn_blocking(move || {
        desktops.claim_written(
            &request.key,
            desktop.id,
            request.remote_id.as_deref(),
            request.remote_link.as_deref(),
        )
    })
    .await;
    match written {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => answer(StatusCode::CONFLICT, "this desktop does not hold that claim"),
        _ => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub cannot record claims now",
        ),
    }
}
