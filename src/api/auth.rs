//! Registration, email verification, sign-in with rotating refresh tokens, sign-out and
//! password reset.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::extract::Json;
use crate::api::users::UserDto;
use crate::api::validate::{Validator, normalize_email};
use crate::auth::{PlatformRole, password};
use crate::db::dialect;
use crate::domain::lang::Lang;
use crate::error::ApiError;
use crate::mail::{self, Mail, Template};
use crate::state::AppState;
use crate::store::sessions::{self, EmailPurpose, Rotation};
use crate::store::users::{self, NewUser};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "lan.nguyen@vast.vn")]
    pub email: String,
    /// At least 10 characters, not your email, not a common password.
    #[schema(example = "nông nghiệp xanh 2026")]
    pub password: String,
    #[schema(example = "Nguyễn Thị Lan")]
    pub display_name: String,
    /// Language of mails and messages (default `vi`).
    pub language: Option<Lang>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token from the mailed link.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "lan.nguyen@vast.vn")]
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendVerificationRequest {
    #[schema(example = "lan.nguyen@vast.vn")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// From the mailed link.
    pub token: String,
    /// At least 10 characters, not the email address, not a common password.
    #[schema(example = "cà phê sữa đá 2027")]
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque, single-use: exchange it at `/auth/refresh` for a new pair.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    #[schema(example = 900)]
    pub expires_in: u64,
}

const MAX_NAME: usize = 100;

/// Issues an access token and a refresh token for a new session of `user`.
pub(crate) fn start_session(
    state: &AppState,
    conn: &mut crate::db::DbConn,
    user: &users::User,
) -> Result<TokenResponse, ApiError> {
    let refresh = sessions::issue_refresh(conn, user.id, None, state.config.auth.refresh_ttl)?;
    tokens(state, user, refresh)
}

fn tokens(
    state: &AppState,
    user: &users::User,
    refresh: sessions::IssuedRefresh,
) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: state.jwt.issue(
            &user.id.to_string(),
            &user.platform_role,
            &refresh.family.to_string(),
        )?,
        refresh_token: refresh.token,
        token_type: "Bearer".into(),
        expires_in: state.jwt.access_ttl_secs(),
    })
}

fn mail_lang(language: &str) -> Lang {
    Lang::parse(language).unwrap_or_default()
}

/// Issues a verification token for `user` and queues its mail, in the caller's transaction.
fn queue_verification(
    conn: &mut crate::db::DbConn,
    st: &AppState,
    user: &users::User,
    lang: Lang,
) -> Result<(), ApiError> {
    let token = sessions::issue_email_token(
        conn,
        user.id,
        EmailPurpose::VerifyEmail,
        st.config.auth.verify_email_ttl,
    )?;
    mail::enqueue(
        conn,
        &Mail {
            to: user.email.clone(),
            template: Template::VerifyEmail,
            lang,
            context: serde_json::json!({
                "display_name": user.display_name,
                "verify_url": st.config.mail.link(&format!("/verify-email?token={token}")),
                "token": token,
            }),
        },
    )?;
    Ok(())
}

/// Create an account; a verification mail is sent.
///
/// Registering again with an address whose account is not verified yet answers 201 as well
/// and sends a new verification mail, but changes nothing stored: the password, name and
/// language of the first registration stay (no one has proved the mailbox yet, so a second
/// registration must not be able to take over the account). Whoever owns the mailbox and does
/// not know that password uses the password reset, which also verifies the address.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created, or an unverified account's verification mail re-sent", body = UserDto),
        (status = 409, description = "A verified (or disabled) account has this email (`email_taken`)"),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut v = Validator::new();
    v.email("email", &body.email);
    v.text("display_name", &body.display_name, MAX_NAME);
    v.finish()?;
    password::check_policy("password", &body.password, &body.email)?;
    let plain = body.password.clone();
    let hash = password::blocking(move || password::hash(&plain)).await??;
    let lang = body.language.unwrap_or_default();
    let st = state.clone();
    let user = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let email_normalized = normalize_email(&body.email);
                if let Some(existing) = users::find_by_email(conn, &email_normalized)? {
                    if existing.email_verified_at.is_some() || existing.disabled_at.is_some() {
                        return Err(ApiError::conflict(
                            "email_taken",
                            "An account with this email already exists.",
                        ));
                    }
                    queue_verification(conn, &st, &existing, mail_lang(&existing.language))?;
                    return Ok(existing);
                }
                let user = users::create(
                    conn,
                    &NewUser {
                        email: &body.email,
                        email_normalized: &email_normalized,
                        password_hash: &hash,
                        display_name: &body.display_name,
                        language: lang.code(),
                        role: PlatformRole::Member,
                        verified: false,
                    },
                )?;
                queue_verification(conn, &st, &user, lang)?;
                Ok(user)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(UserDto::from(&user)))
}

