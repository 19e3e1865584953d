include!("../../build_support/rpath.rs");
