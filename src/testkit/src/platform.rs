//! A platform with a clock the test sets and a log the test reads.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use snapper_core::{Level, Platform};

/// Clock and log shared between the test and the manager (cloning shares).
#[derive(Clone, Default)]
pub struct SimPlatform {
    /// Seconds since the epoch that `now` answers.
    pub clock: Rc<Cell<u64>>,
    /// Every line logged, with its level.
    pub lines: Rc<RefCell<Vec<(Level, String)>>>,
}

impl SimPlatform {
    /// A platform whose clock reads `seconds`.
    pub fn at(seconds: u64) -> Self {
        let platform = SimPlatform::default();
        platform.clock.set(seconds);
        platform
    }

    /// Whether a line of `level` containing `needle` was logged.
    pub fn logged(&self, level: Level, needle: &str) -> bool {
        self.lines
            .borrow()
            .iter()
            .any(|(l, text)| *l == level && text.contains(needle))
    }

    /// How many lines have been logged so far.
    pub fn line_count(&self) -> usize {
        self.lines.borrow().len()
    }

    /// The lines logged after the first `from`.
    pub fn lines_since(&self, from: usize) -> Vec<(Level, String)> {
        self.lines.borrow().iter().skip(from).cloned().collect()
    }
}

impl Platform for SimPlatform {
    fn now(&mut self) -> u64 {
        self.clock.get()
    }

    fn log(&mut self, level: Level, message: std::fmt::Arguments<'_>) {
        self.lines.borrow_mut().push((level, message.to_string()));
    }
}
