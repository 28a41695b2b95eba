//! `ovscript repl`: not built yet (issue 5).

use crate::engine::Runtime;
use crate::error::Error;

pub fn start(runtime: Runtime) -> Result<(), Error> {
    let _ = runtime;
    Err(Error::usage("the REPL is not built yet"))
}