/// Send the verification mail again. Always 202, whether or not the email has an account,
/// and whether or not it is verified: the answer reveals nothing.
#[utoipa::path(
    tag = "auth",
    request_body = ResendVerificationRequest,
    responses((status = 202, description = "If an unverified account has this email, a new verification mail is on its way"))
)]
#[post("/auth/verify-email/resend")]
pub async fn resend_verification(
    state: web::Data<AppState>,
    body: Json<ResendVerificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = normalize_email(&body.0.email);
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let Some(user) = users::find_by_email(conn, &email)? else { return Ok(()) };
                if user.email_verified_at.is_some() || user.disabled_at.is_some() {
                    return Ok(());
                }
                queue_verification(conn, &st, &user, mail_lang(&user.language))
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Confirm an email address with the token from the verification mail.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 204, description = "Email verified"),
        (status = 400, description = "Invalid, expired or used token (`invalid_token`)"),
    )
)]
#[post("/auth/verify-email")]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.token;
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let user = sessions::consume_email_token(conn, &token, EmailPurpose::VerifyEmail)?;
                users::mark_verified(conn, user)
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr().map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("Email or password is incorrect.")
}

/// Sign in. Repeated failures lock the account and the client address for a while (429).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Email or password is incorrect"),
        (status = 403, description = "Email not verified (`email_not_verified`) or account disabled (`account_disabled`)"),
        (status = 429, description = "Too many failed attempts; retry after `Retry-After` seconds"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password: plain } = body.0;
    let email = normalize_email(&email);
    let ip_key = sessions::ip_key(&client_ip(&req));
    let (user, locked) = {
        let (email, ip_key) = (email.clone(), ip_key.clone());
        state
            .db
            .run(move |conn| -> Result<_, ApiError> {
                let user = users::find_by_email(conn, &email)?;
                let mut locked = sessions::locked_for(conn, &ip_key)?;
                if let Some(user) = &user {
                    locked =
                        locked.max(sessions::locked_for(conn, &sessions::account_key(user.id))?);
                }
                Ok((user, locked))
            })
            .await?
    };
    if let Some(seconds) = locked {
        return Err(ApiError::too_many_requests(seconds));
    }
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::blocking(move || match stored_hash {
        Some(hash) => password::verify(&hash, &plain),
        None => {
            password::verify_against_dummy(&plain);
            false
        }
    })
    .await?;

    let auth = state.config.auth.clone();
    let st = state.clone();
    let outcome = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let user = match (user, matches) {
                    (Some(user), true) => user,
                    (user, _) => {
                        sessions::record_failure(conn, &ip_key, auth.max_failures_per_ip, auth.lockout)?;
                        if let Some(user) = user {
                            let key = sessions::account_key(user.id);
                            sessions::record_failure(conn, &key, auth.max_failures_per_account, auth.lockout)?;
                        }
                        return Ok(Err(invalid_credentials()));
                    }
                };
                sessions::clear(conn, &sessions::account_key(user.id))?;
                if user.disabled_at.is_some() {
                    return Ok(Err(ApiError::new(StatusCode::FORBIDDEN, "account_disabled", "This account is disabled.")));
                }
                if user.email_verified_at.is_none() {
                    return Ok(Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "email_not_verified",
                        "Confirm your email address first: follow the link in the verification mail.",
                    )));
                }
                start_session(&st, conn, &user).map(Ok)
            })
        })
        .await?;
    // Failures are committed (they count) and only then reported.
    Ok(HttpResponse::Ok().json(outcome?))
}

