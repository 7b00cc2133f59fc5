//! `embed_migrations!` includes the migration files it found when the crate was compiled; a
//! new migration folder alone would not rebuild it, and `techx migrate` would miss it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
