//! `POST /v1/claims` and `POST /v1/claims/written`: which desktop makes a
//! CRM write (the claims themselves are kept by `store::claims`).

use super::{answer, desktop_of, Hub};
use crate::store::claims::Claimant;
use crate::store::desktops::Desktop;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use callcard_hub_contract::claims::{valid_computer, MAX_CLAIM_KEY};
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
    if request.computer.as_deref().is_some_and(|c| !valid_computer(c)) {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            "a claim's computer is at most 40 letters, digits and dashes",
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
    let desktop_id = desktop.id;
    let now = (hub.clock)();
    let lease = if request.lease_ms > 0 {
        request.lease_ms
    } else {
        120_000
    };
    let claimed = tokio::task::spawn_blocking(move || {
        let claimant = Claimant {
            desktop_id,
            computer: request.computer.as_deref().unwrap_or_default(),
        };
        let claim = desktops.claim(&request.key, claimant, lease, now);
        (request, claim)
    })
    .await;
    match claimed {
        Ok((request, Ok(claim))) => {
            // The audit trail: who asked for which write, and what it got.
            tracing::info!(
                desktop = desktop_id,
                computer = request.computer.as_deref().unwrap_or("-"),
                key = %request.key.escape_debug(),
                answer = ?claim,
                "claim"
            );
            (StatusCode::OK, Json(claim)).into_response()
        }
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
    let desktop_id = desktop.id;
    let written = tokio::task::spawn_blocking(move || {
        let claimant = Claimant {
            desktop_id,
            computer: request.computer.as_deref().unwrap_or_default(),
        };
        let written = desktops.claim_written(
            &request.key,
            claimant,
            request.remote_id.as_deref(),
            request.remote_link.as_deref(),
        );
        (request, written)
    })
    .await;
    match written {
        Ok((request, Ok(true))) => {
            tracing::info!(
                desktop = desktop_id,
                computer = request.computer.as_deref().unwrap_or("-"),
                key = %request.key.escape_debug(),
                remote_id = %request.remote_id.as_deref().unwrap_or("-").escape_debug(),
                "claim written"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Ok((_, Ok(false))) => answer(
            StatusCode::CONFLICT,
            "this desktop on this computer does not hold that claim",
        ),
        _ => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub cannot record claims now",
        ),
    }
}
