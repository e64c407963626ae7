//! What an entrance answers when a turn fails: the protocol's failure as
//! an OpenAI-style error with the status a client library acts on (4xx:
//! fix the request or the wallet; 429 and 5xx: try again).

use axum::http::StatusCode;
use peer2prompt::ecash::EcashError;
use peer2prompt::node::wire::Refusal;
use peer2prompt::node::{PaymentFailure, TurnFailure};

use super::api::ApiError;

/// The error for a turn that failed for good.
pub fn turn_error(reason: &TurnFailure) -> ApiError {
    let why = format!("{reason:?}");
    match reason {
        TurnFailure::NoRoute(_) | TurnFailure::NoMint => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no route to a service: {why}"),
            "server_error",
            "no_route",
        ),
        TurnFailure::Payment(PaymentFailure::Wallet(EcashError::InsufficientFunds { .. })) => {
            no_funds(&why)
        }
        TurnFailure::Refused(Refusal::UnknownModel) => ApiError::new(
            StatusCode::NOT_FOUND,
            why,
            "invalid_request_error",
            "model_not_found",
        ),
        TurnFailure::Refused(Refusal::RateLimited | Refusal::Busy) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            why,
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
        TurnFailure::Timeout => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "the service stopped answering",
            "server_error",
            "timeout",
        ),
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the turn failed ({}): {why}", other.kind()),
            "server_error",
            "turn_failed",
        ),
    }
}

/// 402: the wallet cannot pay.
pub fn no_funds(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        format!("the client's ecash wallet cannot pay for this request: {detail}"),
        "insufficient_quota",
        "insufficient_funds",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use peer2prompt::ecash::Amount;
    use peer2prompt::onion::OnionError;

    #[test]
    fn failures_map_to_their_statuses() {
        let poor = TurnFailure::Payment(PaymentFailure::Wallet(EcashError::InsufficientFunds {
            needed: Amount::new(5),
            available: Amount::new(0),
        }));
        assert_eq!(turn_error(&poor).status, StatusCode::PAYMENT_REQUIRED);
        let lost = TurnFailure::NoRoute(OnionError::NoRoute { reason: "none" });
        assert_eq!(turn_error(&lost).status, StatusCode::SERVICE_UNAVAILABLE);
        let model = TurnFailure::Refused(Refusal::UnknownModel);
        assert_eq!(turn_error(&model).status, StatusCode::NOT_FOUND);
        assert_eq!(
            turn_error(&TurnFailure::Timeout).status,
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            turn_error(&TurnFailure::ProbeFailed).status,
            StatusCode::BAD_GATEWAY
        );
    }
}
