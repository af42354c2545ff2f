mod validate;
fn main() { let a: Vec<String> = std::env::args().collect(); std::process::exit(validate::run(std::path::Path::new(&a[1]), a.len() > 2).unwrap()); }
