//! Access tokens (JWT, HS256) and opaque single-use secrets (refresh, email, invitation
//! tokens), of which only a SHA-256 hash is ever stored.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::ApiError;

pub const ISSUER: &str = "techx";
pub const AUDIENCE: &str = "techx-api";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// Platform role when issued; informational — permissions use the database's.
    pub role: String,
    /// Session (refresh-token family) the token belongs to.
    pub sid: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl_secs: u64,
}

impl JwtKeys {
    pub fn new(config: &AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
            validation,
            access_ttl_secs: config.access_ttl.as_secs(),
        }
    }

    pub fn access_ttl_secs(&self) -> u64 {
        self.access_ttl_secs
    }

    pub fn issue(&self, user_id: &str, role: &str, session_id: &str) -> Result<String, ApiError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            iat: now,
            exp: now + self.access_ttl_secs,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            role: role.to_owned(),
            sid: session_id.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal_from)
    }

    /// Validates signature, algorithm (HS256 only: `none` and others are refused), expiry,
    /// issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let detail = match e.kind() {
                    ErrorKind::ExpiredSignature => "The access token has expired.",
                    _ => "The access token is invalid.",
                };
                ApiError::unauthorized(detail)
            })
    }
}

pub use super::secret::{hex, random_token, token_hash};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn keys(secret: &str) -> JwtKeys {
        let mut config = Config::from_lookup(|_| None).unwrap().auth;
        config.jwt_secret = secret.as_bytes().to_vec();
        JwtKeys::new(&config)
    }

    #[test]
    fn round_trip_and_foreign_keys_rejected() {
        let a = keys("a-secret-that-is-long-enough-for-hs256!!");
        let b = keys("another-secret-that-is-long-enough-too!!");
        let token = a.issue("u1", "member", "s1").unwrap();
        let claims = a.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.aud.as_str(), claims.iss.as_str()),
            ("u1", AUDIENCE, ISSUER)
        );
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(b.verify(&token).unwrap_err().status.as_u16(), 401);
    }

    #[test]
    fn tokens_are_random_and_hashed_stably() {
        let (t1, t2) = (random_token(), random_token());
        assert_ne!(t1, t2);
        assert_eq!(t1.len(), 43);
        assert_eq!(token_hash(&t1), token_hash(&t1));
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
