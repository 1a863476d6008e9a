//! Per-TLD authority (issue 14, after IANA's 2022 model): which persons may act for a TLD,
//! in which groups, and how many of whose approvals each class of change needs. Pure: the
//! desk reads the TLD's authority from the database and hands it to the workflow in
//! [`super::Facts`]; each request keeps a snapshot of the rule it was submitted under.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::WorkflowError;

/// The classes of change a policy sets a rule for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeClass {
    /// Name servers or glue (and DS with them).
    Delegation,
    /// A delegation request that changes the DS set alone (key rollovers).
    Ds,
    Contacts,
    Sponsor,
    Transfer,
    /// A change of the authority itself: persons, groups, rules, special handling.
    Authority,
}

impl ChangeClass {
    pub const ALL: [ChangeClass; 6] = [
        ChangeClass::Delegation,
        ChangeClass::Ds,
        ChangeClass::Contacts,
        ChangeClass::Sponsor,
        ChangeClass::Transfer,
        ChangeClass::Authority,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Delegation => "delegation",
            ChangeClass::Ds => "ds",
            ChangeClass::Contacts => "contacts",
            ChangeClass::Sponsor => "sponsor",
            ChangeClass::Transfer => "transfer",
            ChangeClass::Authority => "authority",
        }
    }
}

impl fmt::Display for ChangeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may submit a class of change, and whose approvals it needs: "any `approvals` of the
/// authorised persons, at least `at_least[g]` of them from group `g`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// Groups whose members may submit; empty: every authorised person.
    #[serde(default)]
    pub submit: BTreeSet<String>,
    /// Distinct persons who must approve, in all.
    pub approvals: u32,
    /// Of those, at least this many from each group (a person in two groups counts for both).
    #[serde(default)]
    pub at_least: BTreeMap<String, u32>,
    /// Whether the submitter's own approval counts.
    #[serde(default = "yes")]
    pub submitter_counts: bool,
}

fn yes() -> bool {
    true
}

impl Default for ApprovalRule {
    /// Today's rule for every TLD: its administrative and its technical side both approve
    /// (one person holding both roles approves once).
    fn default() -> ApprovalRule {
        ApprovalRule {
            submit: BTreeSet::new(),
            approvals: 1,
            at_least: [("admin".to_string(), 1), ("tech".to_string(), 1)]
                .into_iter()
                .collect(),
            submitter_counts: true,
        }
    }
}

impl ApprovalRule {
    /// The rule in words, for pages and refusals.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} approval{}",
            self.approvals,
            if self.approvals == 1 { "" } else { "s" }
        );
        let groups: Vec<String> = self
            .at_least
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(g, n)| format!("{n} from {g}"))
            .collect();
        if !groups.is_empty() {
            text.push_str(&format!(", at least {}", groups.join(" and ")));
        }
        if !self.submitter_counts {
            text.push_str(", not counting the submitter");
        }
        text
    }
}

/// A TLD's approval policy: a rule per class of change; a class not listed has the default
/// rule ([`ApprovalRule::default`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub rules: BTreeMap<ChangeClass, ApprovalRule>,
}

impl Policy {
    /// The rule for `class`.
    pub fn rule(&self, class: ChangeClass) -> ApprovalRule {
        self.rules.get(&class).cloned().unwrap_or_default()
    }
}

/// Group names: lower-case letters, digits and '-', 1 to 32 characters.
pub fn valid_group(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A TLD's authority: its authorised persons with their groups, its policy, and whether its
/// changes need special handling (an out-of-band verification by staff).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// Person id -> groups.
    pub members: BTreeMap<String, BTreeSet<String>>,
    #[serde(default)]
    pub policy: Policy,
    /// The instructions for staff (e.g. "call the number on file"); `None`: no special
    /// handling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_handling: Option<String>,
}

