//! Ferry's own tables, applied at every start (`Migrator::up` is idempotent). One file per migration;
//! add a new one to the list, never edit an applied one.

mod m0001_initial;
mod m0002_job_system;
mod m0003_credentials;
mod m0004_mapping;
mod m0005_couplings;
mod m0006_hardening;
mod m0007_callbacks;
mod m0008_owed;
mod m0009_lifecycle;
mod m0010_waits;
mod m0011_idempotency_mode;
mod m0012_lookup_chains;
mod m0013_source_schemas;
mod m0014_export;
mod m0015_attempts;
mod m0016_couplings_one_target_index;
mod m0017_couplings_fillfactor;

use sea_orm_migration::prelude::*;

#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_job_system::Migration),
            Box::new(m0003_credentials::Migration),
            Box::new(m0004_mapping::Migration),
            Box::new(m0005_couplings::Migration),
            Box::new(m0006_hardening::Migration),
            Box::new(m0007_callbacks::Migration),
            Box::new(m0008_owed::Migration),
            Box::new(m0009_lifecycle::Migration),
            Box::new(m0010_waits::Migration),
            Box::new(m0011_idempotency_mode::Migration),
            Box::new(m0012_lookup_chains::Migration),
            Box::new(m0013_source_schemas::Migration),
            Box::new(m0014_export::Migration),
            Box::new(m0015_attempts::Migration),
            Box::new(m0016_couplings_one_target_index::Migration),
            Box::new(m0017_couplings_fillfactor::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "ferry_migrations".into()
    }
}
