//! What the console saves goes through `ferry apply`'s own function (`cli::apply_under`), from the
//! TOML text the form stands for: the same validation, every error listed, the same versions.

use ferry_shared::definitions::Applied;

use super::ConsoleError;
use crate::state::AppState;

/// A problem `apply` found, as (where, what): `connection "bc".url`, "must be an http(s) URL".
pub type FieldError = (String, String);

/// Applies `text` (one definition file). `Ok(Err(..))` lists why it was refused; nothing is stored then.
pub async fn apply_text(
    state: &AppState,
    text: &str,
) -> Result<Result<Vec<Applied>, Vec<FieldError>>, ConsoleError> {
    let file = std::env::temp_dir().join(format!("ferry-console-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, text).map_err(ConsoleError::internal)?;
    let applied = crate::cli::apply::apply_under(
        &state.db,
        state.settings.secrets.env_prefix.as_deref(),
        std::slice::from_ref(&file),
    )
    .await;
    std::fs::remove_file(&file).ok();
    Ok(applied
        .map_err(ConsoleError::internal)?
        .map_err(|errors| errors.into_iter().map(|e| (e.key, e.message)).collect()))
}
