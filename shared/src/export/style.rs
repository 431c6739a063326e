//! How each kind of remote system takes an export's writes: batch size and format, and how a create
//! is made safe to retry.

/// How a connection kind takes batches and creates.
#[derive(Debug, Clone)]
pub struct Style {
    /// Operations per `$batch` (Business Central: 100; Dataverse: 1,000).
    pub max_operations: usize,
    /// Headers on the batch request itself.
    pub headers: Vec<(&'static str, String)>,
    /// How the batch travels: Business Central takes JSON; Dataverse only `multipart/mixed`.
    pub multipart: bool,
    /// How a record is created, and so what makes a retried create harmless.
    pub creates: Creates,
}

/// How a create is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creates {
    /// POST to the collection with the record's own key in the body, after a lookup of the page's
    /// new keys (Business Central, OData): a record there already is adopted, not created again.
    PostAfterLookup,
    /// PATCH to the record's address with `If-None-Match: *` (Dataverse's upsert, made create-only):
    /// the key is Ferry's (the local row's GUID), and a 412 means it exists already, so it is
    /// read back and adopted. No lookup first.
    PatchIfNoneMatch,
}

impl Style {
    /// Business Central: at most 100 operations, run as one snapshot (all or nothing: a refused
    /// record rolls the others back, which are sent again without it).
    pub fn business_central() -> Style {
        Style {
            max_operations: 100,
            headers: vec![("Isolation", "snapshot".into())],
            multipart: false,
            creates: Creates::PostAfterLookup,
        }
    }

    /// A generic OData v4.01 service.
    pub fn odata() -> Style {
        Style {
            max_operations: 100,
            headers: Vec::new(),
            multipart: false,
            creates: Creates::PostAfterLookup,
        }
    }

    /// Dataverse: up to 1,000 independent requests (no change sets: one refused record must not
    /// fail the others) with `odata.continue-on-error`.
    pub fn dataverse() -> Style {
        Style {
            max_operations: crate::odata::multipart::MAX_OPERATIONS,
            headers: Vec::new(),
            multipart: true,
            creates: Creates::PatchIfNoneMatch,
        }
    }
}
