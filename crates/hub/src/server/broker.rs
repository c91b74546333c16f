//! `POST /v1/jobadder/token`: the JobAdder token broker's route (the
//! exchange itself is `crate::broker`'s).

use super::{answer, desktop_of, Hub};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// `POST /v1/jobadder/token`: a desktop's code exchange or refresh, with
/// the partner app's secret added here (see `broker`).
pub(super) async fn jobadder_token(
    State(hub): State<Hub>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(refused) = desktop_of(&hub, &headers).await {
        return own(refused);
    }
    let Some(client) = &hub.jobadder else {
        return own(answer(
            StatusCode::NOT_FOUND,
            "this hub does not broker JobAdder tokens",
        ));
    };
    match client.exchange(&hub.http, &form).await {
        Ok(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [(header::CONTENT_TYPE, reply.content_type)], reply.body).into_response()
        }
        Err(error @ crate::broker::BrokerError::Grant) => {
            own(answer(StatusCode::BAD_REQUEST, &error.to_string()))
        }
        Err(error) => {
            tracing::warn!(%error, "a JobAdder token request could not be brokered");
            own(answer(StatusCode::BAD_GATEWAY, &error.to_string()))
        }
    }
}

/// Marks a refusal as the hub's own, not JobAdder's (see `paths::BROKER_OWN_ERROR`).
fn own(mut refusal: Response) -> Response {
    refusal.headers_mut().insert(
        callcard_hub_contract::paths::BROKER_OWN_ERROR,
        axum::http::HeaderValue::from_static("1"),
    );
    refusal
}
