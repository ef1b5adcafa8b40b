//! Small-cell suppression of an aggregate report before it leaves the company.
//!
//! A report is a table of groups (the key columns) with the number of distinct people in each,
//! and the total of those numbers. Two rules keep every published figure about at least
//! `min_group` people (the example notice: "aggregates of at least 10 people"; the ICO's
//! anonymisation guidance and Eurostat's *Handbook on Statistical Disclosure Control* describe
//! both):
//!
//! 1. **Primary suppression**: a group of fewer than `min_group` people is not shown.
//! 2. **Secondary suppression**: the total minus the shown groups is the sum of the hidden
//!    ones, so hiding one group alone hides nothing. More groups are hidden, smallest first,
//!    until (a) at least two are hidden, (b) their sum is at least `min_group` (the hidden
//!    remainder is itself a figure about that many people) and (c) their sum exceeds their
//!    number (otherwise each hidden group is known to hold exactly one person). When the whole
//!    table cannot meet that, the total is hidden as well.
//!
//! After both, no hidden group's number can be worked out from the total and the shown groups:
//! the equation has at least two unknowns and more than one solution in positive numbers.
//! The report publishes no other sums (no subtotals per key), so no other equation exists.

use serde::Serialize;

/// Why a group is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    /// Fewer than `min_group` people.
    Primary,
    /// Hidden so that a primary one cannot be recovered from the total.
    Secondary,
}

/// One group of the published table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The group's key values, in the query's column order.
    pub keys: Vec<Option<String>>,
    /// The number of people, `None` when hidden.
    pub people: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Hidden>,
}

/// The table as it may be published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    pub min_group: u32,
    pub cells: Vec<Cell>,
    /// The sum over every group, `None` when it would reveal a hidden one.
    pub total: Option<i64>,
    /// Groups hidden for being too small.
    pub primary: usize,
    /// Groups hidden to protect them.
    pub secondary: usize,
}

impl Suppressed {
    /// Every hidden group, both rules.
    pub fn suppressed(&self) -> usize {
        self.primary + self.secondary
    }
}

/// Applies both rules to `groups` (key values, number of people). Groups keep their order.
pub fn suppress(groups: Vec<(Vec<Option<String>>, i64)>, min_group: u32) -> Suppressed {
    let min = i64::from(min_group);
    let mut cells: Vec<Cell> = groups
        .into_iter()
        .map(|(keys, people)| Cell {
            hidden: (people < min).then_some(Hidden::Primary),
            keys,
            people: Some(people),
        })
        .collect();
    let total: i64 = cells.iter().filter_map(|c| c.people).sum();
    let primary = cells.iter().filter(|c| c.hidden.is_some()).count();
    let mut secondary = 0;
    let safe = |cells: &[Cell]| {
        let hidden: Vec<i64> = cells
            .iter()
            .filter(|c| c.hidden.is_some())
            .filter_map(|c| c.people)
            .collect();
        let sum: i64 = hidden.iter().sum();
        hidden.is_empty() || (hidden.len() >= 2 && sum >= min && sum > hidden.len() as i64)
    };
    while !safe(&cells) {
        let smallest = cells
            .iter_mut()
            .filter(|c| c.hidden.is_none())
            .min_by_key(|c| c.people);
        match smallest {
            Some(c) => {
                c.hidden = Some(Hidden::Secondary);
                secondary += 1;
            }
            None => break,
        }
    }
    let total_shown = safe(&cells) && total >= min;
    for c in &mut cells {
        if c.hidden.is_some() {
            c.people = None;
        }
    }
    Suppressed {
        min_group,
        cells,
        total: total_shown.then_some(total),
        primary,
        secondary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(counts: &[i64]) -> Vec<(Vec<Option<String>>, i64)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (vec![Some(format!("g{i}"))], *n))
            .collect()
    }

    #[test]
    fn one_small_group_takes_the_next_smallest_with_it() {
        let s = suppress(table(&[40, 3, 25, 12]), 10);
        let shown: Vec<Option<i64>> = s.cells.iter().map(|c| c.people).collect();
        assert_eq!(shown, [Some(40), None, Some(25), None]);
        assert_eq!(s.cells[3].hidden, Some(Hidden::Secondary));
        assert_eq!((s.primary, s.secondary, s.total), (1, 1, Some(80)));
    }

    #[test]
    fn hidden_groups_that_add_up_to_a_small_group_take_more_with_them() {
        // 2 + 3 = 5 people hidden: the total would tell that five people are in g0 and g1.
        let s = suppress(table(&[2, 3, 50, 11]), 10);
        assert_eq!((s.primary, s.secondary), (2, 1));
        assert_eq!(s.cells[3].people, None);
        assert_eq!(s.total, Some(66));
    }

    #[test]
    fn nothing_small_hides_nothing_and_a_small_table_hides_all() {
        let s = suppress(table(&[10, 20]), 10);
        assert_eq!((s.suppressed(), s.total), (0, Some(30)));
        let s = suppress(table(&[4, 3]), 10);
        assert_eq!((s.primary, s.secondary, s.total), (2, 0, None));
        let s = suppress(table(&[]), 10);
        assert_eq!((s.suppressed(), s.total), (0, None));
    }

    proptest! {
        /// No shown figure is below `min_group`, and no hidden group can be solved for: with
        /// the total shown, at least two are hidden and their sum has more than one split
        /// into positive numbers, and is itself at least `min_group`.
        #[test]
        fn no_small_figure_is_shown_or_recoverable(
            counts in proptest::collection::vec(1i64..60, 0..12),
            min in 2u32..15,
        ) {
            let s = suppress(table(&counts), min);
            for c in &s.cells {
                if let Some(n) = c.people {
                    prop_assert!(n >= i64::from(min));
                }
            }
            if let Some(total) = s.total {
                prop_assert!(total >= i64::from(min));
                let shown: i64 = s.cells.iter().filter_map(|c| c.people).sum();
                let hidden = s.cells.iter().filter(|c| c.people.is_none()).count() as i64;
                let remainder = total - shown;
                prop_assert!(hidden == 0 || (hidden >= 2 && remainder >= i64::from(min) && remainder > hidden));
            }
            let small = counts.iter().filter(|n| **n < i64::from(min)).count();
            prop_assert_eq!(s.primary, small);
        }
    }
}
