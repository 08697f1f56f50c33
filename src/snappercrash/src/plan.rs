//! One boot's plan, from the client's config (written by
//! run/snappercrash.run before each boot):
//!
//! | attribute | meaning | default |
//! |---|---|---|
//! | `seed` | the run's seed (required) | |
//! | `boot` | this boot's number, for the log and the workload's choices | 0 |
//! | `objects`, `max_size` | the object space ([`crate::content`]) | 200, 16384 |
//! | `keep` | the server's `max_snapshots` (0: no retention) | 0 |
//! | `next` | the number of the next generation to take | 1 |
//! | `committed` | generations that must restore byte for byte | `-` |
//! | `uncertain` | generations an operation was changing when the last boot was killed: each is complete or gone | `-` |
//! | `gone` | generations that must not exist (never committed, or purged) | `-` |
//! | `cycles` | workload cycles before the client exits; 0: until killed | 0 |
//! | `repair` | `yes`: an uncertain or gone generation whose archive is damaged (neither complete nor gone) is logged as an anomaly and purged by name, and the boot goes on; `no`: it fails the boot | `no` |
//!
//! Lists are `g=name` pairs separated by commas, `-` for none (HID has no
//! empty values). Names are the server's generation names, which only its
//! log tells.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::content::Space;

/// A generation the plan names: its number in the run and the server's
/// name for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    /// The run's generation number (what [`crate::content`] takes).
    pub g: u32,
    /// The server's name (`open_generation`, `purge`).
    pub name: String,
}

/// One boot's plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The object space.
    pub space: Space,
    /// This boot's number.
    pub boot: u32,
    /// The server's `max_snapshots`.
    pub keep: u32,
    /// The next generation's number.
    pub next: u32,
    /// Generations that must restore byte for byte.
    pub committed: Vec<Named>,
    /// Generations that are complete or gone.
    pub uncertain: Vec<Named>,
    /// Generations that must not exist.
    pub gone: Vec<Named>,
    /// Workload cycles, 0 = until killed.
    pub cycles: u32,
    /// Purge a damaged uncertain or gone generation and go on.
    pub repair: bool,
}

/// A config attribute the client cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError(pub String);

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

fn number<T: core::str::FromStr>(name: &str, value: &str) -> Result<T, PlanError> {
    value.trim().parse().map_err(|_| {
        PlanError(format!(
            "config attribute '{name}': '{value}' is not a number"
        ))
    })
}

/// Parses a list attribute (`g=name,g=name` or `-`).
pub fn parse_list(name: &str, value: &str) -> Result<Vec<Named>, PlanError> {
    let value = value.trim();
    if value == "-" || value.is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|pair| {
            let (g, gen_name) = pair.split_once('=').ok_or_else(|| {
                PlanError(format!("config attribute '{name}': '{pair}' is not g=name"))
            })?;
            let gen_name = gen_name.trim();
            if gen_name.is_empty() {
                return Err(PlanError(format!(
                    "config attribute '{name}': '{pair}' has no name"
                )));
            }
            Ok(Named {
                g: number(name, g)?,
                name: gen_name.to_string(),
            })
        })
        .collect()
}

/// Writes a list as [`parse_list`] reads it.
pub fn format_list<'a>(list: impl IntoIterator<Item = &'a Named>) -> String {
    let pairs: Vec<String> = list
        .into_iter()
        .map(|n| format!("{}={}", n.g, n.name))
        .collect();
    if pairs.is_empty() {
        "-".to_string()
    } else {
        pairs.join(",")
    }
}

impl Plan {
    /// A plan with no generations yet.
    pub fn new(space: Space) -> Plan {
        Plan {
            space,
            boot: 0,
            keep: 0,
            next: 1,
            committed: Vec::new(),
            uncertain: Vec::new(),
            gone: Vec::new(),
            cycles: 0,
            repair: false,
        }
    }

    /// The plan from the config's attributes (name, value).
    pub fn from_attributes<'a>(
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Plan, PlanError> {
        let mut seed = None;
        let mut plan = Plan::new(Space {
            seed: 0,
            objects: 200,
            max_size: 16384,
        });
        for (name, value) in attributes {
            match name {
                "seed" => seed = Some(number(name, value)?),
                "boot" => plan.boot = number(name, value)?,
                "objects" => plan.space.objects = number(name, value)?,
                "max_size" => plan.space.max_size = number(name, value)?,
                "keep" => plan.keep = number(name, value)?,
                "next" => plan.next = number(name, value)?,
                "committed" => plan.committed = parse_list(name, value)?,
                "uncertain" => plan.uncertain = parse_list(name, value)?,
                "gone" => plan.gone = parse_list(name, value)?,
                "cycles" => plan.cycles = number(name, value)?,
                "repair" => {
                    plan.repair = match value.trim() {
                        "yes" | "true" => true,
                        "no" | "false" => false,
                        _ => {
                            return Err(PlanError(format!(
                                "config attribute 'repair': '{value}' is not yes or no"
                            )))
                        }
                    }
                }
                _ => {}
            }
        }
        plan.space.seed =
            seed.ok_or_else(|| PlanError("config attribute 'seed' is missing".to_string()))?;
        if plan.next == 0 {
            return Err(PlanError(
                "config attribute 'next': generations count from 1".to_string(),
            ));
        }
        let listed = plan
            .committed
            .iter()
            .chain(&plan.uncertain)
            .chain(&plan.gone);
        if let Some(late) = listed.clone().find(|n| n.g == 0 || n.g >= plan.next) {
            return Err(PlanError(format!(
                "generation {} is listed but not below next={}",
                late.g, plan.next
            )));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_bad_ones_are_refused() {
        let list = parse_list("committed", "3=2026-11-26T13:31:16-00000003,5=x").unwrap();
        assert_eq!(
            list,
            [
                Named {
                    g: 3,
                    name: "2026-11-26T13:31:16-00000003".into()
                },
                Named {
                    g: 5,
                    name: "x".into()
                }
            ]
        );
        assert_eq!(format_list(&list), "3=2026-11-26T13:31:16-00000003,5=x");
        assert_eq!(parse_list("gone", " - ").unwrap(), []);
        assert_eq!(format_list(&[]), "-");
        assert!(parse_list("gone", "3").is_err());
        assert!(parse_list("gone", "x=name").is_err());
        assert!(parse_list("gone", "3=").is_err());
    }

    #[test]
    fn plan_needs_a_seed_and_generations_below_next() {
        let plan = Plan::from_attributes([
            ("seed", "7"),
            ("next", "6"),
            ("committed", "5=a"),
            ("keep", "4"),
            ("cycles", "1"),
        ])
        .unwrap();
        assert_eq!(plan.space.seed, 7);
        assert_eq!((plan.keep, plan.next, plan.cycles), (4, 6, 1));
        assert_eq!(plan.committed.len(), 1);

        let why = Plan::from_attributes([("next", "6")]).unwrap_err();
        assert!(why.0.contains("seed"), "{why}");
        let why =
            Plan::from_attributes([("seed", "1"), ("next", "5"), ("gone", "5=a")]).unwrap_err();
        assert!(why.0.contains("not below next=5"), "{why}");
        let why = Plan::from_attributes([("seed", "x")]).unwrap_err();
        assert!(why.0.contains("'seed'"), "{why}");
    }
}
