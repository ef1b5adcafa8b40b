//! What `load` reports when a file is wrong: located, explained problems, all of them at once.
//!
//! A DPO fixing a policy file wants the whole list in one run, each with the place and the fix,
//! the way a compiler reports errors; so a problem carries its file, line, column, the path of
//! the key in the model and a `help` line.

use std::fmt;

use serde::Serialize;

/// One thing wrong with a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, counted in characters.
    pub column: usize,
    /// Where in the model, e.g. `purposes[3].categories[1]`; empty for the whole file.
    pub path: String,
    pub message: String,
    /// What would fix it.
    pub help: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if !self.help.is_empty() {
            write!(f, "\n  help: {}", self.help)?;
        }
        Ok(())
    }
}

/// Every problem found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", display_all(.0))]
pub struct Problems(pub Vec<Problem>);

fn display_all(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("{p}\n")).collect()
}

impl Problems {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
