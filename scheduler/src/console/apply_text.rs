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
    let file = Scratch::write(text).map_err(ConsoleError::internal)?;
    let applied = crate::cli::apply::apply_under(
        &state.db,
        state.settings.secrets.env_prefix.as_deref(),
        std::slice::from_ref(&file.0),
    )
    .await;
    drop(file);
    Ok(applied
        .map_err(ConsoleError::internal)?
        .map_err(|errors| errors.into_iter().map(|e| (e.key, e.message)).collect()))
}

/// The file `apply` reads: readable by this user only, created afresh (never an existing file), and
/// removed when dropped, also when the request is abandoned midway. It holds no secret (a definition
/// names a secret's variable, never its value), but it is the operator's work in progress.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn write(text: &str) -> std::io::Result<Scratch> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path =
            std::env::temp_dir().join(format!("ferry-console-{}.toml", uuid::Uuid::new_v4()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let scratch = Scratch(path);
        file.write_all(text.as_bytes())?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
