//! The routes of a moderated resource, written once: [`moderated_routes!`] makes its create,
//! edit, delete, submit, review, archive and renew handlers with their OpenAPI text, and the
//! `configure` that registers them.

/// Writes a moderated resource's create, edit, delete, submit, review, archive and renew
/// handlers (each one call into [`crate::api::moderation`], generic over the resource) in a
/// private module `handlers`, and `pub fn configure(cfg)` registering them in that order.
///
/// A macro, not a generic function, because what differs per resource is OpenAPI text:
/// `#[utoipa::path]` and actix's route attributes take literals, and utoipa names each
/// operation after its function. The invocation says what differs: the resource (an
/// implementation of [`crate::api::moderation::Resource`]), its body type, tag and the words
/// of its 404s; per operation its doc comment (the operation's summary), function name and
/// path; for `create` and `update` the request body, for `submit` the 409's words. What
/// every moderated resource answers alike (403, 409, `If-Match`, `Idempotency-Key`, bearer
/// security) is written here.
///
/// ```ignore
/// moderated_routes! {
///     resource: Listings, dto: TechnologyDto, tag: "technologies",
///     not_visible: "No such listing, or not visible to the caller",
///     not_found: "No such listing",
///     /// Create a draft listing …
///     create: create_technology("/technologies", CreateTechnologyRequest),
///     /// Edit a listing …
///     update: update_technology("/technologies/{id}", UpdateTechnologyRequest),
///     /// Delete a listing …
///     delete: delete_technology("/technologies/{id}"),
///     /// Submit a draft for review …
///     submit: submit_technology("/technologies/{id}/submit", not_a_draft: "Not a draft …"),
///     review: …, archive: …, renew: …
/// }
/// ```
macro_rules! moderated_routes {
    (
        resource: $R:ident,
        dto: $Dto:ident,
        tag: $tag:literal,
        not_visible: $not_visible:literal,
        not_found: $not_found:literal,
        $(#[doc = $create_doc:literal])*
        create: $create:ident($create_path:literal, $Draft:ident),
        $(#[doc = $update_doc:literal])*
        update: $update:ident($update_path:literal, $Patch:ident),
        $(#[doc = $delete_doc:literal])*
        delete: $delete:ident($delete_path:literal),
        $(#[doc = $submit_doc:literal])*
        submit: $submit:ident($submit_path:literal, not_a_draft: $not_a_draft:literal),
        $(#[doc = $review_doc:literal])*
        review: $review:ident($review_path:literal),
        $(#[doc = $archive_doc:literal])*
        archive: $archive:ident($archive_path:literal),
        $(#[doc = $renew_doc:literal])*
        renew: $renew:ident($renew_path:literal) $(,)?
    ) => {
        // A module of its own, so that the names the route attributes need (utoipa finds
        // actix's `#[post]` only by its bare name) do not clash with the caller's imports.
        mod handlers {
            use actix_web::{HttpRequest, HttpResponse, delete, patch, post, web};

            use super::{$Draft, $Dto, $Patch, $R};
            use crate::api::cache::IF_MATCH_DOC;
            use crate::api::extract::{Json, Path};
            use crate::api::moderation::{self, ReviewRequest};
            use crate::auth::extract::Auth;
            use crate::auth::policy::ModeratedAction;
            use crate::domain::moderation::Transition;
            use crate::error::ApiError;
            use crate::state::AppState;

            $(#[doc = $create_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
                request_body = $Draft,
                responses(
                    (status = 201, description = "Created as a draft", body = $Dto, headers(("ETag" = String), ("Location" = String))),
                    (status = 403, description = "Not a member of the organisation"),
                    (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
                )
            )]
            #[post($create_path)]
            pub async fn $create(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                body: Json<$Draft>,
            ) -> Result<HttpResponse, ApiError> {
                moderation::create::<$R>(&state, &req, auth.0, body.0).await
            }

            $(#[doc = $update_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
                request_body = $Patch,
                responses(
                    (status = 200, body = $Dto, headers(("ETag" = String))),
                    (status = 403, description = "Not a member of the owning organisation"),
                    (status = 404, description = $not_visible),
                    (status = 409, description = "Archived (`invalid_transition`)"),
                )
            )]
            #[patch($update_path)]
            pub async fn $update(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                path: Path<uuid::Uuid>,
                body: Json<$Patch>,
            ) -> Result<HttpResponse, ApiError> {
                moderation::update::<$R>(&state, &req, auth.0, path.0.into(), body.0).await
            }

            $(#[doc = $delete_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
                responses(
                    (status = 204, description = "Erased (a never-submitted draft) or archived"),
                    (status = 403, description = "Not a member of the owning organisation"),
                    (status = 404, description = $not_visible),
                    (status = 409, description = "Already archived (`invalid_transition`)"),
                )
            )]
            #[delete($delete_path)]
            pub async fn $delete(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                path: Path<uuid::Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                moderation::delete::<$R>(&state, &req, auth.0, path.0.into()).await
            }

            $(#[doc = $submit_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
                responses(
                    (status = 200, description = "Now `pending_review`", body = $Dto, headers(("ETag" = String))),
                    (status = 403, description = "Not a member of the owning organisation"),
                    (status = 404, description = $not_visible),
                    (status = 409, description = $not_a_draft),
                )
            )]
            #[post($submit_path)]
            pub async fn $submit(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                path: Path<uuid::Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                let (action, transition) = (ModeratedAction::Manage, Transition::Submit);
                moderation::step::<$R>(&state, &req, auth.0, path.0.into(), action, transition)
                    .await
            }

            $(#[doc = $review_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
                request_body = ReviewRequest,
                responses(
                    (status = 200, body = $Dto, headers(("ETag" = String))),
                    (status = 403, description = "Staff only"),
                    (status = 404, description = $not_found),
                    (status = 409, description = "Not under review (`invalid_transition`)"),
                )
            )]
            #[post($review_path)]
            pub async fn $review(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                path: Path<uuid::Uuid>,
                body: Json<ReviewRequest>,
            ) -> Result<HttpResponse, ApiError> {
                moderation::review::<$R>(&state, &req, auth.0, path.0.into(), body.0).await
            }

            $(#[doc = $archive_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
                responses(
                    (status = 200, description = "Now `archived`", body = $Dto, headers(("ETag" = String))),
                    (status = 403, description = "Not a member of the owning organisation nor staff"),
                    (status = 404, description = $not_visible),
                    (status = 409, description = "Already archived (`invalid_transition`)"),
                )
            )]
            #[post($archive_path)]
            pub async fn $archive(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                path: Path<uuid::Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                let (action, transition) = (ModeratedAction::Archive, Transition::Archive);
                moderation::step::<$R>(&state, &req, auth.0, path.0.into(), action, transition)
                    .await
            }

            $(#[doc = $renew_doc])*
            #[utoipa::path(
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
                responses(
                    (status = 200, body = $Dto, headers(("ETag" = String))),
                    (status = 403, description = "Not a member of the owning organisation"),
                    (status = 404, description = $not_visible),
                    (status = 409, description = "Not published (`invalid_transition`)"),
                )
            )]
            #[post($renew_path)]
            pub async fn $renew(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: Auth,
                path: Path<uuid::Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                let (action, transition) = (ModeratedAction::Manage, Transition::Renew);
                moderation::step::<$R>(&state, &req, auth.0, path.0.into(), action, transition)
                    .await
            }
        }

        /// Registers the create, edit, delete, submit, review, archive and renew routes.
        pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
            cfg.service(handlers::$create)
                .service(handlers::$update)
                .service(handlers::$delete)
                .service(handlers::$submit)
                .service(handlers::$review)
                .service(handlers::$archive)
                .service(handlers::$renew);
        }
    };
}
pub(crate) use moderated_routes;