/// Exchange a refresh token for a new pair. Each refresh token works once: presenting a used
/// one revokes its whole session (it was probably stolen).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh_tokens(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.refresh_token;
    let st = state.clone();
    let outcome = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                Ok(match sessions::rotate(conn, &token, st.config.auth.refresh_ttl)? {
                    Rotation::Rotated { user, next } => {
                        let user = users::get(conn, user)?;
                        if user.disabled_at.is_some() {
                            sessions::revoke_family(conn, next.family)?;
                            Err(ApiError::unauthorized("This account is disabled."))
                        } else {
                            tokens(&st, &user, next)
                        }
                    }
                    Rotation::ReuseDetected => {
                        tracing::warn!("refresh token reuse detected; session revoked");
                        Err(ApiError::unauthorized(
                            "This refresh token was already used; the session has been revoked.",
                        ))
                    }
                    Rotation::Invalid => {
                        Err(ApiError::unauthorized("The refresh token is invalid or expired."))
                    }
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(outcome?))
}

/// Sign out: revokes the session the refresh token belongs to (its access tokens stop
/// working too).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was unknown)"))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.refresh_token;
    state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            if let Some(family) = sessions::family_of(conn, &token)? {
                sessions::revoke_family(conn, family)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password reset mail. Always 202, whether or not the email has an account.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordResetRequest,
    responses((status = 202, description = "If the account exists, a reset mail is on its way"))
)]
#[post("/auth/password-reset")]
pub async fn password_reset(
    state: web::Data<AppState>,
    body: Json<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = normalize_email(&body.0.email);
    let st = state.clone();
    // Both paths do a lookup and a short transaction; the mail itself is sent later by the
    // outbox worker, so timing does not reveal whether the account exists.
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                let Some(user) = users::find_by_email(conn, &email)? else { return Ok(()) };
                if user.disabled_at.is_some() {
                    return Ok(());
                }
                let token = sessions::issue_email_token(
                    conn,
                    user.id,
                    EmailPurpose::PasswordReset,
                    st.config.auth.password_reset_ttl,
                )?;
                mail::enqueue(
                    conn,
                    &Mail {
                        to: user.email.clone(),
                        template: Template::PasswordReset,
                        lang: mail_lang(&user.language),
                        context: serde_json::json!({
                            "display_name": user.display_name,
                            "reset_url": st.config.mail.link(&format!("/reset-password?token={token}")),
                            "token": token,
                        }),
                    },
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Set a new password with the token from the reset mail; every session is signed out.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password changed; all sessions revoked"),
        (status = 400, description = "Invalid token or password policy violation"),
    )
)]
#[post("/auth/password-reset/confirm")]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: Json<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let PasswordResetConfirm { token, new_password } = body.0;
    // Length rules first, cheaply; the email rule needs the account, checked below.
    password::check_policy("new_password", &new_password, "")?;
    let plain = new_password.clone();
    let hash = password::blocking(move || password::hash(&plain)).await??;
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                let user_id =
                    sessions::consume_email_token(conn, &token, EmailPurpose::PasswordReset)?;
                let user = users::get(conn, user_id)?;
                password::check_policy("new_password", &new_password, &user.email)?;
                users::set_password(conn, user.id, &hash)?;
                // Whoever could read the mailbox proved it: the address is verified (an
                // account whose verification mail was lost recovers this way) and the
                // account unlocked.
                users::mark_verified(conn, user.id)?;
                sessions::clear(conn, &sessions::account_key(user.id))?;
                sessions::revoke_all_for_user(conn, user.id, None)?;
                mail::enqueue(
                    conn,
                    &Mail {
                        to: user.email.clone(),
                        template: Template::PasswordChanged,
                        lang: mail_lang(&user.language),
                        context: serde_json::json!({ "display_name": user.display_name }),
                    },
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The auth routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(verify_email)
        .service(resend_verification)
        .service(login)
        .service(refresh_tokens)
        .service(logout)
        .service(password_reset)
        .service(password_reset_confirm);
}