impl Authority {
    /// Checks that every rule can be met by the members, so that no TLD locks itself out.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let invalid = |field: String, message: String| WorkflowError::Invalid { field, message };
        if self.members.is_empty() {
            return Err(invalid(
                "authority.members".into(),
                "authorise at least one person".into(),
            ));
        }
        for (person, groups) in &self.members {
            if groups.is_empty() {
                return Err(invalid(
                    format!("authority.members.{person}"),
                    "give each person at least one group (e.g. admin, tech)".into(),
                ));
            }
            if let Some(bad) = groups.iter().find(|g| !valid_group(g)) {
                return Err(invalid(
                    format!("authority.members.{person}"),
                    format!("{bad:?} is no group name: use 1-32 lower-case letters, digits, '-'"),
                ));
            }
        }
        if let Some(text) = &self.special_handling {
            if text.trim().is_empty() {
                return Err(invalid(
                    "authority.special_handling".into(),
                    "say what staff must verify, or leave it out".into(),
                ));
            }
        }
        for class in ChangeClass::ALL {
            let rule = self.policy.rule(class);
            let field = format!("authority.policy.rules.{class}");
            if rule.approvals == 0 {
                return Err(invalid(
                    field,
                    "a change needs at least one approval".into(),
                ));
            }
            if rule.approvals as usize > self.members.len() {
                return Err(invalid(
                    field,
                    format!(
                        "{} approvals asked but only {} persons are authorised",
                        rule.approvals,
                        self.members.len()
                    ),
                ));
            }
            for (group, needed) in &rule.at_least {
                let have = self.in_group(group).count();
                if (*needed as usize) > have {
                    return Err(invalid(
                        field,
                        format!(
                            "{needed} approvals from {group} asked but {group} has {have} persons"
                        ),
                    ));
                }
            }
            if let Some(group) = rule
                .submit
                .iter()
                .find(|g| self.in_group(g).next().is_none())
            {
                return Err(invalid(
                    field,
                    format!("submitters from {group} asked but nobody is in {group}"),
                ));
            }
        }
        Ok(())
    }

    /// The authority in lines of text: members, the rule of every class, special handling.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .members
            .iter()
            .map(|(person, groups)| {
                format!(
                    "authorised {person} ({})",
                    groups.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        for class in ChangeClass::ALL {
            let rule = self.policy.rule(class);
            let submit = if rule.submit.is_empty() {
                String::new()
            } else {
                format!(
                    "; submitted by {}",
                    rule.submit.iter().cloned().collect::<Vec<_>>().join(" or ")
                )
            };
            lines.push(format!("{class}: {}{submit}", rule.describe()));
        }
        lines.push(match &self.special_handling {
            Some(text) => format!("special handling: {text}"),
            None => "special handling: none".into(),
        });
        lines
    }

    fn in_group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.members
            .iter()
            .filter(move |(_, groups)| groups.contains(group))
            .map(|(person, _)| person)
    }

    /// The snapshot a request of `class` is judged by.
    pub fn approval_for(&self, class: ChangeClass) -> Approval {
        Approval {
            class,
            rule: self.policy.rule(class),
            members: self.members.clone(),
            special_handling: self.special_handling.is_some(),
        }
    }

    /// Whether `person` may submit a change of `class`.
    pub fn may_submit(&self, person: &str, class: ChangeClass) -> Result<(), String> {
        let Some(groups) = self.members.get(person) else {
            return Err(format!("{person} is not authorised for this TLD"));
        };
        let rule = self.policy.rule(class);
        if rule.submit.is_empty() || groups.iter().any(|g| rule.submit.contains(g)) {
            Ok(())
        } else {
            Err(format!(
                "the TLD's policy lets only {} submit {class} changes",
                rule.submit.iter().cloned().collect::<Vec<_>>().join(" or ")
            ))
        }
    }
}

/// What a request needs from the TLD's authorised persons: the rule and members as they were
/// when the revision was submitted (recorded in its event, so a later policy change does not
/// change what an open request needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub class: ChangeClass,
    pub rule: ApprovalRule,
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// Staff must verify the change out of band before it is implemented.
    #[serde(default)]
    pub special_handling: bool,
}

