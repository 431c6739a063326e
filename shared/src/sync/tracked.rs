//! Reading a tracked source (`source.changes = "track"`, OData change tracking): an incremental run
//! follows the delta link the last run stored; a first run, a full run, or a run whose link the
//! service no longer honours (Dataverse refuses tokens older than its retention period) reads every
//! record with `Prefer: odata.track-changes`, and its last page hands out the next link.

use super::error::SyncError;
use crate::mapping::Mapping;
use crate::odata::client::SourceError;
use crate::source::{Pages, Source};

/// The pages a tracked run reads, and why it reads everything when it meant to follow a link.
pub(super) async fn pages(
    source: &Source,
    mapping: &Mapping,
    delta_link: Option<&str>,
) -> Result<(Pages, Option<String>), SyncError> {
    let Some(link) = delta_link else {
        return Ok((
            source.read(&mapping.entity, &super::read::tracked(mapping)),
            None,
        ));
    };
    let refused = match source.follow(link, &super::read::tracking(mapping)) {
        Ok(mut pages) => match pages.read_first().await {
            Ok(()) => return Ok((pages, None)),
            Err(e) if refuses_link(&e) => format!(
                "the service refused the stored delta link ({e}), so what changed since the last \
                 run cannot be read; reading everything again"
            ),
            Err(e) => return Err(e.into()),
        },
        Err(e) => {
            format!("the stored delta link cannot be followed ({e}); reading everything again")
        }
    };
    Ok((
        source.read(&mapping.entity, &super::read::tracked(mapping)),
        Some(refused),
    ))
}

/// Whether the service refuses the delta link itself, rather than being unreachable or busy: OData
/// answers 410 Gone for a link it no longer supports; Dataverse 400 with `0x80044352`
/// (ExpiredVersionStamp) for an expired token, and 400 or 404 for one it cannot read.
fn refuses_link(e: &SourceError) -> bool {
    matches!(
        e,
        SourceError::Http {
            status: 400 | 404 | 410,
            ..
        }
    )
}
