//! One module per subcommand.

pub mod init;
pub mod policy;
pub mod serve;
pub mod token;