/// Writes a moderated resource's read (`GET …/{id}`, for anyone who may see the row: one
/// call to [`crate::api::moderation::get`]) with its OpenAPI text, as [`moderated_routes!`]
/// does for the changes; the resource module registers it where its document lists it.
macro_rules! moderated_read {
    (
        resource: $R:ident,
        dto: $Dto:ident,
        tag: $tag:literal,
        not_visible: $not_visible:literal,
        $(#[doc = $doc:literal])*
        get: $get:ident($path:literal) $(,)?
    ) => {
        mod read {
            use actix_web::{HttpRequest, HttpResponse, get, web};

            use super::{$Dto, $R};
            use crate::api::cache::IF_NONE_MATCH_DOC;
            use crate::api::extract::Path;
            use crate::auth::extract::MaybeAuth;
            use crate::error::ApiError;
            use crate::state::AppState;

            $(#[doc = $doc])*
            #[utoipa::path(
                security((), ("bearer" = [])),
                tag = $tag,
                params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
                responses(
                    (status = 200, body = $Dto, headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
                    (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
                    (status = 404, description = $not_visible),
                )
            )]
            #[get($path)]
            pub async fn $get(
                req: HttpRequest,
                state: web::Data<AppState>,
                auth: MaybeAuth,
                path: Path<uuid::Uuid>,
            ) -> Result<HttpResponse, ApiError> {
                crate::api::moderation::get::<$R>(&req, &state, auth.0, path.0.into()).await
            }
        }
        use read::$get;
    };
}
pub(crate) use moderated_read;
