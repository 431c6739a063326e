//! A stored credential of one connection: a client secret or a device-code sign-in. The secret columns
//! hold ciphertext only (see `crate::secrets`); this model is never printed or serialized.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_credentials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub connection: String,
    /// `client_secret` or `refresh_token`.
    pub kind: String,
    /// The sealed secret (`v2.<key id>.<binding>.<base64>`; `v1.…`, unbound, from before, opens no more).
    pub ciphertext: String,
    /// The master key both sealed columns were encrypted under.
    pub key_id: String,
    /// The last access token from a refresh, sealed, so a second worker re-reads it instead of
    /// spending the refresh token again.
    pub access_ciphertext: Option<String>,
    pub access_expires_at: Option<DateTimeWithTimeZone>,
    /// Who signed in, when the identity provider said (`preferred_username` / `upn`).
    pub account: Option<String>,
    /// When the secret itself stops working, when known.
    pub expires_at: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
