//! Request validation: the one collector of problems (`domain::validate::Validator`) and the
//! 400 it becomes here, naming every bad field.

pub use crate::domain::validate::{Validator, is_plausible_email, normalize_email};
use crate::error::ApiError;

impl Validator {
    /// `Ok` when nothing was found, else a 400 problem listing every field.
    pub fn finish(self) -> Result<(), ApiError> {
        let errors = self.into_errors();
        if errors.is_empty() { Ok(()) } else { Err(ApiError::validation(errors)) }
    }
}
