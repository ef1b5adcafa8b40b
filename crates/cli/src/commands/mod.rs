//! One module per subcommand.

pub mod consent;
pub mod init;
pub mod ledger;
pub mod policy;
pub mod serve;
pub mod token;
