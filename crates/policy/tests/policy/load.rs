//! Each rule of `load`: one mutation of the example, exactly the expected problem, in place.
//! The tests sit in one module per kind of rule; `one` is the assertion they share.

mod accountability;
mod answers;
mod calendars;
mod references;
mod shape;
mod translations;
mod values;

use super::{position, problems};

/// Asserts that `text` has exactly one problem, at `needle`, on `path`, saying `message`.
#[track_caller]
fn one(text: &str, needle: &str, path: &str, message: &str) -> custodian_policy::Problem {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got:\n{found:#?}");
    let p = found.into_iter().next().expect("one problem");
    assert_eq!((p.line, p.column), position(text, needle), "{p:#?}");
    assert_eq!(p.path, path, "{p:#?}");
    assert!(
        p.message.contains(message),
        "`{}` lacks `{message}`",
        p.message
    );
    assert!(
        !p.help.is_empty(),
        "every problem says how to fix it: {p:#?}"
    );
    assert_eq!(p.file, "policy.toml");
    p
}