impl Approval {
    /// Whether `approvers` meet the rule, or what is still missing, in words.
    pub fn missing(&self, approvers: &BTreeSet<String>, submitter: Option<&str>) -> Option<String> {
        let counted: Vec<&BTreeSet<String>> = approvers
            .iter()
            .filter(|p| self.rule.submitter_counts || Some(p.as_str()) != submitter)
            .filter_map(|p| self.members.get(p))
            .collect();
        let mut missing = Vec::new();
        if (counted.len() as u32) < self.rule.approvals {
            missing.push(format!(
                "{} more approval{}",
                self.rule.approvals - counted.len() as u32,
                if self.rule.approvals - counted.len() as u32 == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        for (group, needed) in &self.rule.at_least {
            let have = counted.iter().filter(|g| g.contains(group)).count() as u32;
            if have < *needed {
                missing.push(format!("{} from {group}", needed - have));
            }
        }
        (!missing.is_empty()).then(|| missing.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        list.iter()
            .map(|(p, gs)| (p.to_string(), gs.iter().map(|g| g.to_string()).collect()))
            .collect()
    }

    fn set(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_default_rule_is_admin_and_tech() {
        let authority = Authority {
            members: members(&[("p-a", &["admin"]), ("p-t", &["tech"]), ("p-x", &["tech"])]),
            ..Authority::default()
        };
        authority.validate().expect("valid");
        let approval = authority.approval_for(ChangeClass::Delegation);
        assert_eq!(
            approval.missing(&set(&[]), None).as_deref(),
            Some("1 more approval, 1 from admin, 1 from tech")
        );
        assert_eq!(
            approval.missing(&set(&["p-t", "p-x"]), None).as_deref(),
            Some("1 from admin")
        );
        assert_eq!(approval.missing(&set(&["p-a", "p-t"]), None), None);
        // One person in both groups approves once for both.
        let both = Authority {
            members: members(&[("p-b", &["admin", "tech"])]),
            ..Authority::default()
        };
        assert_eq!(
            both.approval_for(ChangeClass::Contacts)
                .missing(&set(&["p-b"]), Some("p-b")),
            None
        );
    }

    #[test]
    fn n_of_m_with_a_group_minimum_counts_exactly() {
        let rule = ApprovalRule {
            submit: BTreeSet::new(),
            approvals: 2,
            at_least: [("tech".to_string(), 1)].into_iter().collect(),
            submitter_counts: false,
        };
        let authority = Authority {
            members: members(&[
                ("p-1", &["admin"]),
                ("p-2", &["admin"]),
                ("p-3", &["tech"]),
                ("p-4", &["tech"]),
            ]),
            policy: Policy {
                rules: [(ChangeClass::Delegation, rule)].into_iter().collect(),
            },
            special_handling: None,
        };
        authority.validate().expect("valid");
        let approval = authority.approval_for(ChangeClass::Delegation);
        // The submitter's own approval does not count.
        assert!(approval
            .missing(&set(&["p-1", "p-3"]), Some("p-1"))
            .is_some());
        // Two admins are two approvals but no tech.
        assert_eq!(
            approval
                .missing(&set(&["p-1", "p-2"]), Some("p-4"))
                .as_deref(),
            Some("1 from tech")
        );
        assert_eq!(approval.missing(&set(&["p-2", "p-3"]), Some("p-1")), None);
        // Approvals from persons not authorised do not count.
        assert!(approval
            .missing(&set(&["p-3", "p-9"]), Some("p-1"))
            .is_some());
        // Other classes keep the default.
        assert_eq!(
            authority.policy.rule(ChangeClass::Ds),
            ApprovalRule::default()
        );
    }

    #[test]
    fn a_policy_that_cannot_be_met_is_refused() {
        let mut authority = Authority {
            members: members(&[("p-1", &["admin"])]),
            ..Authority::default()
        };
        // The default rule asks for tech, and nobody is in tech.
        let refused = authority.validate().expect_err("no tech");
        assert!(
            refused.to_string().contains("tech has 0 persons"),
            "{refused}"
        );
        authority.members = members(&[("p-1", &["admin", "tech"])]);
        authority.validate().expect("valid");
        authority.members = members(&[("p-1", &["Admin"])]);
        assert!(authority.validate().is_err());
        authority.members = BTreeMap::new();
        assert!(authority.validate().is_err());
    }

    #[test]
    fn submitters_can_be_limited_to_a_group() {
        let authority = Authority {
            members: members(&[("p-a", &["admin"]), ("p-t", &["tech"])]),
            policy: Policy {
                rules: [(
                    ChangeClass::Sponsor,
                    ApprovalRule {
                        submit: set(&["admin"]),
                        ..ApprovalRule::default()
                    },
                )]
                .into_iter()
                .collect(),
            },
            special_handling: None,
        };
        assert!(authority.may_submit("p-a", ChangeClass::Sponsor).is_ok());
        assert!(authority.may_submit("p-t", ChangeClass::Sponsor).is_err());
        assert!(authority.may_submit("p-t", ChangeClass::Delegation).is_ok());
        assert!(authority
            .may_submit("p-z", ChangeClass::Delegation)
            .is_err());
    }
}
