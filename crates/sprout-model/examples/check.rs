fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    match sprout_model::load_dockerrun(&path, &src) {
        Ok(l) => { println!("OK {} containers", l.dockerrun.container_definitions.len()); for w in l.warnings { println!("{w}"); } }
        Err(ds) => for d in ds { println!("{d}"); },
    }
}
