//! axum's `Json`, `Path` and `Query`, with their rejections turned into [`ApiError`], so
//! that a malformed request gets the same error body as any other failure.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;

use super::error::ApiError;

/// A JSON body. Wrong content type or broken JSON is 400, a body that does not fit the
/// DTO (unknown field, wrong type, missing field) is 422, over the body limit is 413.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);
