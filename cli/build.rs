//! `include_dir!` embeds `templates/` at compile time, but cargo only tracks
//! the files that existed at the last build; a new template file would not
//! trigger a rebuild without this.
fn main() {
    println!("cargo:rerun-if-changed=../templates");
}
