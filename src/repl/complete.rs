//! Tab completion: host objects and their methods, stdlib modules and their functions, variables, commands, file names.

use rhai::{Dynamic, FnAccess, Map, Module};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::doc::HostFn;
use crate::engine::Runtime;

use super::*;

pub(super) fn module_functions(module: &Module) -> BTreeSet<Word> {
    module
        .iter_script_fn_info()
        .filter(|(_, access, ..)| *access == FnAccess::Public)
        .map(|(_, _, name, ..)| Word::call(name))
        .collect()
}

/// A word Tab can insert: a function gets its opening parenthesis, a module its `::`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Word {
    pub(super) text: String,
    pub(super) kind: WordKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum WordKind {
    Value,
    Call,
    Module,
}

impl Word {
    pub(super) fn value(text: &str) -> Word {
        Word {
            text: text.to_string(),
            kind: WordKind::Value,
        }
    }

    pub(super) fn call(text: &str) -> Word {
        Word {
            text: text.to_string(),
            kind: WordKind::Call,
        }
    }

    pub(super) fn module(text: &str) -> Word {
        Word {
            text: text.to_string(),
            kind: WordKind::Module,
        }
    }

    pub(super) fn pair(&self) -> Pair {
        let (display, replacement) = match self.kind {
            WordKind::Value => (self.text.clone(), self.text.clone()),
            WordKind::Call => (self.text.clone(), format!("{}(", self.text)),
            WordKind::Module => (format!("{}::", self.text), format!("{}::", self.text)),
        };
        Pair {
            display,
            replacement,
        }
    }
}

/// Everything Tab can offer, kept up to date after each line.
#[derive(Default)]
pub(super) struct Vocabulary {
    /// Methods of each host type, by the Rust type name of its values: what follows `airflow.`.
    pub(super) methods: HashMap<String, BTreeSet<Word>>,
    /// Plain host functions and the functions defined in this session.
    pub(super) functions: BTreeSet<Word>,
    /// The functions of each module: imported ones by alias, `stdlib/` ones by file name.
    pub(super) modules: BTreeMap<String, BTreeSet<Word>>,
    /// Variables, host objects included, with what may follow their dot (methods or map keys).
    pub(super) variables: BTreeMap<String, BTreeSet<Word>>,
    /// What `:doc` takes: objects, plain functions and `object.method`.
    pub(super) doc_names: BTreeSet<String>,
}

impl Vocabulary {
    pub(super) fn new(
        runtime: &Runtime,
        host_functions: &[HostFn],
        stdlib: &BTreeMap<String, PathBuf>,
    ) -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        let mut methods_of_object: BTreeMap<&str, BTreeSet<Word>> = BTreeMap::new();
        for f in host_functions {
            if f.object.is_empty() {
                vocabulary.functions.insert(Word::call(&f.name));
                vocabulary.doc_names.insert(f.name.clone());
            } else {
                methods_of_object
                    .entry(&f.object)
                    .or_default()
                    .insert(Word::call(&f.name));
                vocabulary.doc_names.insert(f.object.clone());
                vocabulary
                    .doc_names
                    .insert(format!("{}.{}", f.object, f.name));
            }
        }
        for (object, methods) in methods_of_object {
            if let Some(value) = runtime.objects.get(object) {
                vocabulary
                    .methods
                    .insert(value.type_name().to_string(), methods);
            }
        }
        let scope = runtime.objects.scope();
        for (name, file) in stdlib {
            let functions = std::fs::read_to_string(file)
                .ok()
                .and_then(|text| runtime.engine.compile_with_scope(&scope, text).ok())
                .map(|ast| {
                    ast.iter_functions()
                        .filter(|f| f.access == FnAccess::Public)
                        .map(|f| Word::call(f.name))
                        .collect()
                })
                .unwrap_or_default();
            vocabulary.modules.insert(name.clone(), functions);
        }
        vocabulary
    }

    pub(super) fn members_of(&self, value: &Dynamic) -> BTreeSet<Word> {
        if let Some(methods) = self.methods.get(value.type_name()) {
            return methods.clone();
        }
        value
            .read_lock::<Map>()
            .map(|map| map.keys().map(|key| Word::value(key)).collect())
            .unwrap_or_default()
    }

    /// For the text before the cursor: where the completed word starts, and the candidates.
    pub(super) fn complete(&self, before: &str) -> (usize, Vec<Pair>) {
        let trimmed = before.trim_start();
        if trimmed.starts_with(':') && !trimmed.contains('\n') {
            return self.complete_command(before);
        }
        let start = word_start(before);
        let (head, word) = before.split_at(start);
        let candidates: Vec<Word> = if let Some(receiver) = head.strip_suffix('.') {
            self.variables
                .get(last_word(receiver))
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else if let Some(module) = head.strip_suffix("::") {
            self.modules
                .get(last_word(module))
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else {
            let variables = self.variables.keys().map(|name| Word::value(name));
            let modules = self.modules.keys().map(|name| Word::module(name));
            let all: BTreeSet<Word> = variables
                .chain(modules)
                .chain(self.functions.iter().cloned())
                .collect();
            all.into_iter().collect()
        };
        let pairs = candidates
            .iter()
            .filter(|w| w.text.starts_with(word))
            .map(Word::pair)
            .collect();
        (start, pairs)
    }

    pub(super) fn complete_command(&self, before: &str) -> (usize, Vec<Pair>) {
        let trimmed = before.trim_start();
        let offset = before.len() - trimmed.len();
        let Some((command, argument)) = trimmed.split_once(char::is_whitespace) else {
            let commands = COMMANDS.iter().filter(|c| c.starts_with(trimmed));
            return (offset, commands.map(|c| command_pair(c)).collect());
        };
        if command != ":doc" {
            return (before.len(), Vec::new());
        }
        let argument = argument.trim_start();
        let names = self.doc_names.iter().filter(|n| n.starts_with(argument));
        (
            before.len() - argument.len(),
            names.map(|n| Word::value(n).pair()).collect(),
        )
    }
}

/// A command that takes an argument gets its space.
pub(super) fn command_pair(command: &str) -> Pair {
    let replacement = match command {
        ":doc" | ":load" => format!("{command} "),
        _ => command.to_string(),
    };
    Pair {
        display: command.to_string(),
        replacement,
    }
}

pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where the identifier that ends `text` starts.
pub(super) fn word_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .take_while(|(_, c)| is_word_char(*c))
        .last()
        .map_or(text.len(), |(i, _)| i)
}

pub(super) fn last_word(text: &str) -> &str {
    &text[word_start(text)..]
}

/// The editor's helper: completion from the vocabulary (file names after `:load`), and the
/// validator that keeps unfinished input open.
#[derive(rustyline::Helper, rustyline::Hinter, rustyline::Highlighter)]
pub(super) struct LineHelper {
    pub(super) syntax: Syntax,
    pub(super) vocabulary: Arc<Mutex<Vocabulary>>,
    pub(super) files: FilenameCompleter,
}

impl LineHelper {
    pub(super) fn new(vocabulary: Arc<Mutex<Vocabulary>>) -> LineHelper {
        LineHelper {
            syntax: Syntax::new(),
            vocabulary,
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for LineHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let loading = before
            .trim_start()
            .strip_prefix(":load")
            .is_some_and(|rest| rest.starts_with(char::is_whitespace));
        if loading {
            return self.files.complete(line, pos, ctx);
        }
        Ok(lock(&self.vocabulary).complete(before))
    }
}

impl Validator for LineHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if self.syntax.is_unfinished(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}
