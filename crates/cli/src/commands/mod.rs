//! One module per subcommand.

pub mod audit;
pub mod consent;
pub mod dataset;
pub mod datastore;
pub mod deadline;
pub mod init;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod policy;
pub mod report;
pub mod retention;
pub mod serve;
pub mod token;
pub mod user;
