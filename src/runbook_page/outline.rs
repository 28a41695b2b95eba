//! A runbook as a reader follows it: steps, and what happens inside them that a person would do
//! by hand (a question, a recipe, a flag set for a while, a wait, a post), nested as in the
//! script, with the paths taken only on a condition or a failure.

/// One line of the page, and what is nested under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: Kind,
    /// What the line says (for `If`/`Unless`, the condition).
    pub text: String,
    /// The script's line it comes from (for a stdlib function, the script's call of it): where
    /// the script's `// Setup`-style comments put their headings.
    pub line: usize,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `step(title, ...)`: its title.
    Step,
    /// `check_step(title, ...)`: a step that runs again on `--resume`.
    Check,
    /// A stdlib function, with the first sentence of its doc comment.
    Call,
    /// Something done: a question, a recipe, a flag, a pause, a wait, a change, a post.
    Action,
    /// Only when the condition holds.
    If,
    /// Only when it does not.
    Unless,
    /// The other branch of an `If`.
    Otherwise,
    /// A loop, as `for each ...`.
    Loop,
    /// What happens when what comes before fails (`on_error`, `catch`).
    IfFails,
    /// What happens after what comes before, whatever happened (`always`).
    Finally,
}

impl Item {
    pub fn new(kind: Kind, text: impl Into<String>, line: usize, items: Vec<Item>) -> Item {
        Item {
            kind,
            text: text.into(),
            line,
            items,
        }
    }

    pub fn action(text: impl Into<String>, line: usize) -> Item {
        Item::new(Kind::Action, text, line, Vec::new())
    }

    pub fn is_step(&self) -> bool {
        matches!(self.kind, Kind::Step | Kind::Check)
    }

    /// Whether a step is this item or nested in it.
    pub fn holds_step(&self) -> bool {
        self.is_step() || self.items.iter().any(Item::holds_step)
    }
}

/// A branch as it reads: nothing when neither side does anything; `if`, `unless`, or `if` and
/// `otherwise`. `if a: if b: ...` reads `if a and b: ...`. `condition` is as shown (`` `x` ``).
pub fn branch(condition: &str, then: Vec<Item>, otherwise: Vec<Item>, line: usize) -> Vec<Item> {
    let condition = condition.to_string();
    match (then.is_empty(), otherwise.is_empty()) {
        (true, true) => Vec::new(),
        (true, false) => vec![Item::new(Kind::Unless, condition, line, otherwise)],
        (false, true) => {
            if let [inner] = then.as_slice() {
                if inner.kind == Kind::If {
                    let both = format!("{condition} and {}", inner.text);
                    return vec![Item::new(Kind::If, both, line, inner.items.clone())];
                }
            }
            vec![Item::new(Kind::If, condition, line, then)]
        }
        (false, false) => vec![
            Item::new(Kind::If, condition, line, then),
            Item::new(Kind::Otherwise, "", line, otherwise),
        ],
    }
}

/// `body`, then what happens if it fails: under its last step when it ends with one (that is
/// the step that fails), else after it.
pub fn with_handler(mut body: Vec<Item>, handler: Vec<Item>, line: usize) -> Vec<Item> {
    if handler.is_empty() {
        return body;
    }
    let fails = Item::new(Kind::IfFails, "", line, handler);
    match body.last_mut() {
        Some(last) if last.is_step() => last.items.push(fails),
        _ => body.push(fails),
    }
    body
}

/// The script's own sequence, as the page lists it: a stdlib function that holds steps at the
/// top (`deploy::announced(...)` around the deployment) is a frame, not a step of its own: its
/// items take its place.
pub fn flatten(items: Vec<Item>) -> Vec<Item> {
    let mut flat = Vec::new();
    for item in items {
        if item.kind == Kind::Call && item.items.iter().any(Item::holds_step) {
            flat.extend(flatten(item.items));
        } else {
            flat.push(item);
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(title: &str) -> Item {
        Item::new(Kind::Step, title, 1, Vec::new())
    }

    #[test]
    fn branches_read_as_a_person_says_them() {
        assert!(branch("`x`", vec![], vec![], 1).is_empty());
        let unless = branch("`--skip-staging`", vec![], vec![step("stage")], 1);
        assert_eq!(unless[0].kind, Kind::Unless);
        assert_eq!(unless[0].text, "`--skip-staging`");
        let inner = branch("`flag_set`", vec![Item::action("sets it", 1)], vec![], 1);
        let both = branch("`resuming`", inner, vec![], 1);
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].text, "`resuming` and `flag_set`");
        let two = branch("`a`", vec![step("x")], vec![step("y")], 1);
        assert_eq!(
            two.iter().map(|i| i.kind).collect::<Vec<_>>(),
            [Kind::If, Kind::Otherwise]
        );
    }

    #[test]
    fn a_failure_path_goes_under_the_step_that_fails() {
        let items = with_handler(vec![step("apply")], vec![Item::action("roll back", 1)], 1);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].items[0].kind, Kind::IfFails);
        let items = with_handler(
            vec![Item::action("x", 1)],
            vec![Item::action("roll back", 1)],
            1,
        );
        assert_eq!(items[1].kind, Kind::IfFails);
        assert_eq!(with_handler(vec![step("a")], vec![], 1), vec![step("a")]);
    }

    #[test]
    fn a_frame_around_steps_gives_way_to_them() {
        let frame = Item::new(
            Kind::Call,
            "`deploy::announced`",
            1,
            vec![Item::action("post", 1), step("deploy")],
        );
        let helper = Item::new(Kind::Call, "`deploy::x`", 1, vec![Item::action("a", 1)]);
        let flat = flatten(vec![frame, helper.clone()]);
        assert_eq!(flat, vec![Item::action("post", 1), step("deploy"), helper]);
    }
}
