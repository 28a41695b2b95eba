fn main() {
    if let Err(code) = ovscript::run(std::env::args_os()) {
        std::process::exit(code);
    }
}
